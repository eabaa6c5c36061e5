import NIOSSL

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Loads a certificate chain and its private key from PEM files into a TLS server
/// context, telling apart a missing file, a file that is not PEM, and a key that does not
/// belong to the certificate. Used when `slipway.yml` is loaded (to report the problem at
/// the key's line) and by the router when it applies a route table.
public enum TLSFiles {
    /// Reads both files and builds a server context (TLS 1.2 and 1.3) offering
    /// `applicationProtocols` by ALPN, in order of preference.
    public static func serverContext(cert: String, key: String, applicationProtocols: [String] = ["http/1.1"]) throws(TLSFileError) -> NIOSSLContext {
        try checkedServerConfiguration(cert: cert, key: key, applicationProtocols: applicationProtocols).context
    }

    /// The server configuration for both files, checked by building a context from it
    /// (for servers that take a configuration, such as the API's Hummingbird).
    public static func serverConfiguration(cert: String, key: String) throws(TLSFileError) -> TLSConfiguration {
        try checkedServerConfiguration(cert: cert, key: key).configuration
    }

    static func checkedServerConfiguration(cert: String, key: String, applicationProtocols: [String] = ["http/1.1"]) throws(TLSFileError) -> (configuration: TLSConfiguration, context: NIOSSLContext) {
        let chain = try certificates(cert)
        let privateKey = try privateKey(key)
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) },
            privateKey: .privateKey(privateKey)
        )
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = applicationProtocols
        do {
            return (configuration, try NIOSSLContext(configuration: configuration))
        } catch NIOSSLError.failedToLoadPrivateKey {
            // BoringSSL compares the key with the leaf certificate's public key here.
            throw TLSFileError(.keyDoesNotMatch, file: .key, path: key, detail: "the private key in \(key) does not belong to the certificate in \(cert)")
        } catch {
            throw TLSFileError(.keyDoesNotMatch, file: .key, path: key, detail: "the certificate \(cert) and the key \(key) cannot be used together: \(error)")
        }
    }

    /// Checks both files; nil when they load and match.
    public static func check(cert: String, key: String) -> TLSFileError? {
        do {
            _ = try serverContext(cert: cert, key: key)
            return nil
        } catch {
            return error
        }
    }

    /// When the leaf (first) certificate in `path` stops being valid, seconds since 1970.
    public static func expiry(ofCertificate path: String) throws(TLSFileError) -> Double {
        let leaf = try certificates(path)[0]
        return Double(leaf.notValidAfter)
    }

    /// The CA certificates in `path` (PEM), to trust besides the system's.
    public static func trustRoots(_ path: String) throws(TLSFileError) -> [NIOSSLCertificate] {
        try certificates(path)
    }

    static func certificates(_ path: String) throws(TLSFileError) -> [NIOSSLCertificate] {
        let bytes = try read(path, file: .certificate)
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMBytes(bytes)
        } catch {
            throw TLSFileError(.certificateNotPEM, file: .certificate, path: path, detail: "\(path) holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)")
        }
        guard !chain.isEmpty else {
            throw TLSFileError(.certificateNotPEM, file: .certificate, path: path, detail: "\(path) holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)")
        }
        return chain
    }

    static func privateKey(_ path: String) throws(TLSFileError) -> NIOSSLPrivateKey {
        let bytes = try read(path, file: .key)
        do {
            return try NIOSSLPrivateKey(bytes: bytes, format: .pem)
        } catch {
            throw TLSFileError(.keyNotPEM, file: .key, path: path, detail: "\(path) holds no unencrypted PEM private key (expected -----BEGIN PRIVATE KEY----- or -----BEGIN EC/RSA PRIVATE KEY-----)")
        }
    }

    private static func read(_ path: String, file role: TLSFileError.File) throws(TLSFileError) -> [UInt8] {
        let what = role == .certificate ? "certificate" : "private key"
        guard let file = fopen(path, "rb") else {
            let reason = String(cString: strerror(errno))
            throw TLSFileError(errno == ENOENT ? .missing : .unreadable, file: role, path: path, detail: "cannot read the \(what) file \(path): \(reason)")
        }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let count = fread(&buffer, 1, buffer.count, file)
            if count > 0 { bytes.append(contentsOf: buffer[0..<count]) }
            if count < buffer.count { break }
            if bytes.count > 4 << 20 {
                throw TLSFileError(.unreadable, file: role, path: path, detail: "the \(what) file \(path) is larger than 4 MiB")
            }
        }
        if ferror(file) != 0 {
            throw TLSFileError(.unreadable, file: role, path: path, detail: "cannot read the \(what) file \(path)")
        }
        return bytes
    }
}

/// Why a certificate or key file cannot be used. `description` is a whole sentence
/// naming the file.
public struct TLSFileError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: Sendable, Equatable {
        case missing
        case unreadable
        case certificateNotPEM
        case keyNotPEM
        case keyDoesNotMatch
    }

    /// Which of the two files is at fault (the key for a mismatch).
    public enum File: Sendable, Equatable {
        case certificate
        case key
    }

    public let code: Code
    public let file: File
    /// The path of the file at fault.
    public let path: String
    let detail: String

    init(_ code: Code, file: File, path: String, detail: String) {
        self.code = code
        self.file = file
        self.path = path
        self.detail = detail
    }

    public var description: String { detail }
}
