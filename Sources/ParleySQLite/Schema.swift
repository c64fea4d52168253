import ParleyStore
/// The database schema as numbered migrations. A migration never changes once it has shipped:
/// a change to the schema is a new migration at the end of the list.
enum Schema {
    struct Migration {
        var version: Int
        var name: String
        var sql: String
    }

    static let migrations: [Migration] = [
        Migration(version: 1, name: "core", sql: """
        CREATE TABLE sequences (kind TEXT PRIMARY KEY, next INTEGER NOT NULL) WITHOUT ROWID;
        CREATE TABLE objects (
            kind TEXT NOT NULL, number INTEGER NOT NULL, doc TEXT NOT NULL,
            created_ms INTEGER NOT NULL, modified_ms INTEGER NOT NULL, deleted INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (kind, number)) WITHOUT ROWID;
        CREATE INDEX objects_by_modified ON objects (kind, modified_ms, number);
        CREATE TABLE object_keys (
            kind TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL, number INTEGER NOT NULL,
            is_unique INTEGER NOT NULL,
            PRIMARY KEY (kind, name, value, number)) WITHOUT ROWID;
        CREATE INDEX object_keys_by_object ON object_keys (kind, number);
        CREATE TABLE conversations (
            number INTEGER PRIMARY KEY, doc TEXT NOT NULL, stage TEXT NOT NULL, priority INTEGER NOT NULL,
            grp INTEGER, rev_org INTEGER, source_channel TEXT NOT NULL, is_spam INTEGER NOT NULL,
            created_ms INTEGER NOT NULL, modified_ms INTEGER NOT NULL, waiting_ms INTEGER,
            deleted INTEGER NOT NULL DEFAULT 0);
        CREATE INDEX conversations_by_stage ON conversations (stage, priority, waiting_ms, number);
        CREATE INDEX conversations_by_modified ON conversations (modified_ms, number);
        CREATE INDEX conversations_by_created ON conversations (created_ms, number);
        CREATE INDEX conversations_by_rev_org ON conversations (rev_org, created_ms);
        CREATE TABLE conversation_owners (owner INTEGER NOT NULL, conversation INTEGER NOT NULL,
            PRIMARY KEY (owner, conversation)) WITHOUT ROWID;
        CREATE INDEX conversation_owners_by_conversation ON conversation_owners (conversation);
        CREATE TABLE conversation_members (member TEXT NOT NULL, conversation INTEGER NOT NULL,
            PRIMARY KEY (member, conversation)) WITHOUT ROWID;
        CREATE INDEX conversation_members_by_conversation ON conversation_members (conversation);
        CREATE TABLE conversation_tags (tag INTEGER NOT NULL, conversation INTEGER NOT NULL, value TEXT,
            PRIMARY KEY (tag, conversation)) WITHOUT ROWID;
        CREATE INDEX conversation_tags_by_conversation ON conversation_tags (conversation);
        CREATE TABLE timeline_entries (
            number INTEGER PRIMARY KEY, conversation INTEGER NOT NULL, doc TEXT NOT NULL,
            visibility TEXT NOT NULL, author TEXT NOT NULL, created_ms INTEGER NOT NULL, external_ref TEXT);
        CREATE INDEX timeline_by_conversation ON timeline_entries (conversation, created_ms, number);
        CREATE UNIQUE INDEX timeline_by_external_ref ON timeline_entries (conversation, external_ref)
            WHERE external_ref IS NOT NULL;
        CREATE TABLE events (seq INTEGER PRIMARY KEY, object TEXT NOT NULL, at_ms INTEGER NOT NULL, doc TEXT NOT NULL);
        CREATE INDEX events_by_object ON events (object, at_ms, seq);
        CREATE TABLE tokens (
            hash TEXT PRIMARY KEY, subject TEXT NOT NULL, doc TEXT NOT NULL) WITHOUT ROWID;
        CREATE INDEX tokens_by_subject ON tokens (subject);
        CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
        """),
        Migration(version: 2, name: "configurations", sql: """
        CREATE TABLE configurations (
            kind TEXT NOT NULL, version INTEGER NOT NULL, doc TEXT NOT NULL, actor TEXT NOT NULL,
            created_ms INTEGER NOT NULL, PRIMARY KEY (kind, version)) WITHOUT ROWID;
        """),
        Migration(version: 3, name: "deadlines", sql: """
        CREATE TABLE deadlines (conversation INTEGER PRIMARY KEY, due_ms INTEGER NOT NULL);
        CREATE INDEX deadlines_by_due ON deadlines (due_ms);
        """),
        Migration(version: 4, name: "outbox", sql: """
        CREATE TABLE outbox (seq INTEGER PRIMARY KEY, type TEXT NOT NULL, conversation INTEGER NOT NULL,
            at_ms INTEGER NOT NULL, doc TEXT NOT NULL);
        CREATE INDEX outbox_by_conversation ON outbox (conversation, seq);
        """),
        Migration(version: 5, name: "conversation external refs", sql: """
        ALTER TABLE conversations ADD COLUMN external_ref TEXT;
        CREATE UNIQUE INDEX conversations_by_external_ref ON conversations (external_ref) WHERE external_ref IS NOT NULL;
        """),
        Migration(version: 6, name: "inbox: credentials, stage counters, full-text search", sql: """
        CREATE TABLE credentials (subject TEXT PRIMARY KEY, doc TEXT NOT NULL, modified_ms INTEGER NOT NULL) WITHOUT ROWID;

        -- Conversations per stage, kept true by triggers in the writing transaction (never counted per request).
        -- Conversations are saved with INSERT OR REPLACE: the BEFORE INSERT trigger takes the old row out.
        CREATE TABLE stage_counts (stage TEXT PRIMARY KEY, count INTEGER NOT NULL) WITHOUT ROWID;
        INSERT INTO stage_counts (stage, count) SELECT stage, count(*) FROM conversations WHERE deleted = 0 GROUP BY stage;
        CREATE TRIGGER stage_counts_before_save BEFORE INSERT ON conversations BEGIN
            UPDATE stage_counts SET count = count - 1
            WHERE stage = (SELECT stage FROM conversations WHERE number = new.number AND deleted = 0);
        END;
        CREATE TRIGGER stage_counts_after_save AFTER INSERT ON conversations WHEN new.deleted = 0 BEGIN
            INSERT INTO stage_counts (stage, count) VALUES (new.stage, 1) ON CONFLICT(stage) DO UPDATE SET count = count + 1;
        END;
        CREATE TRIGGER stage_counts_after_delete AFTER UPDATE OF deleted ON conversations
        WHEN old.deleted = 0 AND new.deleted != 0 BEGIN
            UPDATE stage_counts SET count = count - 1 WHERE stage = old.stage;
        END;

        -- Full-text search over titles (rowid -number) and comments (rowid = the entry's number).
        CREATE VIRTUAL TABLE conversation_text USING fts5(
            text, conversation UNINDEXED, is_note UNINDEXED, tokenize = 'unicode61 remove_diacritics 2');
        INSERT INTO conversation_text (rowid, text, conversation, is_note)
            SELECT -number, json_extract(doc, '$.title'), number, 0 FROM conversations WHERE deleted = 0;
        INSERT INTO conversation_text (rowid, text, conversation, is_note)
            SELECT number, json_extract(doc, '$.body'), conversation, visibility IN ('private', 'internal')
            FROM timeline_entries WHERE NOT json_extract(doc, '$.isDeleted');
        CREATE TRIGGER conversation_text_title BEFORE INSERT ON conversations
        WHEN (SELECT json_extract(doc, '$.title') FROM conversations WHERE number = new.number)
             IS NOT json_extract(new.doc, '$.title') BEGIN
            DELETE FROM conversation_text WHERE rowid = -new.number;
            INSERT INTO conversation_text (rowid, text, conversation, is_note)
                VALUES (-new.number, json_extract(new.doc, '$.title'), new.number, 0);
        END;
        CREATE TRIGGER conversation_text_comment_insert AFTER INSERT ON timeline_entries BEGIN
            INSERT INTO conversation_text (rowid, text, conversation, is_note)
                VALUES (new.number, json_extract(new.doc, '$.body'), new.conversation, new.visibility IN ('private', 'internal'));
        END;
        CREATE TRIGGER conversation_text_comment_update AFTER UPDATE OF doc ON timeline_entries BEGIN
            DELETE FROM conversation_text WHERE rowid = old.number;
            INSERT INTO conversation_text (rowid, text, conversation, is_note)
                SELECT new.number, json_extract(new.doc, '$.body'), new.conversation, new.visibility IN ('private', 'internal')
                WHERE NOT json_extract(new.doc, '$.isDeleted');
        END;
        """),
        Migration(version: 7, name: "inbox order index", sql: """
        CREATE INDEX conversations_by_stage_priority_waiting ON conversations
            (stage, priority, COALESCE(waiting_ms, 9007199254740991), number) WHERE deleted = 0;
        """),
        // The store writes the full-text index itself, once per transaction after the use cases' savepoints
        // (FTS5 flushes a segment at every savepoint: one per use case with triggers).
        Migration(version: 8, name: "full-text index written by the store", sql: """
        DROP TRIGGER conversation_text_title;
        DROP TRIGGER conversation_text_comment_insert;
        DROP TRIGGER conversation_text_comment_update;
        """),
        // Stored conversations are updated in place (only the changed columns, so only their indexes are
        // rewritten) rather than replaced: the stage counters follow the stage on update too.
        Migration(version: 9, name: "stage counters follow updates", sql: """
        CREATE TRIGGER stage_counts_after_update AFTER UPDATE OF stage ON conversations
        WHEN old.deleted = 0 AND new.deleted = 0 AND old.stage IS NOT new.stage BEGIN
            UPDATE stage_counts SET count = count - 1 WHERE stage = old.stage;
            INSERT INTO stage_counts (stage, count) VALUES (new.stage, 1) ON CONFLICT(stage) DO UPDATE SET count = count + 1;
        END;
        """),
        // Lists by priority over several stages (the inbox's "all" view leaves out only suspended spam) read
        // this in order instead of sorting every conversation of those stages (see `SQLiteStore.listPlan`).
        Migration(version: 10, name: "priority order without a stage", sql: """
        CREATE INDEX conversations_by_priority_waiting ON conversations
            (priority, COALESCE(waiting_ms, 9007199254740991), number) WHERE deleted = 0;
        """),
        // The inbox's "unassigned" view: conversations nobody owns, usually few among many, found through an
        // index of just them instead of checking every conversation's owners along the order.
        Migration(version: 11, name: "unassigned conversations", sql: """
        ALTER TABLE conversations ADD COLUMN unassigned INTEGER NOT NULL DEFAULT 0;
        UPDATE conversations SET unassigned = 1
            WHERE NOT EXISTS (SELECT 1 FROM conversation_owners x WHERE x.conversation = conversations.number);
        CREATE INDEX conversations_unassigned ON conversations
            (priority, COALESCE(waiting_ms, 9007199254740991), number) WHERE deleted = 0 AND unassigned = 1;
        """),
        // Every index a write changes is a page in its commit's WAL frames, and the commit's fsync grows with
        // them (decision 0004). These two were read by no query: lists filtered by stage use the partial
        // index of schema 7 (every list asks for deleted = 0), and the outbox is read by sequence only.
        Migration(version: 12, name: "drop unread indexes", sql: """
        DROP INDEX conversations_by_stage;
        DROP INDEX outbox_by_conversation;
        """),
        // A group filter (the inbox's group views) finds its conversations here when they are few, instead of
        // checking every conversation's group along the list's order (see `SQLiteStore.listPlan`).
        Migration(version: 13, name: "conversations by group", sql: """
        CREATE INDEX conversations_by_group ON conversations (grp) WHERE deleted = 0 AND grp IS NOT NULL;
        """),
        // The same for a source channel (a rare one, or one never used, read every conversation) and for spam
        // (few, and only those are in the index).
        Migration(version: 14, name: "conversations by channel, and spam", sql: """
        CREATE INDEX conversations_by_channel ON conversations (source_channel) WHERE deleted = 0;
        CREATE INDEX conversations_spam ON conversations (number) WHERE deleted = 0 AND is_spam = 1;
        """),
        // Private notes were searchable by every agent (issue 15, item 8): a private note's `is_note` becomes
        // minus its author's number, so that only its author's searches read it.
        Migration(version: 15, name: "private notes searched by their author only", sql: """
        UPDATE conversation_text
            SET is_note = -(SELECT CAST(substr(author, 6) AS INTEGER) FROM timeline_entries WHERE number = conversation_text.rowid)
            WHERE rowid IN (SELECT number FROM timeline_entries WHERE visibility = 'private' AND author LIKE 'DEVU-%');
        """),
        // Tokens get a number (their id, `TOKEN-n`) so they can be listed and revoked without their secret or
        // hash: existing ones in the order they were issued, new ones from the `token` sequence.
        Migration(version: 16, name: "token numbers", sql: """
        ALTER TABLE tokens ADD COLUMN number INTEGER;
        UPDATE tokens SET number = numbered.n FROM (
            SELECT hash, ROW_NUMBER() OVER (ORDER BY json_extract(doc, '$.createdDate'), hash) AS n FROM tokens) AS numbered
            WHERE tokens.hash = numbered.hash;
        CREATE UNIQUE INDEX tokens_by_number ON tokens (number);
        INSERT INTO sequences (kind, next) SELECT 'token', COALESCE(MAX(number), 0) + 1 FROM tokens WHERE true
            ON CONFLICT(kind) DO UPDATE SET next = MAX(next, excluded.next);
        """),
            // Leases for background jobs (timers, webhook deliveries, pruning): one server runs each. On one
        // SQLite file there is one server, which always gets them; the table keeps the contract the same.
        Migration(version: 17, name: "leases", sql: """
        CREATE TABLE leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_ms INTEGER NOT NULL) WITHOUT ROWID;
        """),
        // Who is on a conversation page (the inbox shows the others): short-lived rows, renewed while the
        // page is open, forgotten once expired.
        Migration(version: 18, name: "presence", sql: """
        CREATE TABLE presence (conversation INTEGER NOT NULL, agent INTEGER NOT NULL, state TEXT NOT NULL,
            until_ms INTEGER NOT NULL, PRIMARY KEY (conversation, agent)) WITHOUT ROWID;
        """),
        // Files attached to comments, content included (decision 0011): the metadata document, the comment
        // it is attached to (NULL until then), the bytes (NULL until uploaded).
        Migration(version: 19, name: "artifacts", sql: """
        CREATE TABLE artifacts (number INTEGER PRIMARY KEY, doc TEXT NOT NULL, comment INTEGER, content BLOB);
        CREATE INDEX artifacts_by_comment ON artifacts (comment) WHERE comment IS NOT NULL;
        """),
        // A mail answering a customer's earlier mail threads by that mail's Message-ID, kept as its
        // comment's external_ref: found on any conversation.
        Migration(version: 20, name: "comments by reference", sql: """
        CREATE INDEX timeline_by_reference ON timeline_entries (external_ref) WHERE external_ref IS NOT NULL;
        """),
    ]
}
