import Foundation
import Logging
import ParleyCore
import ParleyStore
import Synchronization

/// The compiled routing rules and spam filter in force. Each is compiled once per stored version; before
/// each use the newest version number is read, so a change made through any server takes effect at once.
public final class CompiledConfigurations: Sendable {
    public static let routingKind = "routing_rules"
    public static let spamKind = "spam_rules"

    private let routing = Mutex<RoutingEngine?>(nil)
    private let spam = Mutex<SpamFilter?>(nil)
    private let logger: Logger

    public init(logger: Logger = Logger(label: "parley")) {
        self.logger = logger
    }

    public func routingEngine(_ store: any ParleyStore) async throws -> RoutingEngine? {
        let versions = try await store.latestConfigurationVersions(kinds: [Self.routingKind])
        return try await routingEngine(store, version: versions[Self.routingKind] ?? 0)
    }

    /// The routing engine and the spam filter in force, their versions checked in one read (a customer's new
    /// conversation uses both).
    public func routingEngineAndSpamFilter(_ store: any ParleyStore) async throws -> (RoutingEngine?, SpamFilter) {
        let versions = try await store.latestConfigurationVersions(kinds: [Self.routingKind, Self.spamKind])
        return (try await routingEngine(store, version: versions[Self.routingKind] ?? 0),
                try await spamFilter(store, version: versions[Self.spamKind] ?? 0))
    }

    /// The routing engine of `version` (the newest), compiled once per version.
    private func routingEngine(_ store: any ParleyStore, version: Int) async throws -> RoutingEngine? {
        guard version > 0 else { return nil }
        if let engine = routing.withLock({ $0 }), engine.version == version { return engine }
        guard let stored = try await store.latestConfiguration(kind: Self.routingKind) else { return nil }
        let engine = try RoutingEngine(try Self.decode(RoutingConfiguration.self, stored.document), version: stored.version)
        routing.withLock { $0 = engine }
        return engine
    }

    /// The spam filter of `version` (the newest), compiled once per version.
    private func spamFilter(_ store: any ParleyStore, version: Int) async throws -> SpamFilter {
        if let filter = spam.withLock({ $0 }), filter.version == version { return filter }
        var filter = try SpamFilter(SpamConfiguration(), version: 0)
        if version > 0, let stored = try await store.latestConfiguration(kind: Self.spamKind) {
            filter = SpamFilter(stored: try Self.decode(SpamConfiguration.self, stored.document), version: stored.version)
            for pattern in filter.unusablePatterns {
                logger.warning("spam rule pattern never matches: this version does not accept it (spam-rules.set says why)",
                               metadata: ["pattern": "\(pattern)", "version": "\(stored.version)"])
            }
        }
        spam.withLock { $0 = filter }
        return filter
    }

    public static func decode<T: Decodable>(_ type: T.Type, _ document: String) throws -> T {
        try JSONDecoder().decode(type, from: Data(document.utf8))
    }

    public static func encode<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}

