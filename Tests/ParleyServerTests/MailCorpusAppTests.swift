import Foundation
import ParleyApp
import ParleyCore
import ParleySQLite
import ParleyStore
import Testing

/// The mail corpus (Tests/ParleyMailTests/Corpus, shaped after what real clients send) through the
/// application layer on a real SQLite store: what each message does (opens, joins, is ignored, is recorded
/// as a bounce), and that every one delivered a second time stores nothing new.
@Suite("Mail corpus through ParleyApp.receiveMail")
struct MailCorpusAppTests {
    private struct Entry: Decodable {
        var file: String
        var subject: String
        var outcome: String
        var automatic: String?
    }

    private static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("ParleyMailTests/Corpus")

    private func withApp(_ body: (ParleyApp, any ParleyStore) async throws -> Void) async throws {
        let path = "/tmp/parley-corpus-\(UUID().uuidString).sqlite"
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let store = try SQLiteStore(path: path)
        let app = ParleyApp(store: store, clock: ManualClock(Date(timeIntervalSince1970: 1_796_000_000)))
        do {
            try await app.prepare()
            try await body(app, store)
        } catch {
            try? await store.close()
            throw error
        }
        try await store.close()
    }

    private func describe(_ outcome: MailOutcome) -> String {
        switch outcome {
        case .opened: "opened"
        case .appended: "appended"
        case .duplicate: "duplicate"
        case .ignored(let reason) where reason.contains(", recorded on CONV-12") && reason.hasPrefix("a delivery status notification"): "bounce-recorded"
        case .ignored: "ignored"
        }
    }

    @Test("each corpus message does what its expectation says; delivered again, nothing is stored twice")
    func corpusOutcomes() async throws {
        let entries = try JSONDecoder().decode([Entry].self, from: Data(contentsOf: Self.folder.appendingPathComponent("expected.json")))
        #expect(entries.count >= 30)
        try await withApp { app, store in
            _ = try await app.createMailbox(address: "support@acme.test", displayName: "Acme Support", group: nil, smtpRelay: nil, imap: nil,
                                            by: Caller(actor: .system, role: .admin))
            // Conversations 1…12 exist, so that the corpus's bounces of Parley's mail on CONV-12 are recorded there.
            for number in 1...12 {
                let filler = "From: filler@example.test\r\nSubject: filler \(number)\r\nMessage-ID: <filler-\(number)@example.test>\r\n\r\nx\r\n"
                #expect(try await app.receiveMail(Array(filler.utf8), to: "support@acme.test") == .opened(conversation: number))
            }
            var first: [String: MailOutcome] = [:]
            for entry in entries {
                let bytes = Array(try Data(contentsOf: Self.folder.appendingPathComponent(entry.file)))
                let outcome = try await app.receiveMail(bytes, to: "support@acme.test")
                first[entry.file] = outcome
                #expect(describe(outcome) == entry.outcome, "\(entry.file): \(outcome)")
                if case .ignored(let reason) = outcome, let automatic = entry.automatic {
                    #expect(reason.hasPrefix(automatic), "\(entry.file): \(reason)")
                }
                if case .opened(let number) = outcome {
                    let conversation = try #require(try await store.conversation(number: number))
                    #expect(conversation.title == entry.subject, "\(entry.file)")
                }
            }
            // An MTA's retry: the same bytes again. What was stored is a duplicate (each has a Message-ID);
            // what was ignored is ignored again.
            for entry in entries {
                let bytes = Array(try Data(contentsOf: Self.folder.appendingPathComponent(entry.file)))
                let again = try await app.receiveMail(bytes, to: "support@acme.test")
                switch first[entry.file] {
                case .opened?, .appended?: #expect(again == .duplicate, "\(entry.file): \(again)")
                default: #expect(describe(again) != "opened" && describe(again) != "appended", "\(entry.file): \(again)")
                }
            }
        }
    }
}
