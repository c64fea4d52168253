import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import ParleyApp
import ParleyCore
import ParleyJSON
import ParleyServer
import ParleyStore
import Testing

/// A response body, navigable by key and index.
struct Doc: CustomStringConvertible {
    var value: JSONValue?

    subscript(key: String) -> Doc {
        if case .object(let fields)? = value { return Doc(value: fields[key]) }
        return Doc(value: nil)
    }

    subscript(index: Int) -> Doc {
        if case .array(let items)? = value, items.indices.contains(index) { return Doc(value: items[index]) }
        return Doc(value: nil)
    }

    var string: String? { if case .string(let v)? = value { v } else { nil } }
    var int: Int? { if case .number(let v)? = value { Int(v) } else { nil } }
    var double: Double? { if case .number(let v)? = value { v } else { nil } }
    var bool: Bool? { if case .bool(let v)? = value { v } else { nil } }
    var array: [Doc] { if case .array(let items)? = value { items.map { Doc(value: $0) } } else { [] } }
    var isNull: Bool { value == nil || value == .null }
    var keys: Set<String> { if case .object(let fields)? = value { Set(fields.keys) } else { [] } }
    var description: String { value?.serialized ?? "nil" }
}

struct Reply {
    var status: HTTPResponse.Status
    var body: Doc
}

/// Calls the API the way DevRev clients do, through HummingbirdTesting.
struct API: Sendable {
    let client: any TestClientProtocol

    func post(_ path: String, _ json: String = "{}", token: String?) async throws -> Reply {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let token { headers[.authorization] = "Bearer \(token)" }
        return try await client.execute(uri: "/\(path)", method: .post, headers: headers, body: ByteBuffer(string: json)) { response in
            Reply(status: response.status, body: Doc(value: try? JSONDecoder().decode(JSONValue.self, from: Data(buffer: response.body))))
        }
    }

    func get(_ pathAndQuery: String, token: String?) async throws -> Reply {
        var headers: HTTPFields = [:]
        if let token { headers[.authorization] = "Bearer \(token)" }
        return try await client.execute(uri: "/\(pathAndQuery)", method: .get, headers: headers) { response in
            Reply(status: response.status, body: Doc(value: try? JSONDecoder().decode(JSONValue.self, from: Data(buffer: response.body))))
        }
    }
}

/// A `multipart/form-data` body as browsers and HTTP libraries write it.
enum Multipart {
    static func body(_ fields: [(String, String)], files: [(field: String, name: String, content: [UInt8])]) -> ([UInt8], String) {
        let boundary = "----ParleyTestBoundary\(UInt32.random(in: 0...UInt32.max))"
        var body: [UInt8] = []
        for (name, value) in fields {
            body += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n".utf8)
        }
        for file in files {
            body += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(file.field)\"; filename=\"\(file.name)\"\r\nContent-Type: application/octet-stream\r\n\r\n".utf8)
            body += file.content + Array("\r\n".utf8)
        }
        body += Array("--\(boundary)--\r\n".utf8)
        return (body, "multipart/form-data; boundary=\(boundary)")
    }
}

extension API {
    /// Posts a multipart form (an artifact's upload).
    func postMultipart(_ path: String, _ fields: [(String, String)], files: [(field: String, name: String, content: [UInt8])]) async throws -> Reply {
        let (body, type) = Multipart.body(fields, files: files)
        return try await client.execute(uri: "/\(path)", method: .post, headers: [.contentType: type], body: ByteBuffer(bytes: body)) { response in
            Reply(status: response.status, body: Doc(value: try? JSONDecoder().decode(JSONValue.self, from: Data(buffer: response.body))))
        }
    }

    /// A raw GET: status, headers and bytes.
    func fetch(_ pathAndQuery: String, token: String? = nil) async throws -> (status: HTTPResponse.Status, headers: HTTPFields, bytes: [UInt8]) {
        var headers: HTTPFields = [:]
        if let token { headers[.authorization] = "Bearer \(token)" }
        return try await client.execute(uri: pathAndQuery.hasPrefix("/") ? pathAndQuery : "/" + pathAndQuery, method: .get, headers: headers) { response in
            (response.status, response.headers, Array(response.body.readableBytesView))
        }
    }

    /// Prepares an artifact as `token`'s holder and uploads `content` into it; returns its id.
    func upload(_ name: String, _ content: [UInt8], token: String) async throws -> String {
        let prepared = try await post("artifacts.prepare", #"{"file_name":"\#(name)"}"#, token: token)
        #expect(prepared.status == .ok, "\(prepared.body)")
        let id = try #require(prepared.body["id"].string)
        let url = try #require(prepared.body["url"].string)
        let path = String(url[try #require(url.range(of: "/artifacts.upload")).lowerBound...])
        let fields = prepared.body["form_data"].array.compactMap { field -> (String, String)? in
            guard let key = field["key"].string, let value = field["value"].string else { return nil }
            return (key, value)
        }
        let uploaded = try await postMultipart(String(path.dropFirst()), fields, files: [("file", name, content)])
        #expect(uploaded.status == .ok, "\(uploaded.body)")
        return id
    }
}

extension Data {
    init(buffer: ByteBuffer) { self = buffer.withUnsafeReadableBytes { Data($0) } }
}

let adminToken = "test-admin-token"

/// A fresh database file for one test.
func temporaryDatabase() -> String {
    "/tmp/parley-test-\(UUID().uuidString).sqlite"
}

/// Removes a test's database file with its WAL and shared-memory files.
func removeDatabase(at path: String) {
    for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
}

/// Runs `body` against a server built by `buildApplication` on a fresh database (removed afterwards; a `path`
/// given is the caller's to keep or remove), with a manual clock (or the system's, with `realClock`). Webhooks
/// may target loopback receivers only with `allowPrivateWebhooks`.
func withServer(path given: String? = nil, clock: ManualClock = ManualClock(Date(timeIntervalSince1970: 1_750_000_000)),
                testClock: Bool = false, realClock: Bool = false, rateLimits: RateLimitPolicy = RateLimitPolicy(),
                allowPrivateWebhooks: Bool = false, attachmentLimits: AttachmentLimits = AttachmentLimits(),
                _ body: @Sendable (API, ManualClock) async throws -> Void) async throws {
    let path = given ?? temporaryDatabase()
    defer { if given == nil { removeDatabase(at: path) } }
    var configuration = AppConfiguration(databasePath: path, adminToken: adminToken, logLevel: .warning, testClock: testClock ? clock : nil)
    configuration.rateLimits = rateLimits
    configuration.attachmentLimits = attachmentLimits
    configuration.allowPrivateWebhooks = allowPrivateWebhooks
    let server = try await buildApplication(configuration, clock: realClock ? SystemClock() : clock)
    do {
        try await server.application.test(.router) { client in try await body(API(client: client), clock) }
    } catch {
        try await server.close()
        throw error
    }
    try await server.close()
}

/// A small world: an agent who owns Acme's account, two Acme customers and one from Globex, with tokens.
struct World {
    var agent: String
    var agentToken: String
    var otherAgent: String
    var account: String
    var revOrg: String
    var alice: String
    var aliceToken: String
    var bob: String
    var bobToken: String
    var carol: String
    var carolToken: String

    static func make(_ api: API) async throws -> World {
        func created(_ reply: Reply, _ key: String) throws -> String {
            #expect(reply.status == .created, "\(reply.body)")
            return try #require(reply.body[key]["id"].string)
        }
        let agent = try created(try await api.post("dev-users.create", #"{"email":"maya@support.test","display_name":"Maya"}"#, token: adminToken), "dev_user")
        let otherAgent = try created(try await api.post("dev-users.create", #"{"email":"tom@support.test"}"#, token: adminToken), "dev_user")
        let agentToken = try #require(try await api.post("auth-tokens.create",
            #"{"requested_token_type":"urn:devrev:params:oauth:token-type:pat","act_as":"\#(agent)"}"#, token: adminToken).body["access_token"].string)
        let account = try created(try await api.post("accounts.create",
            #"{"display_name":"Acme","domains":["acme.test"],"owned_by":["\#(agent)"]}"#, token: agentToken), "account")
        let revOrg = try #require(try await api.post("rev-orgs.get", #"{"account":"\#(account)"}"#, token: agentToken).body["rev_org"]["id"].string)
        let globex = try created(try await api.post("rev-orgs.create", #"{"display_name":"Globex"}"#, token: agentToken), "rev_org")
        func customer(_ name: String, _ org: String) async throws -> (String, String) {
            let id = try created(try await api.post("rev-users.create",
                #"{"display_name":"\#(name)","email":"\#(name.lowercased())@example.test","rev_org":"\#(org)"}"#, token: agentToken), "rev_user")
            let token = try #require(try await api.post("auth-tokens.create",
                #"{"requested_token_type":"urn:devrev:params:oauth:token-type:session","rev_info":{"user_id":"\#(id)"},"expires_in":7776000}"#,
                token: adminToken).body["access_token"].string)
            return (id, token)
        }
        let (alice, aliceToken) = try await customer("Alice", revOrg)
        let (bob, bobToken) = try await customer("Bob", revOrg)
        let (carol, carolToken) = try await customer("Carol", globex)
        return World(agent: agent, agentToken: agentToken, otherAgent: otherAgent, account: account, revOrg: revOrg,
                     alice: alice, aliceToken: aliceToken, bob: bob, bobToken: bobToken, carol: carol, carolToken: carolToken)
    }
}

extension API {
    /// Creates a conversation as `token`'s holder and returns its id.
    func conversation(_ token: String, title: String = "Login loops", message: String = "I can't log in") async throws -> String {
        let reply = try await post("conversations.create", #"{"type":"support","title":"\#(title)","messages":[{"body":"\#(message)"}]}"#, token: token)
        #expect(reply.status == .created, "\(reply.body)")
        return try #require(reply.body["conversation"]["id"].string)
    }

    func comment(_ token: String, on conversation: String, _ body: String, visibility: String = "external") async throws -> Reply {
        try await post("timeline-entries.create",
                       #"{"type":"timeline_comment","object":"\#(conversation)","body":"\#(body)","visibility":"\#(visibility)"}"#, token: token)
    }

    func stage(of conversation: String, token: String = adminToken) async throws -> String? {
        try await post("conversations.get", #"{"id":"\#(conversation)"}"#, token: token).body["conversation"]["stage"]["name"].string
    }
}
