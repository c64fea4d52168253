import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

/// A load generator for a running server: C concurrent clients play the support workflow (a customer
/// opens a conversation, an agent replies, the customer replies, the agent resolves) for a duration,
/// then the agent's first inbox page and a conversation with its timeline are timed on their own.
struct WorkflowBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workflow",
        abstract: "Drive a running server through the support workflow and report throughput and latencies.")

    @Option(help: "The server's base URL.") var url = "http://127.0.0.1:8080"
    @Option(help: "An admin token of that server.") var token: String
    @Option(help: "Concurrent clients.") var concurrency = 8
    @Option(help: "Seconds to run the workflow.") var seconds = 10.0
    @Option(help: "The server's process id, to report its CPU time and peak memory (Linux /proc).") var pid: Int?

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Latencies per request kind, errors and completed workflows, from every client.
    final class Recorder: Sendable {
        private struct State {
            var samples: [String: [Double]] = [:]
            var errors: [String: Int] = [:]
            var workflows = 0
        }

        private let state = Mutex(State())

        func record(_ kind: String, _ seconds: Double) { state.withLock { $0.samples[kind, default: []].append(seconds) } }
        func fail(_ kind: String) { state.withLock { $0.errors[kind, default: 0] += 1 } }
        func completed() { state.withLock { $0.workflows += 1 } }
        var snapshot: ([String: [Double]], [String: Int], Int) { state.withLock { ($0.samples, $0.errors, $0.workflows) } }
    }

    func run() async throws {
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            try await measure(client)
            try await client.shutdown()
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    /// POSTs `body` to `/path`; returns the decoded JSON object and the seconds it took.
    static func call(_ client: HTTPClient, _ base: String, _ path: String, _ body: [String: Any], token: String) async throws -> ([String: Any], Double) {
        var request = HTTPClientRequest(url: "\(base)/\(path)")
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: Array(try JSONSerialization.data(withJSONObject: body))))
        let start = ContinuousClock.now
        let response = try await client.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 16 << 20)
        let elapsed = start.duration(to: .now)
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        guard (200..<300).contains(response.status.code) else {
            throw Failure(description: "\(path): HTTP \(response.status.code) \(String(buffer: bytes).prefix(200))")
        }
        let object = (try? JSONSerialization.jsonObject(with: Data(bytes.readableBytesView))) as? [String: Any] ?? [:]
        return (object, seconds)
    }

    func measure(_ client: HTTPClient) async throws {
        let base = url, admin = token
        func post(_ path: String, _ body: [String: Any], token: String = admin) async throws -> [String: Any] {
            try await Self.call(client, base, path, body, token: token).0
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
        let cpuBefore = pid.flatMap(Self.cpuSeconds)
        let recorder = Recorder()
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        let started = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for customer in customers {
                group.addTask {
                    while ContinuousClock.now < deadline {
                        do {
                            let (created, t1) = try await Self.call(client, base, "conversations.create",
                                ["type": "support", "title": "Bench conversation", "messages": [["body": "It does not work"]]], token: customer)
                            recorder.record("create", t1)
                            let id = (created["conversation"] as? [String: Any])?["id"] as? String ?? ""
                            recorder.record("agent reply", try await Self.call(client, base, "timeline-entries.create",
                                ["type": "timeline_comment", "object": id, "body": "Which version?"], token: agentToken).1)
                            recorder.record("customer reply", try await Self.call(client, base, "timeline-entries.create",
                                ["type": "timeline_comment", "object": id, "body": "2.3"], token: customer).1)
                            recorder.record("resolve", try await Self.call(client, base, "conversations.update",
                                ["id": id, "stage": ["name": "resolved"], "tags": ["add": [["id": "Resolution", "value": "fixed"]]]], token: agentToken).1)
                            recorder.completed()
                        } catch {
                            recorder.fail("workflow")
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        let elapsed = started.duration(to: .now)
        let wall = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let cpuAfter = pid.flatMap(Self.cpuSeconds)
        // Reads on their own: the inbox's first page, and one conversation with its timeline.
        let inbox = try await post("conversations.create", ["type": "support", "title": "Inbox probe"], token: customers[0])
        let probe = (inbox["conversation"] as? [String: Any])?["id"] as? String ?? ""
        for _ in 0..<200 {
            recorder.record("inbox page", try await Self.call(client, base, "conversations.list",
                ["stage": ["name": ["needs_response", "new"]], "sort_by": ["priority:asc"], "limit": 50], token: agentToken).1)
            recorder.record("conversation + timeline", try await Self.call(client, base, "conversations.get", ["id": probe], token: agentToken).1
                + (try await Self.call(client, base, "timeline-entries.list", ["object": probe], token: agentToken).1))
        }
        let (samples, errors, workflows) = recorder.snapshot
        let requests = samples.filter { !["inbox page", "conversation + timeline"].contains($0.key) }.values.reduce(0) { $0 + $1.count }
        print("workflow benchmark: \(concurrency) clients for \(String(format: "%.1f", wall)) s against \(base)")
        print("workflows/s \(String(format: "%.1f", Double(workflows) / wall))   requests/s \(String(format: "%.1f", Double(requests) / wall))   workflows \(workflows)   errors \(errors.values.reduce(0, +))")
        print("kind\tcount\tp50 ms\tp99 ms\tmax ms")
        for kind in ["create", "agent reply", "customer reply", "resolve", "inbox page", "conversation + timeline"] {
            let sorted = (samples[kind] ?? []).sorted()
            guard !sorted.isEmpty else { continue }
            func ms(_ q: Double) -> String { String(format: "%.2f", sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))] * 1000) }
            print("\(kind)\t\(sorted.count)\t\(ms(0.5))\t\(ms(0.99))\t\(String(format: "%.2f", sorted.last! * 1000))")
        }
        if let pid, let before = cpuBefore, let after = cpuAfter {
            print("server cpu \(String(format: "%.2f", after - before)) s (\(String(format: "%.2f", (after - before) / Double(max(requests, 1)) * 1000)) ms/request)   peak rss \(Self.peakMemory(pid) ?? "?")")
        }
        if workflows == 0 { throw Failure(description: "no workflow completed") }
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
