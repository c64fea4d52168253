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
