// swift-tools-version:6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "parley",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "parley", targets: ["parley"]),
        .library(name: "ParleyCore", targets: ["ParleyCore"]),
        .library(name: "ParleyApp", targets: ["ParleyApp"]),
        .library(name: "ParleyStore", targets: ["ParleyStore"]),
        .library(name: "ParleySQLite", targets: ["ParleySQLite"]),
        .library(name: "ParleyServer", targets: ["ParleyServer"]),
        .library(name: "ParleyJSON", targets: ["ParleyJSON"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/vapor/sqlite-nio.git", from: "1.13.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/vapor/multipart-kit.git", from: "4.7.1"),
    ],
    targets: [
        // The domain: pure decisions, no I/O. Its stored documents are written with ParleyJSON's writer.
        .target(name: "ParleyCore", dependencies: ["ParleyJSON"], swiftSettings: strict),
        .target(name: "ParleyJSON", swiftSettings: strict),
        // Email: MIME and RFC 5322 reading, loop detection (pure: no I/O); the receiver is in ParleyServer.
        .target(name: "ParleyMail", swiftSettings: strict),
        // The storage contract: the protocol every store keeps, its query and result types.
        .target(name: "ParleyStore", dependencies: ["ParleyCore"], swiftSettings: strict),
        // The embedded store (SQLite), the default.
        .target(
            name: "ParleySQLite",
            dependencies: [
                "ParleyCore",
                "ParleyStore",
                "ParleyJSON",
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // The shared store (PostgreSQL): several servers on one database.
        .target(
            name: "ParleyPostgres",
            dependencies: [
                "ParleyCore",
                "ParleyJSON",
                "ParleyStore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strict
        ),
        // The application layer: every use case, for every caller.
        .target(
            name: "ParleyApp",
            dependencies: ["ParleyCore", "ParleyStore", "ParleyMail", .product(name: "Logging", package: "swift-log"),
                           .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict),
        // The storage contract's test suite and fixtures, run against every store.
        .target(name: "ParleyStoreContract", dependencies: ["ParleyStore", "ParleyCore"], swiftSettings: strict),
        // Benchmark-only code (the bare SQLite yardsticks), kept out of the production libraries.
        .target(name: "ParleyBenchmarks", dependencies: ["ParleySQLite", "ParleyStore"], swiftSettings: strict),
        .target(
            name: "ParleyServer",
            dependencies: [
                "ParleyCore",
                "ParleyApp",
                "ParleyStore",
                "ParleySQLite",
                "ParleyPostgres",
                "ParleyJSON",
                "ParleyMail",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "MultipartKit", package: "multipart-kit"),
            ],
            swiftSettings: strict
        ),
        // The demo team of `parley serve --demo`, loaded through the use cases.
        .target(name: "ParleyDemo", dependencies: ["ParleyServer", "ParleyApp", "ParleyCore", "ParleyStore"], swiftSettings: strict),
        .executableTarget(
            name: "parley",
            dependencies: [
                "ParleyServer",
                "ParleyApp",
                "ParleyDemo",
                "ParleyStore",
                "ParleySQLite",
                "ParleyBenchmarks",
                "ParleyCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(name: "ParleyCoreTests", dependencies: ["ParleyCore"], swiftSettings: strict),
        .testTarget(name: "ParleyJSONTests", dependencies: ["ParleyJSON"], swiftSettings: strict),
        // Corpus/: real-world-shaped .eml files with their expectations, read by path (MailCorpusTests, MailCorpusAppTests).
        .testTarget(name: "ParleyMailTests", dependencies: ["ParleyMail"], exclude: ["Corpus"], swiftSettings: strict),
        .testTarget(
            name: "ParleyAppTests", dependencies: ["ParleyApp", "ParleySQLite", "ParleyStore", "ParleyCore"], swiftSettings: strict),
        .testTarget(
            name: "ParleySQLiteTests",
            dependencies: ["ParleySQLite", "ParleyStore", "ParleyStoreContract", "ParleyCore", "ParleyBenchmarks"],
            swiftSettings: strict),
        .testTarget(
            name: "ParleyPostgresTests",
            dependencies: ["ParleyPostgres", "ParleyStore", "ParleyStoreContract", "ParleyCore"],
            swiftSettings: strict),
        .testTarget(
            name: "ParleyServerTests",
            dependencies: [
                "ParleyServer", "ParleyApp", "ParleyStore", "ParleyStoreContract", "ParleySQLite", "ParleyCore", "ParleyJSON",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
    ],
    swiftLanguageModes: [.v6]
)
