import Foundation

/// The PostgreSQL schema as numbered migrations, applied in order inside one transaction each. A migration
/// never changes once it has shipped: a change is a new migration at the end. A new `ObjectKind` needs a
/// migration creating its number sequence (`number_<kind>`).
enum PostgresSchema {
    struct Migration {
        var version: Int
        var name: String
        var sql: String
    }

    static var latestVersion: Int { migrations.last?.version ?? 0 }

    /// A migration's statements, one by one (the extended protocol runs one statement at a time): its text
    /// without `--` comments, split at each `;` (no migration has one inside a literal).
    static func statements(_ sql: String) -> [String] {
        sql.split(separator: "\n").map { line in
            line.range(of: "--").map { String(line[..<$0.lowerBound]) } ?? String(line)
        }.joined(separator: "\n").split(separator: ";").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
    }

    static let migrations: [Migration] = [
        Migration(version: 1, name: "core", sql: """
        CREATE TABLE objects (
            kind TEXT NOT NULL, number BIGINT NOT NULL, doc TEXT NOT NULL,
            created_ms BIGINT NOT NULL, modified_ms BIGINT NOT NULL, deleted BOOLEAN NOT NULL DEFAULT false,
            PRIMARY KEY (kind, number));
        CREATE INDEX objects_by_created ON objects (kind, created_ms, number) WHERE NOT deleted;
        CREATE INDEX objects_by_modified ON objects (kind, modified_ms, number) WHERE NOT deleted;
        -- Lookup keys of directory objects (an email, a domain, a link's ends); unique ones are unique here,
        -- so two servers inserting the same email at once cannot both succeed.
        CREATE TABLE object_keys (
            kind TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL, number BIGINT NOT NULL,
            is_unique BOOLEAN NOT NULL, PRIMARY KEY (kind, name, value, number));
        CREATE UNIQUE INDEX object_keys_unique ON object_keys (kind, name, value) WHERE is_unique;
        CREATE INDEX object_keys_by_object ON object_keys (kind, number);

        CREATE TABLE conversations (
            number BIGINT PRIMARY KEY, doc TEXT NOT NULL, stage TEXT NOT NULL, priority INTEGER NOT NULL,
            grp BIGINT, rev_org BIGINT, source_channel TEXT NOT NULL, is_spam BOOLEAN NOT NULL,
            created_ms BIGINT NOT NULL, modified_ms BIGINT NOT NULL, waiting_ms BIGINT,
            deleted BOOLEAN NOT NULL DEFAULT false, external_ref TEXT, unassigned BOOLEAN NOT NULL);
        CREATE UNIQUE INDEX conversations_by_external_ref ON conversations (external_ref) WHERE external_ref IS NOT NULL;
        -- The inbox's orders, each with the stage first for stage views and without for the others.
        CREATE INDEX conversations_by_stage_priority ON conversations
            (stage, priority, COALESCE(waiting_ms, 9007199254740991), number) WHERE NOT deleted;
        CREATE INDEX conversations_by_priority ON conversations
            (priority, COALESCE(waiting_ms, 9007199254740991), number) WHERE NOT deleted;
        CREATE INDEX conversations_by_created ON conversations (created_ms, number) WHERE NOT deleted;
        CREATE INDEX conversations_by_modified ON conversations (modified_ms, number) WHERE NOT deleted;
        CREATE INDEX conversations_by_stage_created ON conversations (stage, created_ms, number) WHERE NOT deleted;
        CREATE INDEX conversations_by_stage_modified ON conversations (stage, modified_ms, number) WHERE NOT deleted;
        CREATE INDEX conversations_by_rev_org ON conversations (rev_org, created_ms, number) WHERE NOT deleted;
        CREATE INDEX conversations_by_group ON conversations (grp, created_ms, number) WHERE NOT deleted AND grp IS NOT NULL;
        CREATE INDEX conversations_by_channel ON conversations (source_channel, created_ms, number) WHERE NOT deleted;
        CREATE INDEX conversations_unassigned ON conversations
            (priority, COALESCE(waiting_ms, 9007199254740991), number) WHERE NOT deleted AND unassigned;
        CREATE INDEX conversations_spam ON conversations (number) WHERE NOT deleted AND is_spam;

        CREATE TABLE conversation_owners (owner BIGINT NOT NULL, conversation BIGINT NOT NULL, PRIMARY KEY (owner, conversation));
        CREATE INDEX conversation_owners_by_conversation ON conversation_owners (conversation);
        CREATE TABLE conversation_members (member TEXT NOT NULL, conversation BIGINT NOT NULL, PRIMARY KEY (member, conversation));
        CREATE INDEX conversation_members_by_conversation ON conversation_members (conversation);
        CREATE TABLE conversation_tags (tag BIGINT NOT NULL, conversation BIGINT NOT NULL, value TEXT,
            PRIMARY KEY (tag, conversation));
        CREATE INDEX conversation_tags_by_conversation ON conversation_tags (conversation);

        CREATE TABLE timeline_entries (
            number BIGINT PRIMARY KEY, conversation BIGINT NOT NULL, doc TEXT NOT NULL,
            visibility TEXT NOT NULL, author TEXT NOT NULL, created_ms BIGINT NOT NULL, external_ref TEXT);
        CREATE INDEX timeline_by_conversation ON timeline_entries (conversation, created_ms, number);
        CREATE UNIQUE INDEX timeline_by_external_ref ON timeline_entries (conversation, external_ref)
            WHERE external_ref IS NOT NULL;

        -- Full-text search: titles (id -number) and comments (id = the entry's number), their words as the
        -- store splits them (letters and digits, lower case, without diacritics: the same words as SQLite's
        -- FTS5 index). readers: 0 everyone, 1 the support team, minus the author's number for a private note.
        CREATE TABLE conversation_text (
            id BIGINT PRIMARY KEY, conversation BIGINT NOT NULL, readers BIGINT NOT NULL, words TSVECTOR NOT NULL);
        CREATE INDEX conversation_text_words ON conversation_text USING GIN (words);
        CREATE INDEX conversation_text_by_conversation ON conversation_text (conversation);

        CREATE TABLE events (seq BIGSERIAL PRIMARY KEY, object TEXT NOT NULL, at_ms BIGINT NOT NULL, doc TEXT NOT NULL);
        CREATE INDEX events_by_object ON events (object, at_ms, seq);

        -- The outbox: sequences are given out under the position row's lock, in commit order (decision 0009).
        CREATE TABLE outbox (seq BIGINT PRIMARY KEY, type TEXT NOT NULL, conversation BIGINT NOT NULL,
            at_ms BIGINT NOT NULL, doc TEXT NOT NULL);
        CREATE TABLE outbox_position (singleton BOOLEAN PRIMARY KEY DEFAULT true CHECK (singleton),
            latest BIGINT NOT NULL, horizon BIGINT NOT NULL);
        INSERT INTO outbox_position (latest, horizon) VALUES (0, 0);

        CREATE TABLE stage_counts (stage TEXT PRIMARY KEY, count BIGINT NOT NULL);
        CREATE TABLE deadlines (conversation BIGINT PRIMARY KEY, due_ms BIGINT NOT NULL);
        CREATE INDEX deadlines_by_due ON deadlines (due_ms, conversation);

        CREATE TABLE tokens (hash TEXT PRIMARY KEY, number BIGINT NOT NULL UNIQUE, subject TEXT NOT NULL, doc TEXT NOT NULL);
        CREATE INDEX tokens_by_subject ON tokens (subject, number);
        CREATE TABLE credentials (subject TEXT PRIMARY KEY, doc TEXT NOT NULL, modified_ms BIGINT NOT NULL);
        CREATE TABLE configurations (
            kind TEXT NOT NULL, version INTEGER NOT NULL, doc TEXT NOT NULL, actor TEXT NOT NULL,
            created_ms BIGINT NOT NULL, PRIMARY KEY (kind, version));
        CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_ms BIGINT NOT NULL);
        -- Numbers per kind (ObjectKind's raw values): sequences never hand a number out twice and never wait
        -- on another transaction.
        CREATE SEQUENCE number_conversation; CREATE SEQUENCE number_comment; CREATE SEQUENCE number_devu;
        CREATE SEQUENCE number_revu; CREATE SEQUENCE number_revo; CREATE SEQUENCE number_sysu;
        CREATE SEQUENCE number_account; CREATE SEQUENCE number_group; CREATE SEQUENCE number_tag;
        CREATE SEQUENCE number_link; CREATE SEQUENCE number_work; CREATE SEQUENCE number_webhook;
        CREATE SEQUENCE number_token;
        """),
        // A new kind of object needs its number sequence (its documents go in `objects`, like every other).
        Migration(version: 2, name: "saved replies", sql: """
        CREATE SEQUENCE number_saved_reply;
        """),
        // Who is on a conversation page (the inbox shows the others): short-lived rows, renewed while the
        // page is open, forgotten once expired.
        Migration(version: 3, name: "presence", sql: """
        CREATE TABLE presence (conversation BIGINT NOT NULL, agent BIGINT NOT NULL, state TEXT NOT NULL,
            until_ms BIGINT NOT NULL, PRIMARY KEY (conversation, agent));
        """),
        // Files attached to comments, content included (decision 0011).
        Migration(version: 4, name: "artifacts", sql: """
        CREATE SEQUENCE number_artifact;
        CREATE TABLE artifacts (number BIGINT PRIMARY KEY, doc TEXT NOT NULL, comment BIGINT, content BYTEA);
        CREATE INDEX artifacts_by_comment ON artifacts (comment) WHERE comment IS NOT NULL;
        """),
        Migration(version: 5, name: "mailboxes", sql: """
        CREATE SEQUENCE number_mailbox;
        """),
        // A mail answering a customer's earlier mail threads by that mail's Message-ID (its comment's
        // external_ref), on any conversation.
        Migration(version: 6, name: "comments by reference", sql: """
        CREATE INDEX timeline_by_reference ON timeline_entries (external_ref) WHERE external_ref IS NOT NULL;
        """),
    ]
}
