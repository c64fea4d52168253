import Foundation
import NIOPosix
import ParleyCore
import ParleyStore
import Synchronization

extension SQLiteStore {
    public func conversationNumbers(_ query: ConversationQuery) async throws -> [Int] {
        try await conversationNumbersFromList(query)
    }

    public func listConversations(_ query: ConversationQuery) async throws -> Page<Conversation> {
        try await read { [self] db in
            var conditions = ["c.deleted = 0"]
            var binds: [SQLValue] = []
            func anyOf(_ column: String, _ values: [SQLValue]) {
                guard !values.isEmpty else { return }
                conditions.append("\(column) IN (\(SQLiteConnection.placeholders(values.count)))")
                binds += values
            }
            func exists(_ table: String, _ column: String, _ values: [SQLValue]) {
                guard !values.isEmpty else { return }
                let marks = SQLiteConnection.placeholders(values.count)
                conditions.append("EXISTS (SELECT 1 FROM \(table) x WHERE x.conversation = c.number AND x.\(column) IN (\(marks)))")
                binds += values
            }
            anyOf("c.stage", query.stages.map { .text($0.rawValue) })
            if query.stages.isEmpty, !query.excludedStages.isEmpty {
                conditions.append("c.stage NOT IN (\(SQLiteConnection.placeholders(query.excludedStages.count)))")
                binds += query.excludedStages.map { .text($0.rawValue) }
            }
            anyOf("c.rev_org", query.revOrgs.map { .integer(Int64($0)) })
            anyOf("c.grp", query.groups.map { .integer(Int64($0)) })
            let plan = try listPlan(for: query, db)
            if let held = plan.driver?.indexCondition { conditions.append("c.\(held)") }
            anyOf("c.source_channel", query.sourceChannels.map { .text($0) })
            anyOf("c.priority", query.priorities.map { .integer(Int64($0.rank)) })
            if query.unassigned {
                conditions.append("c.unassigned = 1")
            }
            // A side-table filter the plan drives from: its few conversations are found through the table's
            // key, then sorted; the others are checked conversation by conversation.
            for filter in ListPlan.Driver.sideTables {
                let values = filter.values(of: query)
                guard !values.isEmpty else { continue }
                if plan.driver == filter {
                    conditions.append("c.number IN (SELECT conversation FROM \(filter.table) WHERE \(filter.column) IN (\(SQLiteConnection.placeholders(values.count))))")
                    binds += values
                } else {
                    exists(filter.table, filter.column, values)
                }
            }
            if let isSpam = query.isSpam {
                // A literal: the partial index of spam (schema 14) is usable only for `is_spam = 1` itself.
                conditions.append(isSpam ? "c.is_spam = 1" : "c.is_spam = 0")
            }
            if let text = query.text, !text.isEmpty {
                // No word to search for matches nothing rather than everything.
                // `is_note`: 0 for titles and external comments, 1 for internal notes, minus its author's
                // number for a private note (schema 15).
                let notes: String
                switch query.searchedNotes {
                case .none: notes = " AND is_note = 0"
                case .internalAndPrivate(let author?): notes = " AND (is_note >= 0 OR is_note = \(-author))"
                case .internalAndPrivate(nil): notes = " AND is_note >= 0"
                }
                // Bounded: the newest matching comments and titles (rowids grow with time; titles are -number),
                // so a common word costs what a rare one does instead of collecting every match.
                conditions.append("""
                    c.number IN (SELECT conversation FROM (SELECT conversation FROM conversation_text
                                     WHERE conversation_text MATCH ? AND rowid > 0\(notes) ORDER BY rowid DESC LIMIT \(FullTextQuery.commentLimit))
                                 UNION ALL
                                 SELECT conversation FROM (SELECT conversation FROM conversation_text
                                     WHERE conversation_text MATCH ? AND rowid < 0 ORDER BY rowid LIMIT \(FullTextQuery.titleLimit)))
                    """)
                let expression = FullTextQuery.expression(text) ?? "\"\""
                binds += [.text(expression), .text(expression)]
            }
            appendRange(query.created, column: "c.created_ms", to: &conditions, &binds)
            appendRange(query.modified, column: "c.modified_ms", to: &conditions, &binds)
            let columns: [Keyset.Column]
            switch query.sort {
            case .createdDate(let descending):
                columns = [.init(expression: "c.created_ms", descending: descending), .init(expression: "c.number", descending: descending)]
            case .modifiedDate(let descending):
                columns = [.init(expression: "c.modified_ms", descending: descending), .init(expression: "c.number", descending: descending)]
            case .priority(let descending):
                columns = [.init(expression: "c.priority", descending: descending),
                           .init(expression: "COALESCE(c.waiting_ms, 9007199254740991)", descending: descending),
                           .init(expression: "c.number", descending: descending)]
            }
            let keyset = Keyset(columns: columns)
            let select = "SELECT c.doc, " + columns.map(\.expression).joined(separator: ", ") + " FROM conversations c" + plan.indexClause
            // The keyset's last column is the conversation's number.
            return try db.page(select: select, conditions: conditions, binds: binds, keyset: keyset, page: query.page) { row in
                try decodeDocument(Conversation.self, kind: ObjectKind.conversation.rawValue, number: row.last?.int ?? 0, row[0])
            }
        }
    }

    /// How a list finds its page, where SQLite would pick a worse plan by itself (it has no statistics, and the
    /// best plan depends on how common the stages and owners asked for are, which the store knows).
    struct ListPlan {
        /// The filter whose conversations are found first (through its table, or its index) and then sorted,
        /// rather than reading the sort order and checking each conversation against it.
        var driver: Driver?
        /// `INDEXED BY …` (read this index in its order), `NOT INDEXED` (rowid lookups only) or nothing.
        var indexClause = ""

        enum Driver: CaseIterable {
            case owners, tags, members, groups, channels, spam, created, modified

            /// The filters kept in side tables keyed (value, conversation).
            static let sideTables: [Driver] = [.owners, .tags, .members]

            var table: String {
                switch self {
                case .owners: "conversation_owners"
                case .tags: "conversation_tags"
                case .members: "conversation_members"
                case .groups, .channels, .spam, .created, .modified: "conversations"
                }
            }

            var column: String {
                switch self {
                case .owners: "owner"
                case .tags: "tag"
                case .members: "member"
                case .groups: "grp"
                case .channels: "source_channel"
                case .spam: "is_spam"
                case .created: "created_ms"
                case .modified: "modified_ms"
                }
            }

            /// The index of the conversations table that finds this filter's conversations (the side tables
            /// are found through their own keys).
            var index: String? {
                switch self {
                case .owners, .tags, .members: nil
                case .groups: "conversations_by_group"
                case .channels: "conversations_by_channel"
                case .spam: "conversations_spam"
                case .created: "conversations_by_created"
                case .modified: "conversations_by_modified"
                }
            }

            /// The values asked for, in the order the conditions below bind them; empty when the query does
            /// not filter on this (or asks for what is not worth finding first: not spam).
            func values(of query: ConversationQuery) -> [SQLValue] {
                switch self {
                case .owners: query.ownedBy.map { .integer(Int64($0)) }
                case .tags: query.tags.map { .integer(Int64($0)) }
                case .members: query.members.map { .text($0.description) }
                case .groups: query.groups.map { .integer(Int64($0)) }
                case .channels: query.sourceChannels.map { .text($0) }
                case .spam: query.isSpam == true ? [.integer(1)] : []
                case .created: Self.bounds(query.created)
                case .modified: Self.bounds(query.modified)
                }
            }

            static func bounds(_ range: DateRange) -> [SQLValue] {
                guard range != DateRange() else { return [] }
                return [range.after.map(SQLiteStore.ms) ?? .integer(Int64.min), range.before.map(SQLiteStore.ms) ?? .integer(Int64.max)]
            }

            /// What the driver's partial index holds besides `deleted = 0`, which a query read through it must
            /// say literally (SQLite does not infer it from `grp IN (?)`, nor from a bound `is_spam = ?`).
            var indexCondition: String? {
                switch self {
                case .groups: "grp IS NOT NULL"
                case .spam: "is_spam = 1"
                case .owners, .tags, .members, .channels, .created, .modified: nil
                }
            }

            /// Counts the conversations this filter matches, up to `bound` (a count at the bound means "many").
            func count(of values: [SQLValue], upTo bound: Int, _ db: SQLiteConnection) throws -> Int {
                let marks = SQLiteConnection.placeholders(values.count)
                var source: String
                var binds = values
                switch self {
                case .owners, .tags, .members:
                    source = "\(table) WHERE \(column) IN (\(marks))"
                case .created, .modified:
                    source = "conversations INDEXED BY \(index ?? "") WHERE \(column) BETWEEN ? AND ?"
                case .groups, .channels, .spam:
                    source = "conversations INDEXED BY \(index ?? "") WHERE deleted = 0"
                    if let held = indexCondition { source += " AND \(held)" }
                    if self == .spam { binds = [] } else { source += " AND \(column) IN (\(marks))" }
                }
                return try db.scalar("SELECT count(*) FROM (SELECT 1 FROM \(source) LIMIT \(bound))", binds).int ?? 0
            }
        }
    }

    /// Given a stage filter, SQLite reads the stage's entries and sorts them all: right for a rare stage, but
    /// for a common one (resolved is half of everything) that is hundreds of thousands of rows for a page of
    /// 50 at 1M conversations. When the stages asked for hold at least `orderScanShare` of the conversations
    /// (the stage counters say exactly), reading the sort order's index and skipping other stages finds a
    /// page within about limit / share rows. An owner filter is checked row by row along that order, which
    /// reads far for an agent who owns few conversations (4,000 of 1M: 1.2 s), and so do a rare tag, a
    /// customer's own conversations (every list a customer makes, and the widget's) and a group: when a
    /// filter's conversations are fewer than the rows the order would read, they are found through the
    /// filter's table or index and sorted instead. Reading along the order finds a page after about
    /// (limit + 1) · total / (matches · stage share) rows, so finding them first wins while matches² <
    /// (limit + 1) · total / stage share: a filter is counted only up to that bound (about 7,000 at 1M).
    /// Unassigned conversations have an index of their own (schema 11). Not for searches (a bounded set of
    /// matches, best sorted) nor filters with an index of their own (org, date ranges).
    func listPlan(for query: ConversationQuery, _ db: SQLiteConnection) throws -> ListPlan {
        guard query.text == nil, query.revOrgs.isEmpty else { return ListPlan() }
        // A date range on the sort's own column: that index gives both.
        switch query.sort {
        case .createdDate where query.created != DateRange(), .modifiedDate where query.modified != DateRange(): return ListPlan()
        default: break
        }
        if query.unassigned {
            // Their own index, in priority order. Other orders sort them when they are few (counted up to a
            // bound), and read the order's index when they are many.
            if case .priority = query.sort { return ListPlan(indexClause: " INDEXED BY conversations_unassigned") }
            let unassigned = try db.scalar("""
                SELECT count(*) FROM (SELECT 1 FROM conversations INDEXED BY conversations_unassigned
                                      WHERE deleted = 0 AND unassigned = 1 LIMIT \(Self.lookupLimit))
                """).int ?? 0
            return unassigned < Self.lookupLimit ? ListPlan(indexClause: " INDEXED BY conversations_unassigned") : ListPlan()
        }
        // The index that gives the list's order where the stage filter's own does not.
        let orderIndex: String?
        switch query.sort {
        case .priority:
            // One stage: its own index is already in this order.
            orderIndex = query.stages.count == 1 ? nil : "conversations_by_priority_waiting"
        case .createdDate:
            orderIndex = query.stages.isEmpty && query.excludedStages.isEmpty ? nil : "conversations_by_created"
        case .modifiedDate:
            orderIndex = query.stages.isEmpty && query.excludedStages.isEmpty ? nil : "conversations_by_modified"
        }
        let filters = ListPlan.Driver.allCases.compactMap { filter -> (ListPlan.Driver, [SQLValue])? in
            let values = filter.values(of: query)
            return values.isEmpty ? nil : (filter, values)
        }
        // Nothing to choose (the inbox's first page): no reads.
        guard orderIndex != nil || !filters.isEmpty else { return ListPlan() }
        let counts = try Self.stageCounts(db)
        let total = counts.values.reduce(0, +)
        guard total > 0 else { return ListPlan() }
        let asked: Int
        if !query.stages.isEmpty {
            asked = Set(query.stages).reduce(0) { $0 + (counts[$1] ?? 0) }
        } else {
            asked = total - Set(query.excludedStages).reduce(0) { $0 + (counts[$1] ?? 0) }
        }
        if !filters.isEmpty {
            // Past this many matches, finding them first costs more than the rows along the order it saves.
            let stageShare = max(Double(asked) / Double(total), 1e-9)
            let worthIt = (Double(query.page.limit + 1) * Double(total) / stageShare).squareRoot()
            let bound = Int(min(Double(Self.lookupLimit), Double(asked), worthIt.rounded(.up)))
            var best: (filter: ListPlan.Driver, matches: Int)?
            for (filter, values) in filters {
                let matches = try filter.count(of: values, upTo: bound, db)
                if matches < bound, matches < best?.matches ?? bound { best = (filter, matches) }
            }
            if let best {
                return ListPlan(driver: best.filter, indexClause: best.filter.index.map { " INDEXED BY \($0)" } ?? " NOT INDEXED")
            }
        }
        guard let orderIndex, Double(asked) >= Self.orderScanShare * Double(total) else { return ListPlan() }
        return ListPlan(indexClause: " INDEXED BY \(orderIndex)")
    }

    /// See `listPlan`: at 2%, a page of 50 is found within about 2,500 rows read in order.
    static let orderScanShare = 0.02
    /// See `listPlan`: filters matching more conversations than this, or more unassigned ones, are checked
    /// along the order.
    static let lookupLimit = 20_000

}
