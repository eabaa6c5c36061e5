// The server's life: bind, announce, serve until SIGTERM/SIGINT, drain, exit.
// Kept out of main.swift so none of it is main-actor isolated (the signal handler runs
// on a Dispatch queue).
import Dispatch
import NIOCore
import NIOHTTP1
import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

enum HelloServer {
    static func run() -> Never {
        let settings = Settings.fromProcess()
        let app = App(settings: settings)
        let tracker = ConnectionTracker()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)

        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                tracker.add(channel)
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                        withPipeliningAssistance: true, withServerUpgrade: (upgraders: [WebSocketEcho.upgrader(version: app.settings.version)], completionHandler: { context in
                            // A WebSocket took over: the HTTP handler leaves with NIO's own.
                            if let handler = try? context.pipeline.syncOperations.handler(type: HelloHandler.self) {
                                context.pipeline.syncOperations.removeHandler(handler, promise: nil)
                            }
                        }), withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(HelloHandler(app: app))
                }
            }
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelOption(.allowRemoteHalfClosure, value: true)

        let server: any Channel
        do {
            server = try bootstrap.bind(host: settings.host, port: settings.port).wait()
        } catch {
            Output.error("hello-app: cannot listen on \(settings.host):\(settings.port): \(error)")
            exit(1)
        }

        // Stop on SIGTERM or SIGINT: stop accepting, let in-flight requests finish (up to 5s), exit 0.
        let stopRequested = DispatchSemaphore(value: 0)
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        let signalSources = [SIGTERM, SIGINT].map { number in
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { stopRequested.signal() }
            source.resume()
            return source
        }

        if let seconds = settings.faults.crashAfterSeconds {
            DispatchQueue.global().asyncAfter(deadline: .now() + seconds) {
                Output.error("crashing as asked by FAULT_CRASH_AFTER_S")
                exit(3)
            }
        }

        let port = server.localAddress?.port ?? settings.port
        let shownHost = settings.host.contains(":") ? "[\(settings.host)]" : settings.host
        Output.line("hello-app \(settings.version) listening on \(shownHost):\(port)")

        withExtendedLifetime(signalSources) { stopRequested.wait() }
        Output.line("hello-app \(settings.version) stopping")
        try? server.close().wait()
        tracker.quiesce()
        let deadline = NIODeadline.now() + .seconds(5)
        while tracker.count > 0, NIODeadline.now() < deadline {
            usleep(10_000)
        }
        if tracker.count > 0 {
            Output.error("hello-app: \(tracker.count) connection(s) still busy after 5s; closing them")
            tracker.closeAll()
        }
        exit(0)
    }
}
