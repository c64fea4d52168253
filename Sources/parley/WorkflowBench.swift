import ArgumentParser
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

/// A load generator for a running server: C concurrent clients play the support workflow (a customer
/// opens a conversation, an agent replies, the customer replies, the agent resolves), for a duration or a
/// number of workflows; then, on their own, the agent's first inbox page (`needs_response`, by priority then
/// longest waiting), a conversation of 50 messages with its timeline and a full-text search are timed.
struct WorkflowBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workflow",
        abstract: "Drive a running server through the support workflow and report throughput and latencies.")

    @Option(help: "The server's base URL.") var url = "http://127.0.0.1:8080"
    @Option(help: "Another server on the same database (repeatable): the workflow's clients are spread over --url and these in turn, as a load balancer would spread them; setup and the reads go to --url.") var alsoURL: [String] = []
    @Option(help: "An admin token of that server.") var token: String
    @Option(help: "Concurrent clients.") var concurrency = 8
    @Option(help: "Seconds to run the workflow (unless --workflows is given).") var seconds = 10.0
    @Option(help: "Run exactly this many workflows instead of for --seconds (as the peer's workload.py -n does).") var workflows: Int?
    @Option(help: "Timed reads of each kind (inbox page, conversation + timeline, search) after the workflows.") var reads = 200
    @Option(help: "Concurrent clients for the reads.") var readConcurrency = 1
    @Option(help: "Messages in the conversation whose timeline is read.") var timelineMessages = 50
    @Option(help: "Words the timed full-text search looks for (conversations.list `search`, as an agent).") var search = "refund"
    @Option(help: "Phases to run, of: ceiling, workflow, reads. `ceiling` measures the fixed cost of a request: GET /health (HTTP and routing alone), then dev-users.self (plus a bearer token and one point read), C clients for --seconds each.") var phases = "workflow,reads"
    @Option(help: "The server's process id, to report its CPU time and peak memory (Linux /proc).") var pid: Int?
    @Option(help: "Live event streams (GET /events.stream, as the admin) held open during the workflow, as open inboxes hold them; reports whether each received every event.") var streams = 0

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Latencies per request kind, errors and completed workflows, from every client.
    final class Recorder: Sendable {
        private struct State {
            var samples: [String: [Double]] = [:]
            var errors: [String: Int] = [:]
            var workflows = 0
            var started = 0
        }

        private let state = Mutex(State())

        func record(_ kind: String, _ seconds: Double) { state.withLock { $0.samples[kind, default: []].append(seconds) } }
        func fail(_ kind: String) { state.withLock { $0.errors[kind, default: 0] += 1 } }
        func completed() { state.withLock { $0.workflows += 1 } }
        /// Claims one of `limit` workflows; false once all are claimed.
        func claimWorkflow(of limit: Int) -> Bool {
            state.withLock { state in
                guard state.started < limit else { return false }
                state.started += 1
                return true
            }
        }
        var snapshot: ([String: [Double]], [String: Int], Int) { state.withLock { ($0.samples, $0.errors, $0.workflows) } }
    }

    func run() async throws {
        try await measure(servers: try ([url] + alsoURL).map(Self.server))
    }

    /// The host and port of a server's base URL given on the command line.
    static func server(_ url: String) throws -> (host: String, port: Int) {
        guard let target = URL(string: url), target.scheme == "http", let host = target.host else {
            throw ValidationError("--url and --also-url must be http://HOST[:PORT] (the load generator speaks plain HTTP/1.1)")
        }
        return (host, target.port ?? 80)
    }

    /// POSTs `body` (JSON text) to `/path` on `connection`; returns the answer's body, unparsed (the load
    /// generator shares the machine's CPU with the server, so it parses only the answers it reads), and the
    /// seconds it took. An answer other than 2xx throws.
    static func call(_ connection: BenchConnection, _ path: String, _ body: String, token: String) async throws -> (body: ByteBuffer, seconds: Double) {
        let start = ContinuousClock.now
        let response = try await connection.post("/" + path, body: body, token: token)
        let seconds = Self.seconds(start.duration(to: .now))
        guard (200..<300).contains(response.status) else {
            throw Failure(description: "\(path): HTTP \(response.status) \(String(buffer: response.body).prefix(200))")
        }
        return (response.body, seconds)
    }

    /// The id of the conversation `conversations.create` answered with: the one string in the answer that is a
    /// conversation's DON (the people in it have other DONs), found without parsing the whole answer.
    static func conversationID(in body: ByteBuffer) -> String? {
        let bytes = body.readableBytesView
        let marker = Array(":conversation/".utf8)
        guard let found = bytes.firstRange(of: marker) else { return nil }
        guard let open = bytes[..<found.lowerBound].lastIndex(of: UInt8(ascii: "\"")),
              let close = bytes[found.upperBound...].firstIndex(of: UInt8(ascii: "\"")) else { return nil }
        return String(decoding: bytes[bytes.index(after: open)..<close], as: UTF8.self)
    }

    /// JSON text of `object` (setup requests; the timed ones are written as text).
    static func json(_ object: [String: Any]) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
    }

    /// Creates the agent, org and customers the clients act as (through one setup connection to the first
    /// server, which also takes the ceiling, the streams and the reads), then runs the phases; the workflow's
    /// clients take the servers in turn.
    func measure(servers: [(host: String, port: Int)]) async throws {
        let (host, port) = servers[0]
        let base = url, admin = token
        var setup = try await BenchConnection.connect(host: host, port: port)
        defer { Task { [setup] in await setup.close() } }
        // The setup connection sits idle through the workflow phase, longer than the server's idle timeout
        // in a long run: a request that finds it closed goes again on a new one (it was never sent).
        func post(_ path: String, _ body: [String: Any], token: String = admin) async throws -> [String: Any] {
            let text = try Self.json(body)
            let answer: ByteBuffer
            do {
                answer = try await Self.call(setup, path, text, token: token).body
            } catch let failure as BenchConnection.Failure where failure.notSent {
                setup = try await BenchConnection.connect(host: host, port: port)
                answer = try await Self.call(setup, path, text, token: token).body
            }
            return (try? JSONSerialization.jsonObject(with: Data(answer.readableBytesView))) as? [String: Any] ?? [:]
        }
        // One agent owning one customer org; one customer per client.
        let run = UUID().uuidString.prefix(6)
        let agent = ((try await post("dev-users.create", ["email": "bench-\(run)@agents.test"]))["dev_user"] as? [String: Any])?["id"] as? String ?? ""
        let agentToken = try await post("auth-tokens.create", ["act_as": agent])["access_token"] as? String ?? ""
        let account = ((try await post("accounts.create", ["display_name": "Bench \(run)", "owned_by": [agent]]))["account"] as? [String: Any])?["id"] as? String ?? ""
        let org = ((try await post("rev-orgs.get", ["account": account]))["rev_org"] as? [String: Any])?["id"] as? String ?? ""
        var customers: [String] = []
        for index in 0..<concurrency {
            let user = ((try await post("rev-users.create", ["display_name": "Customer \(index)", "rev_org": org]))["rev_user"] as? [String: Any])?["id"] as? String ?? ""
            customers.append(try await post("auth-tokens.create", ["requested_token_type": "urn:devrev:params:oauth:token-type:session",
                                                                   "rev_info": ["user_id": user]])["access_token"] as? String ?? "")
        }
        let phaseList = Set(phases.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        let recorder = Recorder()
        var report: [String] = []
        if phaseList.contains("ceiling") {
            try await measureCeiling(host: host, port: port, agentToken: agentToken, recorder: recorder, report: &report)
        }
        if phaseList.contains("workflow") {
            var openStreams: [BenchStream] = []
            for _ in 0..<streams { openStreams.append(try await BenchStream.open(host: host, port: port, token: admin)) }
            let machine = CPUAccount(server: pid)
            let limit = workflows
            let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
            /// Whether another workflow should start: by count or by time.
            @Sendable func another() -> Bool {
                guard let limit else { return ContinuousClock.now < deadline }
                return recorder.claimWorkflow(of: limit)
            }
            let started = ContinuousClock.now
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, customer) in customers.enumerated() {
                    let (host, port) = servers[index % servers.count]
                    group.addTask {
                        var connection = try await BenchConnection.connect(host: host, port: port)
                        while another() {
                            do {
                                let created = try await Self.call(connection, "conversations.create",
                                    #"{"type":"support","title":"Bench conversation","messages":[{"body":"It does not work"}]}"#, token: customer)
                                recorder.record("create", created.seconds)
                                guard let id = Self.conversationID(in: created.body) else {
                                    throw Failure(description: "conversations.create: no conversation id in \(String(buffer: created.body).prefix(200))")
                                }
                                recorder.record("agent reply", try await Self.call(connection, "timeline-entries.create",
                                    #"{"type":"timeline_comment","object":"\#(id)","body":"Which version?"}"#, token: agentToken).seconds)
                                recorder.record("customer reply", try await Self.call(connection, "timeline-entries.create",
                                    #"{"type":"timeline_comment","object":"\#(id)","body":"2.3"}"#, token: customer).seconds)
                                recorder.record("resolve", try await Self.call(connection, "conversations.update",
                                    #"{"id":"\#(id)","stage":{"name":"resolved"},"tags":{"add":[{"id":"Resolution","value":"fixed"}]}}"#,
                                    token: agentToken).seconds)
                                recorder.completed()
                            } catch {
                                recorder.fail("workflow")
                                await connection.close()
                                connection = try await BenchConnection.connect(host: host, port: port)
                            }
                        }
                        await connection.close()
                    }
                }
                try await group.waitForAll()
            }
            let wall = Self.seconds(started.duration(to: .now))
            let (samples, errors, done) = recorder.snapshot
            let requests = ["create", "agent reply", "customer reply", "resolve"].reduce(0) { $0 + (samples[$1]?.count ?? 0) }
            report.append("workflow phase: \(concurrency) clients, \(String(format: "%.1f", wall)) s against \(([base] + alsoURL).joined(separator: ", "))")
            report.append("workflows/s \(String(format: "%.1f", Double(done) / wall))   requests/s \(String(format: "%.1f", Double(requests) / wall))   workflows \(done)   errors \(errors.values.reduce(0, +))")
            report.append(machine.summary(requests: requests))
            if done == 0 { throw Failure(description: "no workflow completed") }
            if !openStreams.isEmpty {
                // Caught up: every stream at the same last event, unchanged for 250 ms (waited for up to 10 s).
                var settled = 0, previous: [Int] = []
                let waitStarted = ContinuousClock.now
                while settled < 5, waitStarted.duration(to: .now) < .seconds(10) {
                    let last = openStreams.map(\.current.lastID)
                    settled = last == previous && Set(last).count == 1 ? settled + 1 : 0
                    previous = last
                    try await Task.sleep(for: .milliseconds(50))
                }
                let counts = openStreams.map(\.current)
                let newest = counts.map(\.lastID).max() ?? 0
                let caughtUp = Self.seconds(started.duration(to: .now)) - wall - 0.25
                report.append("streams: \(counts.count) open during the workflow, events received \(counts.map(\.events).min() ?? 0)–\(counts.map(\.events).max() ?? 0), "
                    + "\(counts.filter { $0.lastID >= newest }.count) up to the last event (\(newest)), "
                    + (settled >= 5 ? "all \(String(format: "%.2f", max(caughtUp, 0))) s after the workflows ended" : "still moving after 10 s"))
                for stream in openStreams { await stream.close() }
            }
        }
        if phaseList.contains("reads") {
            // The conversation read: a customer's conversation with `timelineMessages` messages, alternating
            // customer and agent, as a long support thread is.
            let probe = try await post("conversations.create", ["type": "support", "title": "Timeline probe",
                                                                "messages": [["body": "Message 1 of the probe"]]], token: customers[0])
            let probeID = (probe["conversation"] as? [String: Any])?["id"] as? String ?? ""
            for index in 1..<max(1, timelineMessages) {
                _ = try await post("timeline-entries.create", ["type": "timeline_comment", "object": probeID,
                                                               "body": "Message \(index + 1) of the probe, a reply of ordinary length."],
                                   token: index % 2 == 1 ? agentToken : customers[0])
            }
            let machine = CPUAccount(server: pid)
            let started = ContinuousClock.now
            let count = reads
            let searchWords = search
            let perClient = (count + readConcurrency - 1) / max(readConcurrency, 1)
            let inbox = #"{"stage":{"name":["needs_response"]},"sort_by":["priority:asc"],"limit":50}"#
            let conversation = try Self.json(["id": probeID]), timeline = try Self.json(["object": probeID, "limit": 100])
            let searching = try Self.json(["search": searchWords, "limit": 50])
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<max(readConcurrency, 1) {
                    group.addTask {
                        let connection = try await BenchConnection.connect(host: host, port: port)
                        for _ in 0..<perClient {
                            recorder.record("inbox page", try await Self.call(connection, "conversations.list", inbox, token: agentToken).seconds)
                            recorder.record("conversation + timeline", try await Self.call(connection, "conversations.get", conversation, token: agentToken).seconds
                                + (try await Self.call(connection, "timeline-entries.list", timeline, token: agentToken).seconds))
                            recorder.record("search", try await Self.call(connection, "conversations.list", searching, token: agentToken).seconds)
                        }
                        await connection.close()
                    }
                }
                try await group.waitForAll()
            }
            let wall = Self.seconds(started.duration(to: .now))
            report.append("read phase: \(readConcurrency) clients, \(perClient * max(readConcurrency, 1)) of each read in \(String(format: "%.1f", wall)) s; timeline of \(timelineMessages) messages; search '\(searchWords)'")
            report.append(machine.summary(requests: perClient * max(readConcurrency, 1) * 4))
        }
        let (samples, _, _) = recorder.snapshot
        for line in report { print(line) }
        print("kind\tcount\tp50 ms\tp90 ms\tp99 ms\tmax ms")
        for kind in ["GET /health", "dev-users.self", "create", "agent reply", "customer reply", "resolve", "inbox page", "conversation + timeline", "search"] {
            let sorted = (samples[kind] ?? []).sorted()
            guard !sorted.isEmpty else { continue }
            func ms(_ q: Double) -> String { String(format: "%.2f", sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))] * 1000) }
            print("\(kind)\t\(sorted.count)\t\(ms(0.5))\t\(ms(0.9))\t\(ms(0.99))\t\(String(format: "%.2f", sorted.last! * 1000))")
        }
        if let pid { print("server peak rss \(Self.peakMemory(pid) ?? "?")") }
    }

    /// The ceiling phase: what requests cost with nothing to decide or write, the same clients and connections
    /// as the workflow. No handler does less than these two, so their requests/s bound any workflow's.
    func measureCeiling(host: String, port: Int, agentToken: String, recorder: Recorder, report: inout [String]) async throws {
        let kinds: [(name: String, call: @Sendable (BenchConnection) async throws -> Void)] = [
            ("GET /health", { connection in
                let response = try await connection.get("/health")
                guard response.status == 200 else { throw Failure(description: "GET /health: HTTP \(response.status)") }
            }),
            ("dev-users.self", { connection in _ = try await Self.call(connection, "dev-users.self", "{}", token: agentToken) }),
        ]
        for kind in kinds {
            let machine = CPUAccount(server: pid)
            let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
            let started = ContinuousClock.now
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<concurrency {
                    group.addTask {
                        let connection = try await BenchConnection.connect(host: host, port: port)
                        while ContinuousClock.now < deadline {
                            let start = ContinuousClock.now
                            try await kind.call(connection)
                            recorder.record(kind.name, Self.seconds(start.duration(to: .now)))
                        }
                        await connection.close()
                    }
                }
                try await group.waitForAll()
            }
            let wall = Self.seconds(started.duration(to: .now))
            let count = recorder.snapshot.0[kind.name]?.count ?? 0
            report.append("ceiling phase, \(kind.name): \(concurrency) clients, \(String(format: "%.1f", wall)) s, requests/s \(String(format: "%.1f", Double(count) / wall))")
            report.append(machine.summary(requests: count))
        }
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// CPU seconds used during a phase by the server, by this load generator, and by every other process on
    /// the machine (the machine is shared: other work there slows the server down).
    struct CPUAccount {
        var server: Int?
        var serverBefore: Double?
        var selfBefore: Double?
        var machineBefore: Double?
        var started = ContinuousClock.now

        init(server: Int?) {
            self.server = server
            serverBefore = server.flatMap(WorkflowBench.cpuSeconds)
            selfBefore = WorkflowBench.cpuSeconds(Int(getpid()))
            machineBefore = WorkflowBench.machineBusySeconds()
        }

        func summary(requests: Int) -> String {
            let wall = WorkflowBench.seconds(started.duration(to: .now))
            let serverUsed = server.flatMap(WorkflowBench.cpuSeconds).flatMap { after in serverBefore.map { after - $0 } }
            let selfUsed = WorkflowBench.cpuSeconds(Int(getpid())).flatMap { after in selfBefore.map { after - $0 } } ?? 0
            let machineUsed = WorkflowBench.machineBusySeconds().flatMap { after in machineBefore.map { after - $0 } }
            var parts: [String] = []
            if let serverUsed {
                parts.append(String(format: "server cpu %.2f s (%.3f ms/request)", serverUsed, serverUsed / Double(max(requests, 1)) * 1000))
            }
            parts.append(String(format: "load generator cpu %.2f s", selfUsed))
            if let machineUsed {
                let cores = Double(ProcessInfo.processInfo.activeProcessorCount)
                parts.append(String(format: "other processes cpu %.2f s (machine %.0f%% busy over %.1f s)",
                                    max(0, machineUsed - (serverUsed ?? 0) - selfUsed), 100 * machineUsed / (wall * cores), wall))
            }
            return parts.joined(separator: "   ")
        }
    }

    /// CPU seconds the whole machine has been busy (all cores), from /proc/stat.
    static func machineBusySeconds() -> Double? {
        guard let stat = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
              let line = stat.split(separator: "\n").first(where: { $0.hasPrefix("cpu ") }) else { return nil }
        let fields = line.split(separator: " ").dropFirst().compactMap { Double($0) }
        guard fields.count >= 8 else { return nil }
        // user nice system idle iowait irq softirq steal: busy is all but idle and iowait.
        return (fields[0] + fields[1] + fields[2] + fields[5] + fields[6] + fields[7]) / 100
    }

    static func cpuSeconds(_ pid: Int) -> Double? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / 100
    }

    static func peakMemory(_ pid: Int) -> String? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        return status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") }.map { $0.dropFirst(6).trimmingCharacters(in: .whitespaces) }
    }
}
