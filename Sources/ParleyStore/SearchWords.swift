/// The words of a full-text search, as every store reads them: what someone typed split into words (letters
/// and digits), all required, each a whole word unless it ends with `*` (then the beginning of words).
/// Operators and punctuation are never interpreted.
public struct SearchWords: Sendable, Equatable {
    public struct Word: Sendable, Equatable {
        public var text: String
        public var isPrefix: Bool
    }

    public var words: [Word]

    /// At most this many words of a query are used.
    public static let limit = 16

    /// Nil when the input has no word to search for (which matches nothing rather than everything).
    public init?(_ input: String) {
        var words: [Word] = []
        var current = ""
        for character in input {
            if character.isLetter || character.isNumber {
                current.append(character)
            } else if !current.isEmpty {
                words.append(Word(text: current, isPrefix: character == "*"))
                current = ""
            }
        }
        if !current.isEmpty { words.append(Word(text: current, isPrefix: false)) }
        guard !words.isEmpty else { return nil }
        self.words = Array(words.prefix(Self.limit))
    }

    /// The words of a stored text (a title, a comment), as a store indexes them: letters and digits, in order.
    public static func split(_ text: String) -> [String] {
        // ASCII text (most of it) is split byte by byte, to the same words: an ASCII character is a letter
        // or digit exactly when it is one of [A-Za-z0-9].
        if text.utf8.allSatisfy({ $0 < 0x80 }) {
            var words: [String] = []
            var start: String.UTF8View.Index?
            let bytes = text.utf8
            for index in bytes.indices {
                let byte = bytes[index]
                let isWordByte = (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                if isWordByte {
                    if start == nil { start = index }
                } else if let first = start {
                    words.append(String(text[first..<index]))
                    start = nil
                }
            }
            if let first = start { words.append(String(text[first...])) }
            return words
        }
        var words: [String] = []
        var current = ""
        for character in text {
            if character.isLetter || character.isNumber {
                current.append(character)
            } else if !current.isEmpty {
                words.append(current)
                current = ""
            }
        }
        if !current.isEmpty { words.append(current) }
        return words
    }
}
