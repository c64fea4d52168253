import ArgumentParser
import Foundation
import ParleyApp
import ParleyCore
import ParleyServer
import ParleySQLite
import ParleyStore

struct Routing: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check, explain and try out routing rules without changing anything.",
        subcommands: [Check.self, Explain.self, Simulate.self])

    static func load(_ file: String) throws -> RoutingEngine {
        let json: String
        do { json = try String(contentsOfFile: file, encoding: .utf8) } catch {
            throw ValidationError("cannot read \(file)")
        }
        do {
            return try RoutingConfigurationLoader.compile(json: json).1
        } catch {
            FileHandle.standardError.write(Data("\(file): \(error.message)\n".utf8))
            throw ExitCode(1)
        }
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Validate a routing file and print the compiled rules.")
        @Argument(help: "Routing rules (JSON).") var file: String

        func run() throws {
            let engine = try Routing.load(file)
            print("\(file): \(engine.rules.count) rules, \(engine.rules.reduce(0) { $0 + $1.keywords.count }) keywords, valid.")
            for (index, rule) in engine.rules.enumerated() {
                var target: [String] = []
                if let owner = rule.owner { target.append("owner DEVU-\(owner)") }
                if let group = rule.group { target.append("group GROUP-\(group)") }
                if let priority = rule.priority { target.append("priority \(priority.rawValue)") }
                let fields = [rule.inTitle ? "title" : nil, rule.inBody ? "body" : nil].compactMap { $0 }.joined(separator: "+")
                print("  \(index + 1). \(rule.id): \(rule.matchAll ? "all of" : "any of") \(rule.keywords.map { "'\($0)'" }.joined(separator: ", ")) in \(fields) → \(target.joined(separator: ", "))")
            }
            if engine.fallbackOwner != nil || engine.fallbackGroup != nil {
                print("  fallback → \([engine.fallbackOwner.map { "owner DEVU-\($0)" }, engine.fallbackGroup.map { "group GROUP-\($0)" }].compactMap { $0 }.joined(separator: ", "))")
            }
        }
    }

    struct Explain: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Say which owner, group and priority a conversation would get, and why.")
        @Argument(help: "Routing rules (JSON).") var file: String
        @Option var title = ""
        @Option var body = ""
        @Option(help: "The customer's email: with --db, identifies their org by its email domains.") var email: String?
        @Option(help: "Channel (widget, email, api, …).") var channel = "widget"
        @Option(name: .customLong("db"), help: "A Parley database, to look up the customer's org and its default owner.") var database: String?

        func run() async throws {
            let engine = try Routing.load(file)
            let explanation: RoutingExplanation
            if let database {
                explanation = try await StoreOpening.using(.sqlite(path: database)) { store in
                    try await ParleyApp(store: store, clock: SystemClock()).explainRouting(engine, title: title, body: body, email: email,
                                                                                          channel: channel)
                }
            } else {
                let request = RoutingRequest(title: title, body: body, channel: channel)
                explanation = RoutingExplanation(decision: RoutingDecision.decide(request, engine: engine, policy: PriorityPolicy(), at: Date()),
                                                 account: nil)
            }
            let decision = explanation.decision
            let orgText = explanation.account.map {
                "\($0.displayName) (\($0.id.displayID), default owner \($0.defaultOwner.map { "DEVU-\($0)" } ?? "none"))"
            } ?? "unidentified org"
            print("org:      \(orgText)")
            print("owner:    \(decision.owners.map { "DEVU-\($0)" }.joined(separator: ", ").nonEmpty ?? "unassigned")")
            print("group:    \(decision.group.map { "GROUP-\($0)" } ?? "none")")
            print("priority: \(decision.priority.rawValue) (\(decision.record.priorityReason ?? ""))")
            print("why:      \(decision.record.summary)")
        }
    }

    struct Simulate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Replay the stored conversations through a proposed routing file and count who would get what. Changes nothing.")
        @Argument(help: "Proposed routing rules (JSON).") var file: String
        @Option(name: .customLong("db"), help: "The Parley database to read.") var database = "./parley.sqlite"

        func run() async throws {
            let engine = try Routing.load(file)
            let simulation = try await StoreOpening.using(.sqlite(path: database)) { store in
                try await ParleyApp(store: store, clock: SystemClock()).simulateRouting(engine, limit: .max)
            }
            print("\(simulation.replayed) conversations replayed through \(file); \(simulation.changed) would go to a different owner.")
            func owners(_ numbers: [Int]) -> String { numbers.map { "DEVU-\($0)" }.joined(separator: ",").nonEmpty ?? "unassigned" }
            for move in simulation.moves { print("  \(move.count)\t\(owners(move.from)) → \(owners(move.to)) (\(move.why.summary))") }
        }
    }
}

extension String {
    var nonEmpty: String? { isEmpty ? nil : self }
}
