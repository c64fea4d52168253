import ParleyStore
import Testing

/// `SearchWords.split` reads ASCII text byte by byte: the same words as reading it character by character.
@Suite("Search words")
struct SearchWordsTests {
    /// The definition: runs of letters and digits, as `Character` sees them.
    private static func byCharacters(_ text: String) -> [String] {
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

    @Test("ASCII text splits into the same words byte by byte as character by character")
    func asciiMatchesCharacters() {
        var generator = SystemRandomNumberGenerator()
        let samples = ["", "   ", "Export fails: 10k rows, CSV!", "a-b_c.d/e\\f\"g'h", "x", "42", "trailing word", "\tTabs\r\nand\nlines\u{7F}"]
        for text in samples { #expect(SearchWords.split(text) == Self.byCharacters(text), "\(text)") }
        for _ in 0..<2_000 {
            let text = String(decoding: (0..<Int.random(in: 0...40, using: &generator)).map { _ in UInt8.random(in: 0...127, using: &generator) },
                              as: UTF8.self)
            #expect(SearchWords.split(text) == Self.byCharacters(text), "\(Array(text.utf8))")
        }
    }

    @Test("other text is split by characters: accents, scripts, combining marks")
    func otherText() {
        #expect(SearchWords.split("Überweisung fehlgeschlagen — 請求書 e\u{301}te") == ["Überweisung", "fehlgeschlagen", "請求書", "e\u{301}te"])
    }
}
