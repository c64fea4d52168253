import ArgumentParser
import Foundation
import ParleyCore

struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks (build with -c release): routing, workflow, fill, sqlite, store, reads.",
        subcommands: [RoutingBench.self, WorkflowBench.self, FillBench.self, SQLiteBench.self, StoreBench.self, ReadsBench.self])

    struct RoutingBench: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "routing",
            abstract: "Time one routing decision for a message against growing numbers of keyword rules.")
        @Option(help: "Rule counts to measure.") var rules: [Int] = [10, 100, 1000, 10000]
        @Option(help: "Message size in bytes.") var bytes = 2048
        @Option(help: "Decisions timed per rule count.") var iterations = 2000

        func run() throws {
            var generator = SplitMix(seed: 42)
            let syllables = ["ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ze", "pa", "qu", "da", "fe", "gi", "ho", "ju"]
            // Message words have three syllables, keywords four: a message mentions the one keyword planted
            // in it, as a real message mentions few of the configured keywords.
            func word(_ length: Int = 3) -> String {
                (0..<length).map { _ in syllables[Int(generator.next() % UInt64(syllables.count))] }.joined()
            }
            var text = ""
            while text.utf8.count < bytes - 40 { text += word() + (generator.next() % 9 == 0 ? ". " : " ") }
            let title = "Question about " + word()
            print("routing decision, \(bytes)-byte message, \(iterations) decisions each (release build expected)")
            print("rules\tkeywords\tcompile ms\tmean µs\tp99 µs\tmatched")
            for count in rules {
                var rules = (0..<count).map { index in
                    RoutingConfiguration.Rule(id: "rule-\(index)", keywords: [word(4), word(4) + " " + word(4), "zz\(index)"],
                                              owner: "DEVU-\(index % 50 + 1)")
                }
                let planted = rules[count - 1].keywords[1]
                rules[count - 1].keywords[1] = planted
                let message = text + " " + planted
                let configuration = RoutingConfiguration(rules: rules)
                let started = ContinuousClock.now
                let engine = try RoutingEngine(configuration, version: 1)
                let compile = started.duration(to: .now)
                var samples: [Double] = []
                samples.reserveCapacity(iterations)
                var matched = 0
                for _ in 0..<iterations {
                    let start = ContinuousClock.now
                    let decision = RoutingDecision.decide(RoutingRequest(title: title, body: message, channel: "widget", orgDefaultOwner: 1),
                                                          engine: engine, policy: PriorityPolicy(), at: Date())
                    samples.append(Double(start.duration(to: .now).components.attoseconds) / 1e12)
                    if decision.record.reason == .rule { matched += 1 }
                }
                samples.sort()
                let mean = samples.reduce(0, +) / Double(samples.count)
                let p99 = samples[min(samples.count - 1, samples.count * 99 / 100)]
                let ms = Double(compile.components.seconds) * 1000 + Double(compile.components.attoseconds) / 1e15
                print("\(count)\t\(count * 3)\t\(String(format: "%.1f", ms))\t\(String(format: "%.1f", mean))\t\(String(format: "%.1f", p99))\t\(matched > 0 ? "yes" : "no")")
            }
        }
    }
}

/// A small deterministic generator, so every run measures the same rules and text.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
