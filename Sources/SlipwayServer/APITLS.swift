import Foundation
import NIOSSL
import SlipwayStore
import SlipwayTLS

/// HTTPS for the control plane's API (swift-nio-ssl).
public enum APITLS {
    public struct Files: Sendable {
        public var certificate: String
        public var key: String
        public init(certificate: String, key: String) {
            self.certificate = certificate
            self.key = key
        }
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Loads and checks the certificate chain and key (SlipwayTLS, as the router does):
    /// a missing file, PEM that does not parse and a key that does not belong to the
    /// certificate each get their own error, prefixed with the flag at fault.
    public static func configuration(_ files: Files) throws -> TLSConfiguration {
        do {
            return try TLSFiles.serverConfiguration(cert: files.certificate, key: files.key)
        } catch {
            throw Failure(description: "\(error.file == .certificate ? "--tls-cert" : "--tls-key"): \(error)")
        }
    }
}

/// The first admin token of a new state directory.
enum APITokens {
    /// Creates `admin` when the store has never had a token; writes it to the state
    /// directory (0600) and returns it for the one-time print. Nil when tokens exist.
    static func bootstrap(store: Store, state: StateDirectory) throws -> String? {
        guard try store.tokenCount() == 0 else { return nil }
        let issued = try store.createToken(name: "admin", role: .admin, environments: [], expiresAt: nil, createdBy: "slipway (first start)", now: Date().timeIntervalSince1970)
        let fd = open(state.adminTokenFile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw ServerRuntime.StartupError(description: "cannot write \(state.adminTokenFile): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        fchmod(fd, 0o600)
        let bytes = Array((issued.secret + "\n").utf8)
        guard write(fd, bytes, bytes.count) == bytes.count, fsync(fd) == 0 else {
            throw ServerRuntime.StartupError(description: "cannot write \(state.adminTokenFile): \(String(cString: strerror(errno)))")
        }
        try store.appendAudit(AuditDraft(principal: "slipway", action: "token.create", target: "token/admin",
                                         details: ["role": "admin", "id": issued.record.id, "reason": "first start of this state directory"]),
                              time: Date().timeIntervalSince1970)
        return issued.secret
    }
}
