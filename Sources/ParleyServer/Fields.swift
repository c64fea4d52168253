import Hummingbird
import ParleyCore
import ParleyJSON

enum JSONResponse {
    static func make(status: HTTPResponse.Status, _ value: JSONValue) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: value.utf8)))
    }
}

/// RFC 3339 dates as DevRev writes them (`2023-01-01T12:00:00.000Z`).
enum Timestamp {
    /// `yyyy-MM-ddTHH:mm:ss.SSSZ` in UTC, the milliseconds truncated, as Foundation's
    /// `ISO8601FormatStyle(includingFractionalSeconds: true)` writes it for years 1600…9999 (a test compares
    /// the two), computed directly: every response writes several of these per object, and the format
    /// style costs microseconds each.
    static func format(_ date: Date) -> String {
        // Whole seconds and milliseconds from the reference date, as Foundation splits them (the same
        // instant measured from 1970 rounds differently in the last bit).
        let reference = date.timeIntervalSinceReferenceDate
        let wholeSeconds = reference.rounded(.down)
        guard wholeSeconds.isFinite, abs(wholeSeconds) < 2.5e11 else {
            return date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
        }
        let millisecond = min(Int((reference - wholeSeconds) * 1000), 999)
        let total = Int64(wholeSeconds) + 978_307_200
        var days = total / 86_400
        var rest = total % 86_400
        if rest < 0 {
            rest += 86_400
            days -= 1
        }
        let (year, month, day) = civil(fromDays: days)
        // Before 1600 Foundation counts in the Julian calendar; those dates (none that Parley writes) go to it.
        guard (1600...9999).contains(year) else { return date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true)) }
        let seconds = Int(rest)
        return String(unsafeUninitializedCapacity: 24) { buffer in
            func put(_ value: Int, _ width: Int, at position: Int) {
                var value = value
                for index in stride(from: position + width - 1, through: position, by: -1) {
                    buffer[index] = UInt8(ascii: "0") + UInt8(value % 10)
                    value /= 10
                }
            }
            put(year, 4, at: 0)
            buffer[4] = UInt8(ascii: "-")
            put(month, 2, at: 5)
            buffer[7] = UInt8(ascii: "-")
            put(day, 2, at: 8)
            buffer[10] = UInt8(ascii: "T")
            put(seconds / 3600, 2, at: 11)
            buffer[13] = UInt8(ascii: ":")
            put(seconds / 60 % 60, 2, at: 14)
            buffer[16] = UInt8(ascii: ":")
            put(seconds % 60, 2, at: 17)
            buffer[19] = UInt8(ascii: ".")
            put(millisecond, 3, at: 20)
            buffer[23] = UInt8(ascii: "Z")
            return 24
        }
    }

    /// The proleptic Gregorian date of a day count from 1970-01-01 (Howard Hinnant's `civil_from_days`).
    private static func civil(fromDays days: Int64) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (Int(year), Int(month), Int(day))
    }

    static func json(_ date: Date?) -> JSONValue { date.map { .string(format($0)) } ?? .absent }

    static func parse(_ text: String) -> Date? {
        if let date = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text) { return date }
        return try? Date.ISO8601FormatStyle().parse(text)
    }
}

/// The fields of a request object, with the path of each field for errors. A field of the wrong JSON type
/// is refused with `invalid_field` naming it (a number is not a string, `null` is not an object); only a
/// query string, where every value is text, is read leniently (`limit=50`, `a=x&a=y` or `a=x,y`).
/// Unknown fields are ignored: DevRev's clients send fields Parley does not use.
/// Limits: a string field holds at most 65,536 characters, a list at most 1,000 items.
struct Fields: Sendable {
    static let maxStringLength = 65_536
    static let maxListCount = 1_000

    var values: [String: JSONValue]
    var path: String
    /// Read from a query string: numbers, booleans and lists arrive as text.
    var fromQueryString = false

    init(_ values: [String: JSONValue], path: String = "", fromQueryString: Bool = false) {
        self.values = values
        self.path = path
        self.fromQueryString = fromQueryString
    }

    init(_ value: JSONValue, path: String = "", fromQueryString: Bool = false) throws(APIError) {
        switch value {
        case .object(let values): self.init(values, path: path, fromQueryString: fromQueryString)
        // An empty body reads as `null`: no fields. Inside a request, `null` where an object belongs is refused.
        case .null where path.isEmpty: self.init([:], path: path)
        default:
            throw path.isEmpty
                ? APIError(.badRequest, type: "parse_error", message: "request body must be a JSON object")
                : APIError.invalidField(path, "expected an object, got \(value.typeName)")
        }
    }

    func name(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func has(_ key: String) -> Bool { values[key].map { $0 != .null } ?? false }

    /// Whether the request names `key` at all, `null` included (`null` clears an optional setting).
    func names(_ key: String) -> Bool { values[key] != nil }

    func string(_ key: String) throws(APIError) -> String? {
        switch values[key] {
        case nil, .null?: return nil
        case .string(let v)?:
            guard v.count <= Self.maxStringLength else {
                throw APIError.invalidField(name(key), "too long: at most \(Self.maxStringLength) characters")
            }
            return v
        case let other?: throw APIError.invalidField(name(key), "expected a string, got \(other.typeName)")
        }
    }

    func requiredString(_ key: String) throws(APIError) -> String {
        guard let value = try string(key), !value.isEmpty else { throw APIError.missing(name(key)) }
        return value
    }

    /// A list of enum values (a JSON array, or comma-separated in a query string).
    func enumValues<E: RawRepresentable & CaseIterable>(_ key: String, _ type: E.Type) throws(APIError) -> [E]? where E.RawValue == String {
        guard let texts = try strings(key) else { return nil }
        var result: [E] = []
        for text in texts {
            guard let value = E(rawValue: text) else { throw APIError.invalidEnum(name(key), text, allowed: E.allCases.map(\.rawValue)) }
            result.append(value)
        }
        return result
    }

    func int(_ key: String) throws(APIError) -> Int? {
        switch values[key] {
        case nil, .null?: return nil
        case .number(let v)? where v.rounded() == v && abs(v) < 9e15: return Int(v)
        case .string(let v)? where fromQueryString:
            guard let number = Int(v.trimmed) else {
                throw APIError.invalidField(name(key), "expected an integer, got '\(v)'")
            }
            return number
        case let other?: throw APIError.invalidField(name(key), "expected an integer, got \(other.typeName)")
        }
    }

    func bool(_ key: String) throws(APIError) -> Bool? {
        switch values[key] {
        case nil, .null?: return nil
        case .bool(let v)?: return v
        case .string("true")? where fromQueryString: return true
        case .string("false")? where fromQueryString: return false
        case let other?: throw APIError.invalidField(name(key), "expected true or false, got \(other.typeName)")
        }
    }

    /// A list of strings: a JSON array, or (from a query string) one comma-separated string.
    func strings(_ key: String) throws(APIError) -> [String]? {
        switch values[key] {
        case nil, .null?: return nil
        case .array(let items)?:
            try checkCount(items, key)
            var result: [String] = []
            for (index, item) in items.enumerated() {
                guard case .string(let v) = item else {
                    throw APIError.invalidField("\(name(key)).\(index)", "expected a string, got \(item.typeName)")
                }
                result.append(v)
            }
            return result
        case .string(let v)? where fromQueryString:
            let items = v.split(separator: ",").map { $0.trimmed }.filter { !$0.isEmpty }
            try checkCount(items, key)
            return items
        case let other?: throw APIError.invalidField(name(key), "expected an array of strings, got \(other.typeName)")
        }
    }

    /// Lists hold at most `maxListCount` items.
    private func checkCount(_ items: some Collection, _ key: String) throws(APIError) {
        guard items.count <= Self.maxListCount else {
            throw APIError.invalidField(name(key), "too many items: at most \(Self.maxListCount)")
        }
    }

    func object(_ key: String) throws(APIError) -> Fields? {
        guard let value = values[key], value != .null else { return nil }
        return try Fields(value, path: name(key), fromQueryString: fromQueryString)
    }

    /// An array of objects.
    func objects(_ key: String) throws(APIError) -> [Fields]? {
        switch values[key] {
        case nil, .null?: return nil
        case .array(let items)?:
            try checkCount(items, key)
            var result: [Fields] = []
            for (index, item) in items.enumerated() {
                result.append(try Fields(item, path: "\(name(key)).\(index)", fromQueryString: fromQueryString))
            }
            return result
        case let other?: throw APIError.invalidField(name(key), "expected an array, got \(other.typeName)")
        }
    }

    func date(_ key: String) throws(APIError) -> Date? {
        guard let text = try string(key) else { return nil }
        guard let date = Timestamp.parse(text) else {
            throw APIError.invalidField(name(key), "expected an RFC 3339 timestamp such as 2024-01-01T12:00:00Z")
        }
        return date
    }

    func enumValue<E: RawRepresentable & CaseIterable>(_ key: String, _ type: E.Type) throws(APIError) -> E? where E.RawValue == String {
        guard let text = try string(key) else { return nil }
        guard let value = E(rawValue: text) else {
            throw APIError.invalidEnum(name(key), text, allowed: E.allCases.map(\.rawValue))
        }
        return value
    }

    /// Builds fields from a query string: dotted names nest (`stage.name=x` → `{stage: {name: x}}`),
    /// a repeated name makes a list.
    static func query(_ parameters: [(String, String)]) -> Fields {
        var root: [String: JSONValue] = [:]
        func insert(_ path: ArraySlice<Substring>, _ value: String, into object: inout [String: JSONValue]) {
            guard let head = path.first else { return }
            let key = String(head)
            if path.count == 1 {
                switch object[key] {
                case .string(let existing)?: object[key] = .array([.string(existing), .string(value)])
                case .array(let existing)?: object[key] = .array(existing + [.string(value)])
                default: object[key] = .string(value)
                }
            } else {
                var child: [String: JSONValue] = [:]
                if case .object(let existing)? = object[key] { child = existing }
                insert(path.dropFirst(), value, into: &child)
                object[key] = .object(child)
            }
        }
        for (name, value) in parameters {
            insert(name.split(separator: ".")[...], value, into: &root)
        }
        return Fields(root, fromQueryString: true)
    }
}
