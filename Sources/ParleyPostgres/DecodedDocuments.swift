import ParleyStore
import Synchronization

/// Documents this server decoded lately, with the JSON they came from: a document read again is decoded
/// again only when its stored JSON differs (compared byte for byte on every use), so this never serves
/// anything but what the database returned, whatever another server wrote meanwhile. Requests keep meeting
/// the same people, orgs, tokens and conversations, and decoding is most of a read's CPU.
final class DecodedDocuments: Sendable {
    private struct Key: Hashable {
        var kind: String
        var number: Int
    }

    private struct Entry {
        var json: String
        var value: any Sendable
    }

    private let entries = Mutex<[Key: Entry]>([:])
    /// How many are kept (each a few KB); all go when the bound is reached.
    static let limit = 8_192

    func decode<T: Decodable & Sendable>(_ type: T.Type, kind: String, number: Int, json: String,
                                         _ decode: (String) throws -> T) throws -> T {
        let key = Key(kind: kind, number: number)
        if let known = entries.withLock({ $0[key] }), let value = known.value as? T, known.json.hasSameBytes(as: json) {
            return value
        }
        let value = try decode(json)
        entries.withLock { entries in
            if entries.count >= Self.limit, entries[key] == nil { entries.removeAll(keepingCapacity: true) }
            entries[key] = Entry(json: json, value: value)
        }
        return value
    }
}
