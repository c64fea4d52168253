import Foundation
import ParleyCore
import ParleyStore
import Testing

/// The storage contract's test suite (`docs/storage.md`): behaviour every `ParleyStore` must show, written
/// against the protocol only (no SQL). A store's test target runs every check against fresh stores of its
/// kind, unchanged:
///
/// ```swift
/// @Test(arguments: StorageContract.Check.allCases)
/// func contract(_ check: StorageContract.Check) async throws {
///     try await StorageContract { try await MyStore.fresh() }.run(check)
/// }
/// ```
public struct StorageContract: Sendable {
    /// Opens a fresh, empty store (migrated, with the system tags seeded, as a server's start leaves it).
    public let open: @Sendable () async throws -> any ParleyStore

    public init(open: @escaping @Sendable () async throws -> any ParleyStore) {
        self.open = open
    }

    public enum Check: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case seedIsIdempotentAndNumbersFollow
        case failedDecisionWritesNothing
        case uniqueKeysRefuseDuplicates
        case conversationExternalRefIsUnique
        case commentExternalRefIsUniqueWithinItsConversation
        case optimisticVersionsLetOneWriterWin
        case keysetPagesCoverListsExactly
        case commentsAndEventsAreStoredTogether
        case followUpIsLinkedAndRecorded
        case stageCountsFollowEveryChange
        case unassignedViewFollowsOwners
        case deletedConversationsLeaveListsSearchAndDeadlines
        case searchSeesWordsTitlesAndNotesAsAllowed
        case importWithTakenRefFailsWhole
        case deadlinesAreKeptWithTheirConversation
        case outboxCarriesWhatPlansPublish
        case outboxAboutOneMemberKeepsOrderAndBound
        case outboxFollowerSeesEveryCommitOnceInOrder
        case outboxRetentionPrunesOnlyWhatIsAllowed
        case tokensAreNumberedListedAndRevokedByNumber
        case accessChangesAreDecidedAndStoredWithTheirRevocations
        case leasesGoToOneHolderAtATime
        case presenceShowsOthersUntilExpired
        case artifactsAreStoredAndAttachedOnce
        case everyPartOfOneChangeIsStored
        case referencesAreReadAsObjectsWouldBe
        case customersComeWithWhatRoutesThem
        case configurationsAreVersionedPerKind
        case credentialsComeWithTheirHolder

        public var testDescription: String { rawValue }
    }

    /// Runs one check against a fresh store, closing it afterwards whatever happens.
    public func run(_ check: Check) async throws {
        let store = try await open()
        do {
            try await run(check, on: store)
        } catch {
            try? await store.close()
            throw error
        }
        try await store.close()
    }

    private func run(_ check: Check, on store: any ParleyStore) async throws {
        switch check {
        case .seedIsIdempotentAndNumbersFollow: try await seedIsIdempotentAndNumbersFollow(store)
        case .failedDecisionWritesNothing: try await failedDecisionWritesNothing(store)
        case .uniqueKeysRefuseDuplicates: try await uniqueKeysRefuseDuplicates(store)
        case .conversationExternalRefIsUnique: try await conversationExternalRefIsUnique(store)
        case .commentExternalRefIsUniqueWithinItsConversation: try await commentExternalRefIsUniqueWithinItsConversation(store)
        case .optimisticVersionsLetOneWriterWin: try await optimisticVersionsLetOneWriterWin(store)
        case .keysetPagesCoverListsExactly: try await keysetPagesCoverListsExactly(store)
        case .commentsAndEventsAreStoredTogether: try await commentsAndEventsAreStoredTogether(store)
        case .followUpIsLinkedAndRecorded: try await followUpIsLinkedAndRecorded(store)
        case .stageCountsFollowEveryChange: try await stageCountsFollowEveryChange(store)
        case .unassignedViewFollowsOwners: try await unassignedViewFollowsOwners(store)
        case .deletedConversationsLeaveListsSearchAndDeadlines: try await deletedConversationsLeaveListsSearchAndDeadlines(store)
        case .searchSeesWordsTitlesAndNotesAsAllowed: try await searchSeesWordsTitlesAndNotesAsAllowed(store)
        case .importWithTakenRefFailsWhole: try await importWithTakenRefFailsWhole(store)
        case .deadlinesAreKeptWithTheirConversation: try await deadlinesAreKeptWithTheirConversation(store)
        case .outboxCarriesWhatPlansPublish: try await outboxCarriesWhatPlansPublish(store)
        case .outboxAboutOneMemberKeepsOrderAndBound: try await outboxAboutOneMemberKeepsOrderAndBound(store)
        case .outboxFollowerSeesEveryCommitOnceInOrder: try await outboxFollowerSeesEveryCommitOnceInOrder(store)
        case .outboxRetentionPrunesOnlyWhatIsAllowed: try await outboxRetentionPrunesOnlyWhatIsAllowed(store)
        case .tokensAreNumberedListedAndRevokedByNumber: try await tokensAreNumberedListedAndRevokedByNumber(store)
        case .accessChangesAreDecidedAndStoredWithTheirRevocations: try await accessChangesAreDecidedAndStoredWithTheirRevocations(store)
        case .leasesGoToOneHolderAtATime: try await leasesGoToOneHolderAtATime(store)
        case .presenceShowsOthersUntilExpired: try await presenceShowsOthersUntilExpired(store)
        case .artifactsAreStoredAndAttachedOnce: try await artifactsAreStoredAndAttachedOnce(store)
        case .everyPartOfOneChangeIsStored: try await everyPartOfOneChangeIsStored(store)
        case .referencesAreReadAsObjectsWouldBe: try await referencesAreReadAsObjectsWouldBe(store)
        case .customersComeWithWhatRoutesThem: try await customersComeWithWhatRoutesThem(store)
        case .configurationsAreVersionedPerKind: try await configurationsAreVersionedPerKind(store)
        case .credentialsComeWithTheirHolder: try await credentialsComeWithTheirHolder(store)
        }
    }

    // MARK: Fixtures

    static let t0 = Date(timeIntervalSince1970: 1_750_000_000)

    /// A customer's conversation routed to agent 3, with one message.
    @discardableResult
    static func open(_ store: any ParleyStore, _ title: String, message: String = "hello", at: Date = t0,
                     externalRef: String? = nil, customer: Int = 1, owners: [Int] = [3]) async throws -> Conversation {
        try await store.createConversation(actor: .revUser(customer), at: at) { number in
            var draft = ConversationDraft(title: title, messages: [message])
            draft.externalRef = externalRef
            return try Conversation.open(number: number, draft: draft,
                                         routing: RoutingDecision(owners: owners, record: RoutingRecord(reason: .orgDefaultOwner)),
                                         by: .revUser(customer), at: at)
        }
    }

    /// A comment as the stage machine takes it (an append; a follow-up is refused here).
    @discardableResult
    static func comment(_ store: any ParleyStore, on conversation: Int, _ body: String, _ visibility: Visibility = .external,
                        by author: Actor = .devUser(3), at: Date = t0 + 60, externalRef: String? = nil) async throws -> (TimelineEntry, Conversation) {
        try await store.addComment(to: conversation, draft: CommentDraft(author: author, body: body, visibility: visibility, at: at),
                                   externalRef: externalRef) { current in
            guard case .append(let decision) = try current.receivingComment(by: author, visibility: visibility, at: at) else {
                throw DomainError.conflict("unexpected follow-up")
            }
            return .append(decision)
        }
    }

    /// Every conversation a query lists, page after page.
    public static func everyPage(_ store: any ParleyStore, _ query: ConversationQuery, limit: Int = 7) async throws -> [Int] {
        var query = query
        query.page = PageRequest(cursor: nil, limit: limit)
        var seen: [Int] = []
        while true {
            let page = try await store.listConversations(query)
            seen += page.items.map(\.number)
            guard let next = page.nextCursor else { return seen }
            query.page = PageRequest(cursor: next, limit: limit)
        }
    }

    /// Every outbox message after `cursor`, read in pages as a follower reads them.
    static func outbox(_ store: any ParleyStore, after cursor: Int = 0) async throws -> [OutboxEvent] {
        var cursor = cursor
        var events: [OutboxEvent] = []
        while true {
            let page = try await store.outbox(after: cursor, limit: 100)
            guard let last = page.last else { return events }
            events += page
            cursor = last.sequence
        }
    }
}
