// swift-tools-version: 6.2
import Foundation
import PackageDescription

// `SLIPWAY_FUZZ=1` (scripts/fuzz.sh, in its own build folder) instruments Slipway's input
// readers for libFuzzer and the address sanitizer and adds the `slipway-fuzz` executable.
// Other builds never see either.
let fuzzing = ProcessInfo.processInfo.environment["SLIPWAY_FUZZ"] == "1"
let fuzzed: [SwiftSetting] = fuzzing ? [.unsafeFlags(["-sanitize=fuzzer,address"])] : []
let fuzzTargets: [Target] = fuzzing ? [
    .executableTarget(name: "slipway-fuzz", dependencies: ["SlipwayFuzz"], path: "Fuzz/Entry",
                      swiftSettings: [.unsafeFlags(["-sanitize=fuzzer,address", "-parse-as-library"])],
                      linkerSettings: [.unsafeFlags(["-sanitize=fuzzer,address"])]),
] : []

let package = Package(
    name: "slipway",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "slipway", targets: ["slipway"]),
        .executable(name: "hello-app", targets: ["hello-app"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-http2.git", from: "1.46.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        // Traces over OTLP/HTTP only: the gRPC exporter (grpc-swift) is not built.
        .package(url: "https://github.com/swift-otel/swift-otel.git", from: "1.6.0", traits: ["OTLPHTTP"]),
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.3"),
    ],
    targets: [
        .target(name: "SlipwayCore", swiftSettings: fuzzed),
        .target(name: "SlipwayTLS", dependencies: [
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ]),
        .target(name: "SlipwayConfig", dependencies: [
            "SlipwayCore", "SlipwayTLS", .product(name: "Yams", package: "Yams"),
        ], swiftSettings: fuzzed),
        .target(name: "SlipwayStore", dependencies: [
            "SlipwayCore", "SlipwayEvidence", .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        .target(name: "SlipwayRouter", dependencies: [
            "SlipwayCore", "CSlipwayProcess",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOHTTP2", package: "swift-nio-http2"),
            .product(name: "NIOEmbedded", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Histogram", package: "hdrhistogram-swift"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "OTel", package: "swift-otel"),
            .product(name: "Tracing", package: "swift-distributed-tracing"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            "SlipwayTLS",
        ], swiftSettings: fuzzed),
        .target(name: "CSlipwayProcess"),
        // CI evidence (test, coverage reports) for the environments' quality gates.
        .target(name: "SlipwayEvidence", dependencies: [
            "SlipwayCore",
            .product(name: "Crypto", package: "swift-crypto"),
        ], swiftSettings: fuzzed),
        // The fuzz targets (Fuzz/, scripts/fuzz.sh): the input readers with their invariants.
        .target(name: "SlipwayFuzz", dependencies: ["SlipwayConfig", "SlipwayRouter", "SlipwayEvidence"], swiftSettings: fuzzed),
        // Where instances run: local processes, containers (Docker Engine API over its unix socket).
        .target(name: "SlipwayTargets", dependencies: [
            "SlipwayCore", "CSlipwayProcess",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOFoundationCompat", package: "swift-nio"),
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        .target(name: "SlipwayServer", dependencies: [
            "SlipwayCore", "SlipwayConfig", "SlipwayStore", "SlipwayRouter", "SlipwayTargets", "SlipwayTLS", "SlipwayEvidence",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdCore", package: "hummingbird"),
            .product(name: "HummingbirdTLS", package: "hummingbird"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "OTel", package: "swift-otel"),
            .product(name: "Tracing", package: "swift-distributed-tracing"),
        ], resources: [
            // The dashboard's files, compiled into the binary as bytes (PackageResources).
            .embedInCode("Dashboard/Assets/index.html"),
            .embedInCode("Dashboard/Assets/app.js"),
            .embedInCode("Dashboard/Assets/app.css"),
        ]),
        .executableTarget(name: "slipway", dependencies: [
            "SlipwayServer", "SlipwayConfig", "SlipwayCore", "SlipwayStore", "SlipwayEvidence", "SlipwayTargets",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "hello-app", dependencies: [
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOWebSocket", package: "swift-nio"),
        ]),
        .target(name: "SlipwayTesting", dependencies: [
            "SlipwayCore", "SlipwayTargets",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
        .testTarget(name: "SlipwayCoreTests", dependencies: ["SlipwayCore"]),
        .testTarget(name: "SlipwayEvidenceTests", dependencies: ["SlipwayEvidence", "SlipwayTesting"]),
        .testTarget(name: "SlipwayAnalysisTests", dependencies: ["SlipwayCore"], resources: [.copy("Fixtures")]),
        .testTarget(name: "SlipwayConfigTests", dependencies: ["SlipwayConfig", "SlipwayTesting"]),
        .testTarget(name: "SlipwayStoreTests", dependencies: [
            "SlipwayStore", "SlipwayTesting", .product(name: "GRDB", package: "GRDB.swift"), .product(name: "Crypto", package: "swift-crypto"),
        ]),
        .testTarget(name: "SlipwayServerTests", dependencies: [
            "SlipwayServer", "SlipwayStore", "SlipwayTesting",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdTesting", package: "hummingbird"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Tracing", package: "swift-distributed-tracing"),
            .product(name: "InMemoryTracing", package: "swift-distributed-tracing"),
        ]),
        .testTarget(name: "SlipwayFuzzTests", dependencies: ["SlipwayFuzz", "SlipwayRouter", .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOHTTP1", package: "swift-nio")]),
        .testTarget(name: "SlipwayTargetsTests", dependencies: ["SlipwayTargets", "SlipwayTesting"]),
        .testTarget(name: "SlipwayRouterTests", dependencies: [
            "SlipwayRouter", "SlipwayTesting",
            .product(name: "NIOEmbedded", package: "swift-nio"),
            .product(name: "NIOTestUtils", package: "swift-nio"),
            .product(name: "NIOHTTP2", package: "swift-nio-http2"),
        ]),
        .testTarget(name: "SlipwayEndToEndTests", dependencies: [
            "SlipwayTesting", "SlipwayCore", "SlipwayStore", "SlipwayTargets", .product(name: "Crypto", package: "swift-crypto"),
        ]),
    ] + fuzzTargets,
    swiftLanguageModes: [.v6]
)
