import Logging
import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import NIOSSL
import SlipwayCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The router's server channels, one per listen address. Closing a listener stops new
/// connections only; accepted connections run until their clients or the router end them.
final class Listeners: Sendable {
    private let group: any EventLoopGroup
    private let contexts: LoopContexts
    private let logger: Logger
    private let channels = Mutex<[ListenAddress: any Channel]>([:])
    /// Each listener's socket descriptor (owned by its channel), for a hand-over.
    private let descriptors = Mutex<[ListenAddress: CInt]>([:])
    /// Sockets taken over from the previous router, not yet served.
    private let inherited = Mutex<[ListenAddress: CInt]>([:])
    private let tlsSlots = Mutex<[ListenAddress: ListenerTLS]>([:])

    init(group: any EventLoopGroup, contexts: LoopContexts, logger: Logger) {
        self.group = group
        self.contexts = contexts
        self.logger = logger
    }

    var addresses: Set<ListenAddress> { channels.withLock { Set($0.keys) } }

    /// Listening sockets handed over by the previous router: `bind` serves these instead of
    /// binding anew.
    func inherit(_ sockets: [ListenAddress: CInt]) {
        inherited.withLock { $0.merge(sockets) { _, new in new } }
    }

    /// Closes inherited sockets no table asked for.
    func closeUnusedInherited() {
        let unused = inherited.withLock { sockets in
            defer { sockets = [:] }
            return sockets
        }
        for (_, fd) in unused { _ = Glibc.close(fd) }
    }

    /// The listening sockets, for the next router.
    var sockets: [(ListenAddress, CInt)] {
        descriptors.withLock { $0.sorted { $0.key.description < $1.key.description }.map { ($0.key, $0.value) } }
    }

    func boundPort(for address: ListenAddress) -> Int? {
        channels.withLock { $0[address]?.localAddress?.port }
    }

    /// The TLS slot of `address` (created empty, i.e. plain HTTP, on first use).
    func tls(for address: ListenAddress) -> ListenerTLS {
        tlsSlots.withLock { slots in
            if let slot = slots[address] { return slot }
            let slot = ListenerTLS()
            slots[address] = slot
            return slot
        }
    }

    /// Binds `address`; throws the bind error. Each connection gets TLS when the address's
    /// slot holds a context at accept time.
    func bind(_ address: ListenAddress) async throws {
        if channels.withLock({ $0[address] != nil }) { return }
        let taken = inherited.withLock { $0.removeValue(forKey: address) }
        let fd = try taken ?? ListenSocket.bind(address)
        let contexts = self.contexts
        let tls = self.tls(for: address)
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                contexts.context(for: channel.eventLoop).track(channel)
                // HTTP/2 or HTTP/1.1: by ALPN over TLS, by the connection preface in cleartext.
                guard let sslContext = tls.context else {
                    return channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(HTTPVersionSniffer { channel, http2 in
                            if http2 {
                                try HTTP2Listener.install(on: channel, contexts: contexts, listenAddress: address, tls: false)
                            } else {
                                try ProxyServerHandler.install(on: channel, loop: contexts.context(for: channel.eventLoop), listenAddress: address, tls: false)
                            }
                        })
                    }
                }
                do {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: sslContext))
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
                return channel.configureHTTP2SecureUpgrade(
                    h2ChannelConfigurator: { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try HTTP2Listener.install(on: channel, contexts: contexts, listenAddress: address, tls: true)
                        }
                    },
                    http1ChannelConfigurator: { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try ProxyServerHandler.install(on: channel, loop: contexts.context(for: channel.eventLoop), listenAddress: address, tls: true)
                        }
                    })
            }
            .withBoundSocket(fd)
            .get()
        channels.withLock { $0[address] = channel }
        descriptors.withLock { $0[address] = fd }
        logger.info(taken == nil ? "listening" : "listening on the socket taken over", metadata: ["slipway.listen": "\(address)", "slipway.port": "\(channel.localAddress?.port ?? address.port)"])
    }

    /// Stops accepting on `address`.
    func close(_ address: ListenAddress) async {
        tlsSlots.withLock { _ = $0.removeValue(forKey: address) }
        guard let channel = channels.withLock({ $0.removeValue(forKey: address) }) else { return }
        descriptors.withLock { _ = $0.removeValue(forKey: address) }
        try? await channel.close()
        logger.info("stopped listening", metadata: ["slipway.listen": "\(address)"])
    }

    func closeAll() async {
        for address in addresses { await close(address) }
    }
}
