import ParleyCore
import Testing

/// The spam rules' matcher: what it matches (as a case-insensitive regular expression would), what it
/// refuses, and that patterns which make a backtracking engine run for minutes cost it a few steps per
/// character.
@Suite("Linear-time patterns")
struct LinearPatternTests {
    private func matches(_ pattern: String, _ text: String) throws -> Bool {
        var budget = Int.max
        return try LinearPattern(pattern).search(in: FoldedText(text), budget: &budget) == .match
    }

    @Test("matches as a case-insensitive regular expression searched anywhere in the text")
    func matching() throws {
        let cases: [(String, String, Bool)] = [
            ("cheap (watches|pills)", "Buy CHEAP Pills now", true),
            ("cheap (watches|pills)", "cheap shoes", false),
            ("^free", "Free money", true),
            ("^free", "totally free", false),
            ("money$", "free money", true),
            ("money$", "free money\n", true),
            ("money$", "money for you", false),
            ("[A-Z]{3}\\d+", "code abc123", true),
            ("[^a-z ]", "only letters here", false),
            ("[^a-z ]", "one digit 1", true),
            ("\\bwin\\b", "you win!", true),
            ("\\bwin\\b", "window", false),
            ("colou?r", "COLOR", true),
            ("a{2,3}b", "aab", true),
            ("a{2,3}b", "ab", false),
            ("x{2,}", "xx", true),
            ("https?://\\S+\\.ru\\b", "see http://spam.ru/x", true),
            ("(?:ab)+c", "ababc", true),
            ("(?<word>hello) world", "HELLO world", true),
            ("a.c", "a\nc", false),
            ("a.c", "abc", true),
            ("\\$\\$\\$", "win $$$", true),
            ("[.]com", "xcom", false),
            ("[\\d-]+", "555-1234", true),
            ("", "anything", true),
            ("é", "CAFÉ", true),
            ("[^A-Z]", "ABC", false),
            ("[^A-Z]", "AbC1", true),
        ]
        for (pattern, text, expected) in cases {
            #expect(try matches(pattern, text) == expected, "/\(pattern)/ on \(text.debugDescription)")
        }
    }

    @Test("patterns that backtrack catastrophically elsewhere take a few steps per character here")
    func noRunaway() throws {
        let text = FoldedText(String(repeating: "a", count: 20_000) + "!")
        for pattern in ["(a+)+$", "(a|aa)+$", "(a*)*b", "(.*a){20}$", "((a+)+)+x"] {
            var budget = 10_000_000
            let outcome = try LinearPattern(pattern).search(in: text, budget: &budget)
            #expect(outcome == .noMatch, "/\(pattern)/")
            #expect(budget > 0, "/\(pattern)/ spent \(10_000_000 - budget) steps")
        }
    }

    @Test("a search that spends its budget answers outOfSteps, not a guess")
    func budget() throws {
        var budget = 1_000
        let outcome = try LinearPattern("(a|b)*c").search(in: FoldedText(String(repeating: "ab", count: 10_000)), budget: &budget)
        #expect(outcome == .outOfSteps)
    }

    @Test("what needs backtracking, or is malformed or too large, is refused with the reason")
    func refusals() {
        let refused: [(String, String)] = [
            ("(a)\\1", "backreference"),
            ("(?=a)b", "lookaround"),
            ("(?<!a)b", "lookaround"),
            ("(?i)abc", "'(?'"),
            ("(", "unclosed"),
            ("a)", "unmatched"),
            ("*a", "nothing before it"),
            ("[z-a]", "backwards"),
            ("[abc", "unclosed"),
            ("a{5,2}", "below its minimum"),
            ("a{100000}", "more than"),
            ("(a{1000}){1000}", "too large"),
            ("\\p{L}", "escape"),
        ]
        for (pattern, reason) in refused {
            #expect {
                _ = try LinearPattern(pattern)
            } throws: { error in
                (error as? PatternError)?.message.contains(reason) == true
            }
        }
    }
}
