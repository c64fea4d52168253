import Foundation

extension String {
    /// Whether two texts are the same bytes (not merely canonically equivalent, as `==` would say): a store
    /// reuses a document decoded before only when the JSON it reads now is byte for byte the one it decoded.
    public func hasSameBytes(as other: String) -> Bool {
        var first = self
        var second = other
        return first.withUTF8 { a in
            second.withUTF8 { b in
                guard a.count == b.count else { return false }
                guard let x = a.baseAddress, let y = b.baseAddress else { return true }
                return memcmp(x, y, a.count) == 0
            }
        }
    }
}
