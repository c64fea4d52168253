import Foundation
import ParleyCore
import ParleyStore

extension PostgresWrite {
    func checkUnique<Object: DirectoryObject>(_ object: Object) async throws {
        for key in object.indexKeys where key.unique {
            let other = try await scalar("""
                SELECT number FROM object_keys WHERE kind = ? AND name = ? AND value = ? AND number != ? AND is_unique LIMIT 1
                """, [.text(Object.kind.rawValue), .text(key.name), .text(key.value), .integer(object.number)])
            if let number = other.int {
                throw DomainError.conflict("\(ObjectID(Object.kind, number).displayID) already has \(key.name) '\(key.value)'")
            }
        }
    }

    func writeKeys<Object: DirectoryObject>(_ object: Object) async throws {
        try await run("DELETE FROM object_keys WHERE kind = ? AND number = ?", [.text(Object.kind.rawValue), .integer(object.number)])
        let keys = Array(Set(object.indexKeys))
        guard !keys.isEmpty else { return }
        // A name and value listed both as unique and not: the unique one is kept.
        try await run("""
            INSERT INTO object_keys (kind, name, value, number, is_unique)
            SELECT ?, name, value, ?, bool_or(is_unique) FROM unnest(?::text[], ?::text[], ?::bool[]) AS k(name, value, is_unique)
            GROUP BY name, value
            """, [.text(Object.kind.rawValue), .integer(object.number), .texts(keys.map(\.name)), .texts(keys.map(\.value)),
                  .bools(keys.map(\.unique))])
    }

    func insertObject<Object: DirectoryObject>(_ object: Object, events: [ChangeEvent]) async throws {
        try await checkUnique(object)
        try await run("INSERT INTO objects (kind, number, doc, created_ms, modified_ms) VALUES (?, ?, ?, ?, ?)",
                      [.text(Object.kind.rawValue), .integer(object.number), try PostgresStore.json(object),
                       .ms(object.createdDate), .ms(object.modifiedDate)])
        try await writeKeys(object)
        try await record(events)
    }

    /// The object as stored, locked until the transaction ends.
    func loadObject<Object: DirectoryObject>(_ type: Object.Type, _ number: Int) async throws -> Object? {
        let value = try await scalar("SELECT doc FROM objects WHERE kind = ? AND number = ? AND NOT deleted FOR UPDATE",
                                     [.text(Object.kind.rawValue), .integer(number)])
        if value == .null { return nil }
        return try PostgresStore.decode(type, value)
    }

    func replaceObject<Object: DirectoryObject>(_ next: Recorded<Object>) async throws {
        try await checkUnique(next.value)
        try await run("UPDATE objects SET doc = ?, modified_ms = ? WHERE kind = ? AND number = ?",
                      [try PostgresStore.json(next.value), .ms(next.value.modifiedDate), .text(Object.kind.rawValue),
                       .integer(next.value.number)])
        try await writeKeys(next.value)
        try await record(next.events)
    }
}

extension PostgresStore {
    public func insert<Object: DirectoryObject>(_ type: Object.Type,
                                                make: @escaping @Sendable (Int) throws -> Recorded<Object>) async throws -> Object {
        try await write { db in
            let made = try make(try await db.nextNumber(Object.kind))
            try await db.insertObject(made.value, events: made.events)
            return made.value
        }
    }

    public func insertPair<First: DirectoryObject, Second: DirectoryObject>(
        _ first: First.Type, _ second: Second.Type,
        make: @escaping @Sendable (Int, Int) throws -> (Recorded<First>, Recorded<Second>)) async throws -> (First, Second) {
        try await write { db in
            let (a, b) = try make(try await db.nextNumber(First.kind), try await db.nextNumber(Second.kind))
            try await db.insertObject(a.value, events: a.events)
            try await db.insertObject(b.value, events: b.events)
            return (a.value, b.value)
        }
    }

    public func seed<Object: DirectoryObject>(_ objects: [Recorded<Object>]) async throws -> [Object] {
        try await write { db in
            var inserted: [Object] = []
            for object in objects {
                let exists = try await db.scalar("SELECT 1 FROM objects WHERE kind = ? AND number = ?",
                                                 [.text(Object.kind.rawValue), .integer(object.value.number)])
                guard exists == .null else { continue }
                try await db.insertObject(object.value, events: object.events)
                inserted.append(object.value)
            }
            if let highest = objects.map(\.value.number).max() {
                let sequence = PGValue.text("number_\(Object.kind.rawValue)")
                try await db.run("SELECT setval(?::regclass, ?) WHERE COALESCE(pg_sequence_last_value(?::regclass), 0) < ?",
                                 [sequence, .integer(highest), sequence, .integer(highest)])
            }
            return inserted
        }
    }

    public func object<Object: DirectoryObject>(_ type: Object.Type, number: Int) async throws -> Object? {
        try await read { db in
            let value = try await db.scalar("SELECT doc FROM objects WHERE kind = ? AND number = ? AND NOT deleted",
                                            [.text(Object.kind.rawValue), .integer(number)])
            return value == .null ? nil : try self.cached(type, kind: Object.kind.rawValue, number: number, value)
        }
    }

    public func objects<Object: DirectoryObject>(_ type: Object.Type, numbers: Set<Int>) async throws -> [Int: Object] {
        guard !numbers.isEmpty else { return [:] }
        return try await read { db in
            var result: [Int: Object] = [:]
            for row in try await db.query("SELECT doc, number FROM objects WHERE kind = ? AND number = ANY(?::bigint[])",
                                          [.text(Object.kind.rawValue), .integers(Array(numbers))]) {
                let object = try self.cached(type, kind: Object.kind.rawValue, number: row[1].int ?? 0, row[0])
                result[object.number] = object
            }
            return result
        }
    }

    /// One statement for every kind (and the artifacts); a second only for rev orgs of the rev users found
    /// that were not asked for (a customer's org is usually their conversation's, which is).
    public func references(_ wanted: ReferenceNumbers) async throws -> ReferencedObjects {
        guard !wanted.isEmpty else { return ReferencedObjects() }
        var kinds: [String] = []
        var numbers: [Int] = []
        func want(_ kind: ObjectKind, _ wanted: Set<Int>) {
            for number in wanted.sorted() {
                kinds.append(kind.rawValue)
                numbers.append(number)
            }
        }
        want(DevUser.kind, wanted.devUsers)
        want(RevUser.kind, wanted.revUsers)
        want(RevOrg.kind, wanted.revOrgs)
        want(Account.kind, wanted.accounts)
        want(Group.kind, wanted.groups)
        want(Tag.kind, wanted.tags)
        want(Work.kind, wanted.works)
        let values: [PGValue] = [.texts(kinds), .integers(numbers), .integers(wanted.artifacts.sorted())]
        let rows = try await read { db in
            try await db.query("""
                SELECT o.kind, o.number, o.doc FROM unnest(?::text[], ?::bigint[]) AS w(kind, number)
                JOIN objects o ON o.kind = w.kind AND o.number = w.number
                UNION ALL SELECT 'artifact', number, doc FROM artifacts WHERE number = ANY(?::bigint[])
                """, values)
        }
        var found = try referencedObjects(rows)
        let orgs = Set(found.revUsers.values.compactMap(\.revOrg)).subtracting(wanted.revOrgs)
        if !orgs.isEmpty {
            found.revOrgs.merge(try await objects(RevOrg.self, numbers: orgs)) { first, _ in first }
        }
        return found
    }

    /// One statement: the customer, then the org, account and owners their lookup keys name (`rev_org` of
    /// the rev user, `account` of the rev org, `owned_by` of the account: kept with each object in the same
    /// transaction as its document).
    public func customerDirectory(revUser number: Int) async throws -> ReferencedObjects {
        let values: [PGValue] = [.integer(number), .text(RevUser.kind.rawValue), .text(RevOrg.kind.rawValue),
                                 .text(Account.kind.rawValue), .text(DevUser.kind.rawValue)]
        let rows = try await read { db in
            try await db.query("""
                WITH wanted AS (SELECT ?::bigint AS number, ?::text AS user_kind, ?::text AS org_kind, ?::text AS account_kind,
                                       ?::text AS agent_kind),
                customer AS (
                    SELECT u.kind, u.number, u.doc FROM wanted w
                    JOIN objects u ON u.kind = w.user_kind AND u.number = w.number AND NOT u.deleted),
                org AS (
                    SELECT o.kind, o.number, o.doc FROM wanted w JOIN customer c ON true
                    JOIN object_keys k ON k.kind = w.user_kind AND k.number = w.number AND k.name = 'rev_org'
                    JOIN objects o ON o.kind = w.org_kind AND o.number = k.value::bigint AND NOT o.deleted),
                account AS (
                    SELECT a.kind, a.number, a.doc FROM wanted w JOIN org ON true
                    JOIN object_keys k ON k.kind = w.org_kind AND k.number = org.number AND k.name = 'account'
                    JOIN objects a ON a.kind = w.account_kind AND a.number = k.value::bigint AND NOT a.deleted),
                owners AS (
                    SELECT d.kind, d.number, d.doc FROM wanted w JOIN account ON true
                    JOIN object_keys k ON k.kind = w.account_kind AND k.number = account.number AND k.name = 'owned_by'
                    JOIN objects d ON d.kind = w.agent_kind AND d.number = k.value::bigint AND NOT d.deleted)
                SELECT kind, number, doc FROM customer UNION ALL SELECT kind, number, doc FROM org
                UNION ALL SELECT kind, number, doc FROM account UNION ALL SELECT kind, number, doc FROM owners
                """, values)
        }
        return try referencedObjects(rows)
    }

    /// Rows of (kind, number, document), decoded into what they are.
    private func referencedObjects(_ rows: [[PGValue]]) throws -> ReferencedObjects {
        var found = ReferencedObjects()
        for row in rows {
            let number = row[1].int ?? 0
            guard let kind = row[0].string.flatMap(ObjectKind.init(rawValue:)) else { continue }
            switch kind {
            case DevUser.kind: found.devUsers[number] = try cached(DevUser.self, kind: DevUser.kind.rawValue, number: number, row[2])
            case RevUser.kind: found.revUsers[number] = try cached(RevUser.self, kind: RevUser.kind.rawValue, number: number, row[2])
            case RevOrg.kind: found.revOrgs[number] = try cached(RevOrg.self, kind: RevOrg.kind.rawValue, number: number, row[2])
            case Account.kind: found.accounts[number] = try cached(Account.self, kind: Account.kind.rawValue, number: number, row[2])
            case Group.kind: found.groups[number] = try cached(Group.self, kind: Group.kind.rawValue, number: number, row[2])
            case Tag.kind: found.tags[number] = try cached(Tag.self, kind: Tag.kind.rawValue, number: number, row[2])
            case Work.kind: found.works[number] = try cached(Work.self, kind: Work.kind.rawValue, number: number, row[2])
            case .artifact: found.artifacts[number] = try Self.decode(Artifact.self, row[2])
            default: continue
            }
        }
        return found
    }

    public func update<Object: DirectoryObject>(_ type: Object.Type, number: Int,
                                                change: @escaping @Sendable (Object) throws -> Recorded<Object>?) async throws -> Object {
        try await write { db in
            guard let current = try await db.loadObject(type, number) else {
                throw DomainError.notFound(ObjectID(Object.kind, number).displayID)
            }
            guard let next = try change(current) else { return current }
            try await db.replaceObject(next)
            return next.value
        }
    }

    public func delete<Object: DirectoryObject>(_ type: Object.Type, number: Int,
                                                record events: @escaping @Sendable (Object) throws -> [ChangeEvent]) async throws {
        try await write { db in
            guard let current = try await db.loadObject(type, number) else {
                throw DomainError.notFound(ObjectID(Object.kind, number).displayID)
            }
            let recorded = try events(current)
            try await db.run("UPDATE objects SET deleted = true, modified_ms = ? WHERE kind = ? AND number = ?",
                             [.ms(recorded.last?.at ?? current.modifiedDate), .text(Object.kind.rawValue), .integer(number)])
            try await db.run("DELETE FROM object_keys WHERE kind = ? AND number = ?", [.text(Object.kind.rawValue), .integer(number)])
            try await db.record(recorded)
        }
    }

    public func list<Object: DirectoryObject>(_ type: Object.Type, query: DirectoryQuery) async throws -> Page<Object> {
        try await read { db in
            var conditions = ["o.kind = ?", "NOT o.deleted"]
            var binds: [PGValue] = [.text(Object.kind.rawValue)]
            func keyFilter(_ name: String, _ values: [String]) -> String {
                binds.append(.text(name))
                binds.append(.texts(values))
                return "EXISTS (SELECT 1 FROM object_keys k WHERE k.kind = o.kind AND k.number = o.number AND k.name = ? AND k.value = ANY(?::text[]))"
            }
            for (name, values) in query.keys.sorted(by: { $0.key < $1.key }) where !values.isEmpty {
                conditions.append(keyFilter(name, values))
            }
            let alternatives = query.anyKeys.sorted(by: { $0.key < $1.key }).filter { !$0.value.isEmpty }
                .map { keyFilter($0.key, $0.value) }
            if !alternatives.isEmpty { conditions.append("(" + alternatives.joined(separator: " OR ") + ")") }
            Self.appendRange(query.created, column: "o.created_ms", to: &conditions, &binds)
            Self.appendRange(query.modified, column: "o.modified_ms", to: &conditions, &binds)
            let sortColumn = query.sortByModified ? "o.modified_ms" : "o.created_ms"
            let keyset = PostgresKeyset(columns: [sortColumn, "o.number"], descending: query.descending)
            return try await db.page(select: "SELECT o.doc, \(sortColumn), o.number FROM objects o", conditions: conditions,
                                     binds: binds, keyset: keyset, page: query.page) { row in
                try self.cached(type, kind: Object.kind.rawValue, number: row[2].int ?? 0, row[0])
            }
        }
    }

    public func find<Object: DirectoryObject>(_ type: Object.Type, key: String, value: String) async throws -> [Object] {
        try await read { db in
            try await db.query("""
                SELECT o.doc, o.number FROM object_keys k JOIN objects o ON o.kind = k.kind AND o.number = k.number
                WHERE k.kind = ? AND k.name = ? AND k.value = ? AND NOT o.deleted ORDER BY o.number
                """, [.text(Object.kind.rawValue), .text(key), .text(value)]).map {
                try self.cached(type, kind: Object.kind.rawValue, number: $0[1].int ?? 0, $0[0])
            }
        }
    }

    static func appendRange(_ range: DateRange, column: String, to conditions: inout [String], _ binds: inout [PGValue]) {
        if let after = range.after {
            conditions.append("\(column) >= ?")
            binds.append(.ms(after))
        }
        if let before = range.before {
            conditions.append("\(column) <= ?")
            binds.append(.ms(before))
        }
    }
}
