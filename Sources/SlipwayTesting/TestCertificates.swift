import Foundation

/// A throwaway CA and certificates made with the `openssl` CLI in a directory, for TLS
/// tests. `openssl` is installed with apt-get when missing (as scripts/test.sh does).
public struct TestCertificates: Sendable {
    /// The CA certificate to trust (PEM).
    public let ca: String
    /// A leaf certificate for `localhost` and 127.0.0.1, signed by the CA.
    public let cert: String
    public let key: String
    /// Another private key that does not belong to `cert`.
    public let otherKey: String

    /// Makes the CA, one leaf (for `localhost`, `127.0.0.1`, `::1`) and a stray key in `directory`.
    public static func make(in directory: String) async throws -> TestCertificates {
        let openssl = try await opensslPath()
        func run(_ arguments: [String]) async throws {
            let result = try await runCommand(openssl, arguments, timeout: .seconds(60))
            guard result.status == 0 else {
                throw TestCertificateError(description: "openssl \(arguments.joined(separator: " ")) failed (\(result.status)): \(result.stderr)")
            }
        }
        let d = directory
        try await run(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                       "-keyout", "\(d)/ca-key.pem", "-out", "\(d)/ca.pem", "-days", "2", "-subj", "/CN=Slipway Test CA"])
        try await run(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                       "-keyout", "\(d)/key.pem", "-out", "\(d)/cert.csr", "-subj", "/CN=localhost"])
        try "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
            .write(toFile: "\(d)/ext.cnf", atomically: true, encoding: .utf8)
        try await run(["x509", "-req", "-in", "\(d)/cert.csr", "-CA", "\(d)/ca.pem", "-CAkey", "\(d)/ca-key.pem",
                       "-CAcreateserial", "-out", "\(d)/cert.pem", "-days", "2", "-extfile", "\(d)/ext.cnf"])
        try await run(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-out", "\(d)/other-key.pem"])
        return TestCertificates(ca: "\(d)/ca.pem", cert: "\(d)/cert.pem", key: "\(d)/key.pem", otherKey: "\(d)/other-key.pem")
    }

    /// The `openssl` binary, installing Debian's package when it is missing.
    public static func opensslPath() async throws -> String {
        for candidate in ["/usr/bin/openssl", "/usr/local/bin/openssl", "/bin/openssl"] where FileManager.default.isExecutableFile(atPath: candidate) {
            return candidate
        }
        let update = try await runCommand("/usr/bin/env", ["apt-get", "update", "-qq"], timeout: .seconds(300))
        let install = try await runCommand("/usr/bin/env", ["DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "-qq", "openssl"], timeout: .seconds(300))
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl") else {
            throw TestCertificateError(description: "openssl is missing and apt-get could not install it: \(update.stderr) \(install.stderr)")
        }
        return "/usr/bin/openssl"
    }
}

public struct TestCertificateError: Error, CustomStringConvertible {
    public let description: String
}
