import Foundation
import Hummingbird
import Synchronization
import Testing
@testable import SlipwayServer

/// The control plane's client of the router's admin socket, against a real HTTP server on
/// a Unix socket.
@Suite struct RouterClientTests {
    /// Serves `router` on a Unix socket in a fresh folder while `body` runs.
    func withSocketServer(_ router: Hummingbird.Router<BasicRequestContext>, _ body: (String) async throws -> Void) async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("slipway-rc-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/router.sock"
        let (ready, readyContinuation) = AsyncStream<Void>.makeStream()
        let app = Application(router: router, configuration: .init(address: .unixDomainSocket(path: path)),
                              onServerRunning: { _ in readyContinuation.yield() })
        let server = Task { try await app.runService() }
        defer { server.cancel() }
        for await _ in ready { break }
        try await body(path)
    }

    /// A pooled connection that reached a router which has since handed its listeners over
    /// gets the 503 with `Slipway-Handed-Over`: the call goes again (to the successor) instead
    /// of failing — a restarted control plane's first table push failed on exactly that.
    @Test func aHandedOverAnswerIsRetriedOnANewConnection() async throws {
        let calls = Atomic<Int>(0)
        let router = Hummingbird.Router()
        router.get("/ping") { _, _ -> PingReply in
            if calls.add(1, ordering: .relaxed).newValue == 1 {
                throw RouterClient.handedOverRefusal(successor: 4242)
            }
            return PingReply(pid: 4242, generation: 7)
        }
        try await withSocketServer(router) { path in
            let reply = try await RouterClient(socketPath: path).ping(timeout: .seconds(30))
            #expect(reply.pid == 4242 && reply.generation == 7)
            #expect(calls.load(ordering: .relaxed) == 2)
        }
    }

    /// Any other 503 is the router's answer: reported, not retried.
    @Test func anotherServiceUnavailableIsReportedAtOnce() async throws {
        let calls = Atomic<Int>(0)
        let router = Hummingbird.Router()
        router.get("/ping") { _, _ -> PingReply in
            calls.add(1, ordering: .relaxed)
            throw HTTPError(.serviceUnavailable, message: "busy")
        }
        try await withSocketServer(router) { path in
            await #expect(throws: RouterClient.Failure.self) { try await RouterClient(socketPath: path).ping(timeout: .seconds(30)) }
            #expect(calls.load(ordering: .relaxed) == 1)
        }
    }

    /// A router that keeps answering "handed over" (no successor took the socket) fails the
    /// call after three tries rather than looping.
    @Test func aRouterThatKeepsSayingHandedOverFailsAfterThreeTries() async throws {
        let calls = Atomic<Int>(0)
        let router = Hummingbird.Router()
        router.get("/ping") { _, _ -> PingReply in
            calls.add(1, ordering: .relaxed)
            throw RouterClient.handedOverRefusal(successor: 1)
        }
        try await withSocketServer(router) { path in
            let error = await #expect(throws: RouterClient.Failure.self) { try await RouterClient(socketPath: path).ping(timeout: .seconds(30)) }
            #expect(error?.description.contains("503") == true)
            #expect(calls.load(ordering: .relaxed) == 3)
        }
    }
}
