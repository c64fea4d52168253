import Hummingbird
import Synchronization
import NIOHTTP1
import Logging
import ParleyApp
import ParleyCore
import ParleyJSON
import ParleyStore

/// An error as DevRev's API reports it: a status and a JSON body `{type, message, …}`.
/// Every failure the server answers goes through `APIError.init(_ error:)`: the one place
/// where domain, decoding, HTTP and storage errors become statuses.
public struct APIError: Error, Sendable, Equatable {
    public var status: HTTPResponse.Status
    public var type: String
    public var message: String
    public var fieldName: String?
    public var value: String?
    public var allowedValues: [String]?
    public var referenceID: String?

    public init(_ status: HTTPResponse.Status, type: String, message: String, fieldName: String? = nil,
                value: String? = nil, allowedValues: [String]? = nil) {
        self.status = status
        self.type = type
        self.message = message
        self.fieldName = fieldName
        self.value = value
        self.allowedValues = allowedValues
    }

    public static func badRequest(_ message: String, field: String? = nil) -> APIError {
        APIError(.badRequest, type: "bad_request", message: message, fieldName: field)
    }
    public static func missing(_ field: String) -> APIError {
        APIError(.badRequest, type: "missing_required_field", message: "missing required field '\(field)'", fieldName: field)
    }
    public static func invalidField(_ field: String, _ message: String) -> APIError {
        APIError(.badRequest, type: "invalid_field", message: "invalid field '\(field)': \(message)", fieldName: field)
    }
    public static let unauthenticated = APIError(
        .unauthorized, type: "unauthenticated", message: "missing or invalid token: send 'Authorization: Bearer <token>'")
    /// A value outside a field's allowed values, the allowed ones listed in the message and the body.
    public static func invalidEnum(_ field: String, _ value: String, allowed: [String]) -> APIError {
        APIError(.badRequest, type: "invalid_enum_value",
                 message: "invalid value '\(value)' for '\(field)'; allowed values: \(allowed.joined(separator: ", "))",
                 fieldName: field, value: value, allowedValues: allowed)
    }
    public static func forbidden(_ message: String) -> APIError { APIError(.forbidden, type: "forbidden", message: message) }
    public static func notFound(_ what: String) -> APIError { APIError(.notFound, type: "not_found", message: "\(what) not found") }

    /// Maps any error to what the client is told.
    public init(_ error: any Error) {
        switch error {
        case let error as APIError:
            self = error
        case let error as DomainError:
            self.init(domain: error)
        case let error as DecodingError:
            self.init(decoding: error)
        case let error as StoreError where error.kind == .storageFull:
            self.init(.insufficientStorageStatus, type: "insufficient_storage",
                      message: "the server's disk is full: nothing can be saved until space is freed (reading still works)")
        case let error as StoreError where error.kind == .unavailable:
            self.init(.serviceUnavailable, type: "service_unavailable",
                      message: "the database cannot be reached: try again shortly (a write answered so may not have been saved: read before repeating it)")
        case let error as HTTPParserError:
            // The HTTP layer could not read the request (a malformed chunk size, say): the client's fault.
            self.init(.badRequest, type: "bad_request", message: "malformed HTTP request: \(error)")
        case let error as any HTTPResponseError:
            switch error.status {
            case .contentTooLarge:
                self.init(.contentTooLarge, type: "request_entity_too_large", message: "request body is larger than allowed (1 MiB; a form with files: the attachment limits)")
            case .notFound:
                self.init(.notFound, type: "not_found", message: "route not found")
            case .methodNotAllowed:
                self.init(.methodNotAllowed, type: "bad_request", message: "method not allowed for this route")
            case let status:
                self.init(status, type: status.code < 500 ? "bad_request" : "internal_error", message: status.reasonPhrase)
            }
        default:
            self.init(.internalServerError, type: "internal_error", message: "internal error")
            referenceID = UUID().uuidString.lowercased()
        }
    }

    private init(domain error: DomainError) {
        switch error {
        case .transitionRefused(let current, let allowed, let message):
            self.init(.badRequest, type: "bad_request", message: message, fieldName: "stage", value: current.rawValue,
                      allowedValues: allowed.map(\.rawValue))
        case .missingField(let field):
            self = .missing(field)
        case .invalidField(let field, let message):
            self = .invalidField(field, message)
        case .invalidEnum(let field, let value, let allowed):
            self = .invalidEnum(field, value, allowed: allowed)
        case .invalidID(let field, let value):
            self.init(.badRequest, type: "invalid_id", message: error.description, fieldName: field, value: value)
        case .notFound:
            self.init(.notFound, type: "not_found", message: error.description)
        case .forbidden(let message):
            self = .forbidden(message)
        case .conflict(let message):
            self.init(.conflict, type: "conflict", message: message)
        case .tooLarge(let message):
            self.init(.contentTooLarge, type: "request_entity_too_large", message: message)
        }
    }

    private init(decoding error: DecodingError) {
        func path(_ context: DecodingError.Context, _ key: (any CodingKey)? = nil) -> String {
            (context.codingPath + (key.map { [$0] } ?? [])).map { $0.intValue.map(String.init) ?? $0.stringValue }
                .joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let context):
            self = .missing(path(context, key))
        case .valueNotFound(_, let context):
            self = .missing(path(context))
        case .typeMismatch(let type, let context):
            self = .invalidField(path(context), "expected \(Self.jsonType(type))")
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty {
                self.init(.badRequest, type: "parse_error", message: "request body is not valid JSON")
            } else {
                self = .invalidField(path(context), context.debugDescription)
            }
        @unknown default:
            self.init(.badRequest, type: "parse_error", message: "request could not be parsed")
        }
    }

    private static func jsonType(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "a boolean"
        case is Int.Type, is Double.Type: "a number"
        case is [Any].Type: "an array"
        default: "an object"
        }
    }

    var body: [String: JSONValue] {
        var body: [String: JSONValue] = ["type": .string(type), "message": .string(message)]
        if let fieldName { body["field_name"] = .string(fieldName) }
        if let value { body["value"] = .string(value) }
        if let allowedValues { body["allowed_values"] = .array(allowedValues.map(JSONValue.string)) }
        if let referenceID { body["reference_id"] = .string(referenceID) }
        return body
    }
}

/// Turns every error thrown by a route, or by routing itself, into DevRev's error JSON.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    let storageFull = StorageFullReport()

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let apiError = APIError(error)
            if apiError.status == .insufficientStorageStatus {
                storageFull.refused(logger: context.logger)
            } else if apiError.status.code >= 500 {
                context.logger.error("\(request.method) \(request.uri.path) failed: \(String(reflecting: error)) [\(apiError.referenceID ?? "-")]")
            }
            return JSONResponse.make(status: apiError.status, .object(apiError.body))
        }
    }
}

/// A full disk refuses every write until space returns: one log line when it starts, then one a minute at
/// most with how many writes were refused meanwhile, not one per request.
final class StorageFullReport: Sendable {
    private struct State {
        var lastLogged: ContinuousClock.Instant?
        var refusedSince = 0
    }
    private let state = Mutex(State())

    func refused(logger: Logger) {
        let now = ContinuousClock.now
        let refused: Int? = state.withLock { state in
            state.refusedSince += 1
            if let last = state.lastLogged, last.duration(to: now) < .seconds(60) { return nil }
            defer { state.lastLogged = now; state.refusedSince = 0 }
            return state.refusedSince
        }
        if let refused {
            logger.error("the disk is full: writes are refused with 507 until space is freed; reads go on (\(refused) refused since the last report)")
        }
    }
}

extension HTTPResponse.Status {
    /// 507 Insufficient Storage (RFC 4918), which HTTPTypes does not name.
    static let insufficientStorageStatus = HTTPResponse.Status(code: 507, reasonPhrase: "Insufficient Storage")
}
