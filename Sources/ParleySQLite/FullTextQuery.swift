import ParleyStore
/// A full-text query made safe for SQLite FTS5: the words of what someone typed, all required, each a
/// whole word ("refund" finds "Refund" and "refund," but not "refunded"), or the beginning of words when
/// it ends with `*` ("refund*"). Other operators and punctuation are never interpreted. Whole words are the
/// default because a prefix merges every word it starts: at a million conversations, "refund*" costs
/// ~150 ms of index reading where "refund" costs under 1 ms.
public enum FullTextQuery {
    /// A search looks at this many of the newest matching comments, and titles.
    public static let commentLimit = 2_000
    public static let titleLimit = 1_000

    /// The FTS5 expression, or nil when the input has no word to search for.
    public static func expression(_ input: String) -> String? {
        guard let search = SearchWords(input) else { return nil }
        return search.words.map { "\"\($0.text)\"" + ($0.isPrefix ? "*" : "") }.joined(separator: " ")
    }
}
