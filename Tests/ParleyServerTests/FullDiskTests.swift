import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import ParleyCore
import ParleyJSON
import ParleyServer
@testable import ParleySQLite
import Synchronization
import Testing

/// Issue 15, item 10: a full disk answered 500 `internal_error`. SQLite's `max_page_count` makes the
/// database full exactly as a full disk does (SQLITE_FULL), without needing one.
@Suite("A full disk")
struct FullDiskTests {
    @Test("writes answer 507 naming the cause while reads go on; writing resumes when there is room")
    func fullDisk() async throws {
        let path = "/tmp/parley-test-\(UUID().uuidString).sqlite"
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let configuration = AppConfiguration(databasePath: path, adminToken: "test-admin-token", logLevel: .critical)
        let server = try await buildApplication(configuration)
        let store = try #require(server.store as? SQLiteStore)
        @Sendable func limitPages(extra: Int) throws {
            try store.writer.withLock { connection in
                guard let connection else { return }
                let pages = try connection.scalar("PRAGMA page_count").int ?? 0
                try connection.execute("PRAGMA max_page_count = \(pages + extra)")
            }
        }
        try await server.application.test(.router) { client in
            let api = API(client: client)
            _ = try await api.conversation("test-admin-token", title: "Before the disk filled")
            try limitPages(extra: 0)
            var refused: Reply?
            for index in 0..<300 {
                let reply = try await api.post("conversations.create", #"{"type":"support","title":"Filling \#(index) \#(String(repeating: "x", count: 2_000))"}"#,
                                               token: "test-admin-token")
                if reply.status != .created {
                    refused = reply
                    break
                }
            }
            let full = try #require(refused, "the database never filled")
            #expect(full.status.code == 507, "\(full.status) \(full.body)")
            #expect(full.body["type"].string == "insufficient_storage")
            #expect(full.body["message"].string?.contains("disk is full") == true)
            let read = try await api.post("conversations.list", #"{"limit":1}"#, token: "test-admin-token")
            #expect(read.status == .ok, "reads go on")
            try limitPages(extra: 100_000)
            let again = try await api.post("conversations.create", #"{"type":"support","title":"Room again"}"#, token: "test-admin-token")
            #expect(again.status == .created, "writes resume with room: \(again.body)")
        }
        try await server.close()
    }
}
