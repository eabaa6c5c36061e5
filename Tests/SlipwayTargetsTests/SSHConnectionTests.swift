import Foundation
import SlipwayCore
import SlipwayTargets
import SlipwayTesting
import Testing

/// The SSH link to fleet servers, against real sshd's in network namespaces
/// (scripts/test-hosts.sh): commands run on the right host over one multiplexed master
/// connection, files copy, unix sockets forward, and every host-key problem is refused
/// with the command that fixes it.
@Suite(.serialized) struct SSHConnectionTests {
    let hosts: TestHosts
    let dir: TemporaryDirectory

    init() throws {
        hosts = try TestHosts.make()
        dir = try TemporaryDirectory(prefix: "ssh")
    }

    func connection(_ index: Int, config: String? = nil, timeout: Int = 5) -> SSHConnection {
        SSHConnection(server: hosts.server(index, base: dir.path), options: .init(configFile: config ?? hosts.sshConfig, socketDirectory: dir.file("s"), connectTimeoutSeconds: timeout))
    }

    @Test func commandsRunOnTheirOwnHostOverOneMasterConnection() async throws {
        defer { dir.remove() }
        for index in hosts.addresses.indices {
            let ssh = connection(index)
            let address = try await ssh.check(["ip", "-4", "-o", "addr", "show", "dev", "eth0"])
            #expect(address.contains(" \(hosts.addresses[index])/"), "host \(index) answered \(address)")
            // Later commands reuse the master: it answers `-O check`, and every command runs
            // in a session of the same TCP connection (the same client port in SSH_CONNECTION).
            #expect(await ssh.isConnected())
            var connections: Set<String> = []
            for n in 0..<5 {
                let out = try await ssh.check(["sh", "-c", "echo n=\(n) $SSH_CONNECTION"])
                #expect(out.hasPrefix("n=\(n) "))
                connections.insert(String(out.dropFirst("n=\(n) ".count)))
            }
            #expect(connections.count == 1, "commands on host \(index) came over \(connections)")
            await ssh.close()
            #expect(!(await ssh.isConnected()))
        }
    }

    @Test func argumentsReachTheRemoteCommandAsWritten() async throws {
        defer { dir.remove() }
        let ssh = connection(0)
        defer { Task { await ssh.close() } }
        let tricky = ["a b", "it's", "$HOME", "`id`", "semi;colon", "new\nline", "*", ""]
        let out = try await ssh.check(["printf", "[%s]", ] + tricky)
        #expect(out == tricky.map { "[\($0)]" }.joined())
        // A leading ~/ is the remote user's home.
        let home = try await ssh.check(["sh", "-c", "echo $HOME"]).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try await ssh.check(["echo", "~/x y"]) == "\(home)/x y\n")
        // The remote command's own failure is a result, not an SSH error.
        let failed = try await ssh.run(["sh", "-c", "echo oops >&2; exit 3"])
        #expect(failed.exit == .status(3))
        #expect(failed.stderr == "oops\n")
        await #expect(throws: FleetError.self) { try await ssh.check(["false"]) }
    }

    @Test func filesCopyAndUnixSocketsForward() async throws {
        defer { dir.remove() }
        let ssh = connection(1)
        defer { Task { await ssh.close() } }
        let remoteDir = dir.file("host2")
        try await ssh.check(["mkdir", "-p", remoteDir])
        let payload = (0..<50_000).map { "line \($0)" }.joined(separator: "\n")
        try payload.write(toFile: dir.file("payload.txt"), atomically: true, encoding: .utf8)
        try await ssh.upload(dir.file("payload.txt"), to: remoteDir + "/copy.txt")
        #expect(try await ssh.check(["sha256sum", remoteDir + "/copy.txt"]).hasPrefix(try await runCommand("/usr/bin/sha256sum", [dir.file("payload.txt")]).stdout.prefix(64)))

        // A unix socket on the host (a python echo server started over SSH, in the host's
        // namespace), reached through the forward.
        let remoteSocket = remoteDir + "/echo.sock"
        let server = "import socket,os\ns=socket.socket(socket.AF_UNIX)\ns.bind('\(remoteSocket)')\ns.listen(1)\nc,_=s.accept()\nd=c.recv(100)\nc.sendall(b'echo:'+d)\nc.close()\n"
        try server.write(toFile: remoteDir + "/echo.py", atomically: true, encoding: .utf8)
        try await ssh.check(["sh", "-c", "setsid python3 \(remoteDir)/echo.py </dev/null >/dev/null 2>&1 &"])
        _ = try await eventually("the echo server's socket", timeout: .seconds(10)) { FileManager.default.fileExists(atPath: remoteSocket) ? true : nil }
        let local = ssh.localSocket("echo")
        try await ssh.forward(local: local, remote: remoteSocket)
        let reply = try await runCommand("/usr/bin/python3", ["-c", "import socket\ns=socket.socket(socket.AF_UNIX)\ns.connect('\(local)')\ns.sendall(b'hi')\nprint(s.recv(100).decode())"])
        #expect(reply.stdout == "echo:hi\n", "\(reply)")
    }

    @Test func anUnknownHostKeyIsRefusedWithTheFix() async throws {
        defer { dir.remove() }
        try "".write(toFile: dir.file("empty_known_hosts"), atomically: true, encoding: .utf8)
        let ssh = connection(0, config: try hosts.config(knownHosts: dir.file("empty_known_hosts"), in: dir.path))
        let error = await #expect(throws: FleetError.self) { try await ssh.check(["true"]) }
        #expect(error?.code == .hostKeyUnknown)
        #expect(error?.server == hosts.addresses[0])
        #expect(error?.message.contains("ssh-keyscan") == true, "\(error?.message ?? "")")
        #expect(error?.message.contains("never accepts an unknown key") == true)
        // Nothing was written to the known_hosts file: the key was not accepted.
        #expect(try String(contentsOfFile: dir.file("empty_known_hosts"), encoding: .utf8).isEmpty)
    }

    @Test func aChangedHostKeyIsRefusedWithTheFix() async throws {
        defer { dir.remove() }
        // known_hosts records another key for the host: what a man-in-the-middle (or a
        // re-installed server) looks like.
        _ = try await runCommand("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", dir.file("other")])
        let otherKey = try String(contentsOfFile: dir.file("other.pub"), encoding: .utf8).split(separator: " ").prefix(2).joined(separator: " ")
        try "\(hosts.addresses[2]) \(otherKey)\n".write(toFile: dir.file("wrong_known_hosts"), atomically: true, encoding: .utf8)
        let ssh = connection(2, config: try hosts.config(knownHosts: dir.file("wrong_known_hosts"), in: dir.path))
        let error = await #expect(throws: FleetError.self) { try await ssh.check(["true"]) }
        #expect(error?.code == .hostKeyChanged)
        #expect(error?.message.contains("CHANGED") == true)
        #expect(error?.message.contains("ssh-keygen -f \"\(dir.file("wrong_known_hosts"))\" -R \"\(hosts.addresses[2])\"") == true, "\(error?.message ?? "")")
        #expect(error?.message.contains("SHA256:") == true)
    }

    @Test func anUnreachableHostIsNamed() async throws {
        defer { dir.remove() }
        // An address on the test bridge that no host has: nothing answers. (Cutting a live
        // host's link is FleetTests' business, on the last host.)
        let parts = hosts.addresses[0].split(separator: ".")
        let nowhere = ServerSpec(user: "root", host: parts.dropLast().joined(separator: ".") + ".99", dir: dir.file("nowhere"))
        let ssh = SSHConnection(server: nowhere, options: .init(configFile: hosts.sshConfig, socketDirectory: dir.file("s"), connectTimeoutSeconds: 1))
        let error = await #expect(throws: FleetError.self) { try await ssh.check(["true"]) }
        #expect(error?.code == .unreachable)
        #expect(error?.message.contains("cannot reach ssh://root@\(nowhere.host)") == true, "\(error?.message ?? "")")
        await ssh.close()
    }

    @Test func quotingIsForTheRemoteShell() {
        #expect(SSHConnection.shellQuote("plain-word_1.2/x") == "plain-word_1.2/x")
        #expect(SSHConnection.shellQuote("") == "''")
        #expect(SSHConnection.shellQuote("it's") == #"'it'\''s'"#)
        #expect(SSHConnection.shellQuote("~/dir with space") == "~/'dir with space'")
        #expect(SSHConnection.shellCommand(["echo", "$HOME", "a;b"]) == "echo '$HOME' 'a;b'")
    }
}
