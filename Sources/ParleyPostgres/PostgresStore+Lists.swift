import Foundation
import ParleyCore
import ParleyStore

extension PostgresStore {
    /// The bounds of a search, as on SQLite: the newest matching comments and titles.
    static let searchedComments = 2_000
    static let searchedTitles = 1_000

    /// A page of conversations. Every filter is a condition PostgreSQL's planner weighs with its statistics
    /// against the indexes of schema 1 (one per order, with and without the stage first, and one per
    /// filter), so the store does not choose plans itself as the SQLite store must.
    public func listConversations(_ query: ConversationQuery) async throws -> Page<Conversation> {
        try await conversationPage(query, documents: true) { row in
            try self.cached(Conversation.self, kind: "conversation", number: row.last?.int ?? 0, row[0])
        }
    }

    /// Only the numbers: the page's rows without their documents (a conversation page's previous and next,
    /// out of 200 of its view, no longer read 200 documents).
    public func conversationNumbers(_ query: ConversationQuery) async throws -> [Int] {
        try await conversationPage(query, documents: false) { row in row.last?.int ?? 0 }.items
    }

    /// A page of `query`'s conversations, each row its document (with `documents`) and the keyset's columns,
    /// the number last.
    private func conversationPage<Item: Sendable>(_ query: ConversationQuery, documents: Bool,
                                                  decode: @escaping @Sendable ([PGValue]) throws -> Item) async throws -> Page<Item> {
        try await read { db in
            var conditions = ["NOT c.deleted"]
            var binds: [PGValue] = []
            // One value is an equality: the planner then reads an index that starts with the column in the
            // index's order (with `= ANY(…)` it cannot, and at 1M it filtered thousands of rows of another
            // index to fill the Waiting on user view: 6.5 ms instead of a fraction of one).
            func anyOf(_ column: String, _ value: PGValue, type: String) {
                switch value {
                case .texts(let values) where values.count == 1:
                    conditions.append("\(column) = ?::\(type)")
                    binds.append(.text(values[0]))
                case .integers(let values) where values.count == 1:
                    conditions.append("\(column) = ?::\(type)")
                    binds.append(.integer(values[0]))
                default:
                    conditions.append("\(column) = ANY(?::\(type)[])")
                    binds.append(value)
                }
            }
            if !query.stages.isEmpty {
                anyOf("c.stage", .texts(query.stages.map(\.rawValue)), type: "text")
            } else if !query.excludedStages.isEmpty {
                conditions.append("c.stage <> ALL(?::text[])")
                binds.append(.texts(query.excludedStages.map(\.rawValue)))
            }
            if !query.revOrgs.isEmpty { anyOf("c.rev_org", .integers(query.revOrgs), type: "bigint") }
            if !query.groups.isEmpty { anyOf("c.grp", .integers(query.groups), type: "bigint") }
            if !query.sourceChannels.isEmpty { anyOf("c.source_channel", .texts(query.sourceChannels), type: "text") }
            if !query.priorities.isEmpty { anyOf("c.priority", .integers(query.priorities.map(\.rank)), type: "int") }
            if query.unassigned { conditions.append("c.unassigned") }
            if !query.ownedBy.isEmpty {
                conditions.append("EXISTS (SELECT 1 FROM conversation_owners x WHERE x.conversation = c.number AND x.owner = ANY(?::bigint[]))")
                binds.append(.integers(query.ownedBy))
            }
            if !query.tags.isEmpty {
                conditions.append("EXISTS (SELECT 1 FROM conversation_tags x WHERE x.conversation = c.number AND x.tag = ANY(?::bigint[]))")
                binds.append(.integers(query.tags))
            }
            if !query.members.isEmpty {
                conditions.append("EXISTS (SELECT 1 FROM conversation_members x WHERE x.conversation = c.number AND x.member = ANY(?::text[]))")
                binds.append(.texts(query.members.map(\.description)))
            }
            if let isSpam = query.isSpam { conditions.append(isSpam ? "c.is_spam" : "NOT c.is_spam") }
            if let text = query.text, !text.isEmpty {
                // No word to search for matches nothing rather than everything.
                guard let search = SearchWords(text) else { return Page(items: [], nextCursor: nil, prevCursor: nil) }
                let notes: String
                switch query.searchedNotes {
                case .none: notes = " AND readers = 0"
                case .internalAndPrivate(let author?): notes = " AND (readers >= 0 OR readers = \(-author))"
                case .internalAndPrivate(nil): notes = " AND readers >= 0"
                }
                conditions.append("""
                    c.number IN (SELECT conversation FROM (SELECT conversation FROM conversation_text
                                     WHERE words @@ ?::tsquery AND id > 0\(notes) ORDER BY id DESC LIMIT \(Self.searchedComments)) AS comments
                                 UNION ALL
                                 SELECT conversation FROM (SELECT conversation FROM conversation_text
                                     WHERE words @@ ?::tsquery AND id < 0 ORDER BY id LIMIT \(Self.searchedTitles)) AS titles)
                    """)
                let expression = Self.tsquery(search)
                binds += [.text(expression), .text(expression)]
            }
            Self.appendRange(query.created, column: "c.created_ms", to: &conditions, &binds)
            Self.appendRange(query.modified, column: "c.modified_ms", to: &conditions, &binds)
            let keyset: PostgresKeyset
            switch query.sort {
            case .createdDate(let descending):
                keyset = PostgresKeyset(columns: ["c.created_ms", "c.number"], descending: descending)
            case .modifiedDate(let descending):
                keyset = PostgresKeyset(columns: ["c.modified_ms", "c.number"], descending: descending)
            case .priority(let descending):
                keyset = PostgresKeyset(columns: ["c.priority", "COALESCE(c.waiting_ms, 9007199254740991)", "c.number"], descending: descending)
            }
            let select = "SELECT " + (documents ? "c.doc, " : "") + keyset.columns.joined(separator: ", ") + " FROM conversations c"
            // Planned with its values: which index serves best depends on them (a stage with few conversations,
            // a filter, a cursor deep in the list), and PostgreSQL's generic plan cannot see them.
            return try await db.page(select: select, conditions: conditions, binds: binds, keyset: keyset, page: query.page,
                                     planning: .withValues, decode: decode)
        }
    }

    public func stageCounts() async throws -> [Stage: Int] {
        try await read { db in
            var counts: [Stage: Int] = [:]
            for row in try await db.query("SELECT stage, count FROM stage_counts") {
                if let stage = row[0].string.flatMap(Stage.init(rawValue:)) { counts[stage] = row[1].int ?? 0 }
            }
            return counts
        }
    }
}
