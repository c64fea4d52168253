import Hummingbird
import ParleyApp
import ParleyCore
import ParleyJSON
import ParleyStore

/// The router the API registers on, and the catalog of what it registered (from which `/openapi.json`
/// is generated, so the description cannot drift from the routes).
struct RPCRouter {
    let router: Router<ParleyRequestContext>
    let catalog: EndpointCatalog

    /// Registers a DevRev-style endpoint `/<name>`: POST with a JSON body, and for `get`/`list`
    /// endpoints (`readable`) GET with the same fields as query parameters.
    func rpc(_ name: String, readable: Bool = false, created: Bool = false,
             _ handler: @escaping @Sendable (Fields, ParleyRequestContext) async throws -> JSONValue) {
        catalog.add(EndpointCatalog.Endpoint(name: name, readable: readable, created: created))
        let path = RouterPath("/\(name)")
        let status: HTTPResponse.Status = created ? .created : .ok
        router.post(path) { request, context in
            var request = request
            let buffer = try await request.collectBody(upTo: context.maxUploadSize)
            let fields: Fields
            if buffer.readableBytes == 0 {
                fields = Fields([:])
            } else {
                let value: JSONValue
                do {
                    value = try buffer.withUnsafeReadableBytes { bytes throws(JSONParser.Failure) in try JSONParser.parse(bytes) }
                } catch {
                    throw APIError(.badRequest, type: "parse_error", message: "request body is not valid JSON: \(error)")
                }
                fields = try Fields(value)
            }
            return JSONResponse.make(status: status, try await handler(fields, context))
        }
        if readable {
            router.get(path) { request, context in
                let parameters = request.uri.queryParameters.map { (String($0.key), String($0.value)) }
                return JSONResponse.make(status: status, try await handler(Fields.query(parameters), context))
            }
        }
    }
}

extension Data {
    init(buffer: ByteBuffer) {
        self = buffer.withUnsafeReadableBytes { Data($0) }
    }
}

/// Request pieces every list shares, and id parsing with DevRev's errors.
extension Fields {
    /// `cursor`, `limit` (default 50, 1…100) and `mode`.
    func pageRequest() throws(APIError) -> PageRequest {
        let limit = try int("limit") ?? 50
        guard (1...100).contains(limit) else { throw APIError.invalidField(name("limit"), "must be between 1 and 100") }
        let mode: PageRequest.Mode
        switch try string("mode") {
        case nil, "after"?: mode = .after
        case "before"?: mode = .before
        case let other?:
            throw APIError.invalidEnum(name("mode"), other, allowed: ["after", "before"])
        }
        let cursor = try string("cursor")
        return PageRequest(cursor: cursor?.isEmpty == true ? nil : cursor, limit: limit, mode: mode)
    }

    /// `sort_by` as `["field:asc"]`; returns the first entry's field and whether it is descending.
    func sortBy(allowed: [String]) throws(APIError) -> (field: String, descending: Bool)? {
        guard let entries = try strings("sort_by"), let first = entries.first else { return nil }
        let parts = first.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2, parts[1] == "asc" || parts[1] == "desc", allowed.contains(parts[0]) else {
            throw APIError(.badRequest, type: "invalid_field",
                           message: "sort_by must be 'field:asc' or 'field:desc' with field one of \(allowed.joined(separator: ", ")); got '\(first)'",
                           fieldName: name("sort_by"), value: first, allowedValues: allowed.flatMap { ["\($0):asc", "\($0):desc"] })
        }
        return (parts[0], parts[1] == "desc")
    }

    /// A date range filter such as `modified_date: {after, before}` (or `modified_date.after` in a query).
    func dateRange(_ key: String) throws(APIError) -> DateRange {
        guard let range = try object(key) else { return DateRange() }
        return DateRange(after: try range.date("after"), before: try range.date("before"))
    }

    /// Parses an id field (DON or display id) of one of `kinds`.
    func id(_ key: String, _ kinds: Set<ObjectKind>) throws(APIError) -> ObjectID? {
        guard let text = try string(key), !text.isEmpty else { return nil }
        return try Self.parseID(text, field: name(key), kinds)
    }

    func requiredID(_ key: String, _ kinds: Set<ObjectKind>) throws(APIError) -> ObjectID {
        guard let id = try id(key, kinds) else { throw APIError.missing(name(key)) }
        return id
    }

    func ids(_ key: String, _ kinds: Set<ObjectKind>) throws(APIError) -> [ObjectID]? {
        guard let texts = try strings(key) else { return nil }
        var result: [ObjectID] = []
        for (index, text) in texts.enumerated() { result.append(try Self.parseID(text, field: "\(name(key)).\(index)", kinds)) }
        return result
    }

    static func parseID(_ text: String, field: String, _ kinds: Set<ObjectKind>) throws(APIError) -> ObjectID {
        guard let id = ObjectID.parse(text, as: kinds) else {
            let expected = kinds.compactMap { $0.displayPrefix.map { "\($0)-<n>" } }.sorted().joined(separator: " or ")
            throw APIError(.badRequest, type: "invalid_id", message: "'\(text)' is not a valid id for '\(field)' (expected \(expected) or its DON)",
                           fieldName: field, value: text)
        }
        return id
    }

    /// A list filter given as `field: [values]` or as DevRev's `{set: [values]}`.
    func idUpdate(_ key: String, _ kinds: Set<ObjectKind>) throws(APIError) -> [ObjectID]? {
        if let object = try? object(key) { return try object.ids("set", kinds) ?? [] }
        return try ids(key, kinds)
    }
}

/// The page as DevRev lists it: `{<items>: [...], next_cursor?, prev_cursor?}`.
func listResponse<Item>(_ key: String, _ page: Page<Item>, render: (Item) -> JSONValue) -> JSONValue {
    .object([
        key: .array(page.items.map(render)),
        "next_cursor": .optional(page.nextCursor),
        "prev_cursor": .optional(page.prevCursor),
    ])
}
