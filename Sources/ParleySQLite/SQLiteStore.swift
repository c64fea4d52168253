import Foundation
import NIOPosix
import ParleyCore
import ParleyStore
import Synchronization

/// The embedded store: one SQLite file in WAL mode. One writer thread owns the write connection and commits
/// in groups: use cases queue up while it is busy, and it then runs everything waiting in one
/// `BEGIN IMMEDIATE … COMMIT` transaction with `synchronous=FULL`, each use case in its own savepoint (one
/// that throws rolls back alone and gets its error). Callers hear back only after the COMMIT returned, so an
/// acknowledged write is on disk, and a batch costs one fsync instead of one per request. Reads run on their
/// own threads and connections (WAL snapshots) and never wait for the writer.
public final class SQLiteStore: ParleyStore {
    public let path: String
    let writer: Mutex<SQLiteConnection?>
    let readers = Mutex<[SQLiteConnection]>([])
    let closed = Mutex(false)
    let writerThread = NIOThreadPool(numberOfThreads: 1)
    /// Use cases waiting for the writer, and whether a drain of them is scheduled on the writer thread.
    let writeQueue = Mutex(WriteQueue())
    /// The most use cases one transaction takes, so that one batch cannot keep its callers waiting long.
    static let maximumBatch = 1_000
    /// Conversations as the writer last stored or read them, with their JSON, so that a use case on a
    /// conversation written moments ago neither reads nor decodes it again, and its outbox documents reuse
    /// the encoded text. Only the writer thread touches it; it is emptied whenever a savepoint or a
    /// transaction is rolled back, so it never holds what the database does not.
    let writerConversations = Mutex<[Int: StoredConversation]>([:])
    /// How many conversations the writer keeps decoded (a few MB).
    static let writerConversationLimit = 2_048
    /// Documents readers and the writer decoded lately, with the JSON they came from: a document is decoded
    /// again only when its stored JSON differs (checked byte for byte on every use), so this never serves
    /// anything but what the reading transaction sees. Inbox pages keep meeting the same people and orgs.
    let decodedDocuments = Mutex<[DocumentKey: DecodedDocument]>([:])
    /// How many decoded documents are kept (each a few KB).
    static let decodedDocumentLimit = 8_192
    /// What the transaction being written leaves for its end (see `Uncommitted`). Only the writer thread
    /// touches it.
    let uncommitted = Mutex(Uncommitted())
    let committedTransactions = Atomic<Int>(0)
    let committedWrites = Atomic<Int>(0)
    /// Nanoseconds the writer spent running use cases (statements, savepoints, the domain's decisions, the
    /// search index) and in COMMIT (WAL frames, fsync, checkpoints): where its time goes, for `bench store`.
    let executingNanoseconds = Atomic<Int>(0)
    let committingNanoseconds = Atomic<Int>(0)
    let readerThreads: NIOThreadPool
    let encoder: JSONEncoder
    let decoder: JSONDecoder

    /// Opens (creating if needed) and migrates the database at `path`; `:memory:` is not supported
    /// because readers need their own connections to the same file.
    public init(path: String, readerThreads: Int = 2) throws {
        self.path = path
        self.readerThreads = NIOThreadPool(numberOfThreads: readerThreads)
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .millisecondsSince1970
        encoder.outputFormatting = [.sortedKeys]
        self.encoder = encoder
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .millisecondsSince1970
        self.decoder = decoder
        let connection = try SQLiteConnection(path: path, readOnly: false)
        try connection.execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;")
        try Self.migrate(connection)
        // After the migrations (an index build sorts in temporary storage): the statement journal of each use
        // case's savepoint stays in memory instead of spilling to a temporary file (pwrite calls on every
        // batch; 8% of the server's CPU per request), and it is never needed after a crash. Bulk jobs switch
        // back to a file for their transaction (see `bulk`).
        try connection.execute(Self.smallJobsTempStore)
        writer = Mutex(connection)
        writerThread.start()
        self.readerThreads.start()
    }

    /// Opens the database at `path` for `body` (a command's work) and closes it, whether `body` returns or throws.
    public static func using<Result>(path: String, _ body: (SQLiteStore) async throws -> Result) async throws -> Result {
        let store = try SQLiteStore(path: path)
        return try await store.closing { try await body(store) }
    }

    /// Stops the store's threads; the file stays consistent whether or not this runs.
    public func close() async throws {
        let first = closed.withLock { done in
            defer { done = true }
            return !done
        }
        guard first else { return }
        try await writerThread.shutdownGracefully()
        try await readerThreads.shutdownGracefully()
        writer.withLock { $0 = nil }
        readers.withLock { $0.removeAll() }
    }

}
