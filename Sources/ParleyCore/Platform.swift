#if canImport(FoundationEssentials)
@_exported import FoundationEssentials
#else
@_exported import Foundation
#endif

extension Date {
    /// This date truncated to whole milliseconds: the precision the store keeps, and what the server's clocks
    /// give. Such a date reads back from the store as the very same `Date` (the store checks every date it
    /// writes, and keeps the decoded value in its caches for the rare one that does not).
    public var wholeMilliseconds: Date {
        Date(timeIntervalSince1970: (timeIntervalSince1970 * 1000).rounded(.down) / 1000)
    }
}

extension StringProtocol {
    /// The text without leading and trailing whitespace and newlines.
    public var trimmed: String {
        // Most text (every request's token, ids, names) starts and ends with a visible ASCII character.
        let bytes = utf8
        if let first = bytes.first, (0x21...0x7E).contains(first),
           (0x21...0x7E).contains(bytes[bytes.index(bytes.endIndex, offsetBy: -1)]) {
            return String(self)
        }
        let scalars = unicodeScalars
        guard let start = scalars.firstIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        let end = scalars.lastIndex(where: { !$0.properties.isWhitespace })!
        var result = String.UnicodeScalarView()
        result.append(contentsOf: scalars[start...end])
        return String(result)
    }
}
