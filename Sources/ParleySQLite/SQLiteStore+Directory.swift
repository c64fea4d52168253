import Foundation
import NIOPosix
import ParleyCore
import ParleyStore
import Synchronization

extension SQLiteStore {
    // MARK: Directory objects

    func checkUnique<Object: DirectoryObject>(_ db: SQLiteConnection, _ object: Object) throws {
        for key in object.indexKeys where key.unique {
            let other = try db.scalar("""
                SELECT number FROM object_keys WHERE kind = ? AND name = ? AND value = ? AND number != ? LIMIT 1
                """, [.text(Object.kind.rawValue), .text(key.name), .text(key.value), .integer(Int64(object.number))])
            if let number = other.int {
                throw DomainError.conflict(
                    "\(ObjectID(Object.kind, number).displayID) already has \(key.name) '\(key.value)'")
            }
        }
    }

    func writeKeys<Object: DirectoryObject>(_ db: SQLiteConnection, _ object: Object) throws {
        try db.run("DELETE FROM object_keys WHERE kind = ? AND number = ?",
                   [.text(Object.kind.rawValue), .integer(Int64(object.number))])
        for key in Set(object.indexKeys) {
            try db.run("INSERT OR IGNORE INTO object_keys (kind, name, value, number, is_unique) VALUES (?, ?, ?, ?, ?)",
                       [.text(Object.kind.rawValue), .text(key.name), .text(key.value),
                        .integer(Int64(object.number)), .integer(key.unique ? 1 : 0)])
        }
    }

    func insertObject<Object: DirectoryObject>(_ db: SQLiteConnection, _ object: Object, events: [ChangeEvent]) throws {
        try checkUnique(db, object)
        try db.run("INSERT INTO objects (kind, number, doc, created_ms, modified_ms) VALUES (?, ?, ?, ?, ?)",
                   [.text(Object.kind.rawValue), .integer(Int64(object.number)), try json(object),
                    Self.ms(object.createdDate), Self.ms(object.modifiedDate)])
        try writeKeys(db, object)
        try record(db, events)
    }

    func loadObject<Object: DirectoryObject>(_ db: SQLiteConnection, _ type: Object.Type, _ number: Int) throws -> Object? {
        let value = try db.scalar("SELECT doc FROM objects WHERE kind = ? AND number = ? AND deleted = 0",
                                  [.text(Object.kind.rawValue), .integer(Int64(number))])
        if value == .null { return nil }
        return try decodeDocument(type, kind: Object.kind.rawValue, number: number, value)
    }

    public func insert<Object: DirectoryObject>(_ type: Object.Type,
                                                make: @escaping @Sendable (Int) throws -> Recorded<Object>) async throws -> Object {
        return try await write { [self] db in
            let made = try make(try nextNumber(db, Object.kind))
            try insertObject(db, made.value, events: made.events)
            return made.value
        }
    }

    public func insertPair<First: DirectoryObject, Second: DirectoryObject>(
        _ first: First.Type, _ second: Second.Type,
        make: @escaping @Sendable (Int, Int) throws -> (Recorded<First>, Recorded<Second>)) async throws -> (First, Second) {
        try await write { [self] db in
            let (a, b) = try make(try nextNumber(db, First.kind), try nextNumber(db, Second.kind))
            try insertObject(db, a.value, events: a.events)
            try insertObject(db, b.value, events: b.events)
            return (a.value, b.value)
        }
    }

    public func seed<Object: DirectoryObject>(_ objects: [Recorded<Object>]) async throws -> [Object] {
        try await write { [self] db in
            var inserted: [Object] = []
            for object in objects {
                let exists = try db.scalar("SELECT 1 FROM objects WHERE kind = ? AND number = ?",
                                           [.text(Object.kind.rawValue), .integer(Int64(object.value.number))])
                guard exists == .null else { continue }
                try insertObject(db, object.value, events: object.events)
                inserted.append(object.value)
            }
            if let highest = objects.map(\.value.number).max() {
                try db.run("""
                    INSERT INTO sequences (kind, next) VALUES (?, ?)
                    ON CONFLICT(kind) DO UPDATE SET next = MAX(next, excluded.next)
                    """, [.text(Object.kind.rawValue), .integer(Int64(highest + 1))])
            }
            return inserted
        }
    }

    public func object<Object: DirectoryObject>(_ type: Object.Type, number: Int) async throws -> Object? {
        try lookup { [self] db in try loadObject(db, type, number) }
    }

    public func references(_ wanted: ReferenceNumbers) async throws -> ReferencedObjects {
        try await referencesKindByKind(wanted)
    }

    public func customerDirectory(revUser number: Int) async throws -> ReferencedObjects {
        try await customerDirectoryOneByOne(revUser: number)
    }

    public func objects<Object: DirectoryObject>(_ type: Object.Type, numbers: Set<Int>) async throws -> [Int: Object] {
        guard !numbers.isEmpty else { return [:] }
        return try lookup { [self] db in
            let marks = SQLiteConnection.placeholders(numbers.count)
            var result: [Int: Object] = [:]
            for row in try db.query("SELECT doc, number FROM objects WHERE kind = ? AND number IN (\(marks))",
                                    [.text(Object.kind.rawValue)] + numbers.map { .integer(Int64($0)) }) {
                let object = try decodeDocument(type, kind: Object.kind.rawValue, number: row[1].int ?? 0, row[0])
                result[object.number] = object
            }
            return result
        }
    }

    public func update<Object: DirectoryObject>(_ type: Object.Type, number: Int,
                                                change: @escaping @Sendable (Object) throws -> Recorded<Object>?) async throws -> Object {
        return try await write { [self] db in
            guard let current = try loadObject(db, type, number) else {
                throw DomainError.notFound(ObjectID(Object.kind, number).displayID)
            }
            guard let next = try change(current) else { return current }
            try replaceObject(db, next)
            return next.value
        }
    }

    /// Stores an object's new version over the old (unique keys checked), with its events.
    func replaceObject<Object: DirectoryObject>(_ db: SQLiteConnection, _ next: Recorded<Object>) throws {
        try checkUnique(db, next.value)
        try db.run("UPDATE objects SET doc = ?, modified_ms = ? WHERE kind = ? AND number = ?",
                   [try json(next.value), Self.ms(next.value.modifiedDate), .text(Object.kind.rawValue), .integer(Int64(next.value.number))])
        try writeKeys(db, next.value)
        try record(db, next.events)
    }

    public func delete<Object: DirectoryObject>(_ type: Object.Type, number: Int,
                                                record events: @escaping @Sendable (Object) throws -> [ChangeEvent]) async throws {
        try await write { [self] db in
            guard let current = try loadObject(db, type, number) else {
                throw DomainError.notFound(ObjectID(Object.kind, number).displayID)
            }
            let recorded = try events(current)
            try db.run("UPDATE objects SET deleted = 1, modified_ms = ? WHERE kind = ? AND number = ?",
                       [Self.ms(recorded.last?.at ?? current.modifiedDate), .text(Object.kind.rawValue), .integer(Int64(number))])
            try db.run("DELETE FROM object_keys WHERE kind = ? AND number = ?",
                       [.text(Object.kind.rawValue), .integer(Int64(number))])
            try record(db, recorded)
        }
    }

    public func list<Object: DirectoryObject>(_ type: Object.Type, query: DirectoryQuery) async throws -> Page<Object> {
        try await read { [self] db in
            var conditions = ["o.kind = ?", "o.deleted = 0"]
            var binds: [SQLValue] = [.text(Object.kind.rawValue)]
            func keyFilter(_ name: String, _ values: [String]) -> String {
                binds.append(.text(name))
                binds += values.map { .text($0) }
                let marks = SQLiteConnection.placeholders(values.count)
                return "EXISTS (SELECT 1 FROM object_keys k WHERE k.kind = o.kind AND k.number = o.number AND k.name = ? AND k.value IN (\(marks)))"
            }
            for (name, values) in query.keys.sorted(by: { $0.key < $1.key }) where !values.isEmpty {
                conditions.append(keyFilter(name, values))
            }
            let alternatives = query.anyKeys.sorted(by: { $0.key < $1.key }).filter { !$0.value.isEmpty }
                .map { keyFilter($0.key, $0.value) }
            if !alternatives.isEmpty { conditions.append("(" + alternatives.joined(separator: " OR ") + ")") }
            appendRange(query.created, column: "o.created_ms", to: &conditions, &binds)
            appendRange(query.modified, column: "o.modified_ms", to: &conditions, &binds)
            let sortColumn = query.sortByModified ? "o.modified_ms" : "o.created_ms"
            let keyset = Keyset(columns: [.init(expression: sortColumn, descending: query.descending),
                                          .init(expression: "o.number", descending: query.descending)])
            return try db.page(select: "SELECT o.doc, \(sortColumn), o.number FROM objects o", conditions: conditions,
                               binds: binds, keyset: keyset, page: query.page) { row in
                try decode(type, row[0])
            }
        }
    }

    public func find<Object: DirectoryObject>(_ type: Object.Type, key: String, value: String) async throws -> [Object] {
        try lookup { [self] db in
            try db.query("""
                SELECT o.doc, o.number FROM object_keys k JOIN objects o ON o.kind = k.kind AND o.number = k.number
                WHERE k.kind = ? AND k.name = ? AND k.value = ? AND o.deleted = 0 ORDER BY o.number
                """, [.text(Object.kind.rawValue), .text(key), .text(value)]).map { row in
                try decodeDocument(type, kind: Object.kind.rawValue, number: row[1].int ?? 0, row[0])
            }
        }
    }

    func appendRange(_ range: DateRange, column: String, to conditions: inout [String], _ binds: inout [SQLValue]) {
        if let after = range.after {
            conditions.append("\(column) >= ?")
            binds.append(Self.ms(after))
        }
        if let before = range.before {
            conditions.append("\(column) <= ?")
            binds.append(Self.ms(before))
        }
    }

}
