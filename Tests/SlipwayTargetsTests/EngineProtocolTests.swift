import Foundation
import NIOCore
@testable import SlipwayTargets
import SlipwayCore
import Testing

/// The engine API's wire details, without an engine: the log frame format, where the
/// engine is looked for, how exits and pull failures are put into words.
@Suite struct EngineProtocolTests {
    func frame(_ stream: UInt8, _ text: String) -> [UInt8] {
        let payload = Array(text.utf8)
        let n = UInt32(payload.count)
        return [stream, 0, 0, 0, UInt8(n >> 24), UInt8((n >> 16) & 0xff), UInt8((n >> 8) & 0xff), UInt8(n & 0xff)] + payload
    }

    @Test func framedLogsAreSplitIntoLinesAcrossFramesAndChunks() {
        let bytes = frame(1, "first line\nsecond ") + frame(2, "half\r\nerr line\n") + frame(1, "no newline at the end")
        // Fed in awkward pieces: a header split in two, a payload split mid-line.
        var frames = EngineLogFrames()
        var lines: [String] = []
        for cut in stride(from: 0, to: bytes.count, by: 5) {
            lines += frames.feed(ByteBuffer(bytes: bytes[cut..<min(cut + 5, bytes.count)]))
        }
        lines += frames.finish()
        #expect(lines == ["first line", "second half", "err line", "no newline at the end"])
    }

    @Test func aTTYStreamIsPlainText() {
        var frames = EngineLogFrames()
        var lines = frames.feed(ByteBuffer(string: "hello tty\nsecond"))
        lines += frames.finish()
        #expect(lines == ["hello tty", "second"])
    }

    @Test func aRunawayLineIsCut() {
        var frames = EngineLogFrames()
        let long = String(repeating: "x", count: EngineLogFrames.maxLine * 2)
        let lines = frames.feed(ByteBuffer(bytes: frame(1, long + "\n")))
        #expect(lines.count == 1 && lines[0].utf8.count == EngineLogFrames.maxLine)
    }

    @Test func theEngineIsFoundTheWayDockerFindsIt() throws {
        #expect(try EngineEndpoint.resolve(flag: nil, environment: [:]) == EngineEndpoint(socketPath: "/var/run/docker.sock", source: "the default"))
        #expect(try EngineEndpoint.resolve(flag: nil, environment: ["DOCKER_HOST": "unix:///run/podman/podman.sock"])
                == EngineEndpoint(socketPath: "/run/podman/podman.sock", source: "DOCKER_HOST"))
        #expect(try EngineEndpoint.resolve(flag: "/tmp/d.sock", environment: ["DOCKER_HOST": "unix:///elsewhere"])
                == EngineEndpoint(socketPath: "/tmp/d.sock", source: "--docker-host"), "the flag wins")
        #expect(throws: DriverError(.invalid, "DOCKER_HOST tcp://10.0.0.1:2376 is not a unix socket; Slipway talks to the engine on this machine over unix://PATH (tcp:// engines are not supported: run Slipway on the engine's machine)")) {
            try EngineEndpoint.resolve(flag: nil, environment: ["DOCKER_HOST": "tcp://10.0.0.1:2376"])
        }
        #expect(throws: DriverError(.invalid, "--docker-host unix://relative.sock names no absolute socket path; write unix:///path/to/docker.sock")) {
            try EngineEndpoint.resolve(flag: "unix://relative.sock", environment: [:])
        }
    }

    @Test func exitsInWords() {
        #expect(ContainerDriver.describeExit(code: 3, oomKilled: false, memory: nil, error: nil) == "exit status 3")
        #expect(ContainerDriver.describeExit(code: 143, oomKilled: false, memory: nil, error: "") == "killed by signal 15 (exit status 143)")
        #expect(ContainerDriver.describeExit(code: 137, oomKilled: true, memory: 64 << 20, error: nil)
                == "killed by signal 9 (exit status 137), killed by the kernel's OOM killer (memory limit 64 MiB)")
        #expect(ContainerDriver.describeExit(code: 127, oomKilled: false, memory: nil, error: "exec: \"/app\": no such file")
                == "exit status 127: exec: \"/app\": no such file")
    }

    @Test func pullFailuresAreSorted() {
        let login = ImagePull.Login(username: "u", password: "p", server: "127.0.0.1:5000")
        let denied = ImagePull.classify("unauthorized: authentication required", reference: "127.0.0.1:5000/web:v1", login: login)
        #expect(denied.code == .denied)
        #expect(denied.message == "the registry 127.0.0.1:5000 refused to pull 127.0.0.1:5000/web:v1: unauthorized: authentication required; check `registry.username` and the secret `registry.password` names")
        let anonymous = ImagePull.classify("pull access denied for acme/web, repository does not exist or may require 'docker login'", reference: "acme/web:v1", login: nil)
        #expect(anonymous.code == .denied && anonymous.message.hasSuffix("give `registry: { username: …, password: \"${SECRET}\" }` with the secret set (`slipway secrets set`)"))
        let missing = ImagePull.classify("manifest for 127.0.0.1:5000/web:v9 not found: manifest unknown: manifest unknown", reference: "127.0.0.1:5000/web:v9", login: login)
        #expect(missing.code == .notFound && missing.message.hasPrefix("image 127.0.0.1:5000/web:v9 was not found in its registry 127.0.0.1:5000"))
        let network = ImagePull.classify("Get \"https://ghcr.io/v2/\": dial tcp: lookup ghcr.io: no such host", reference: "ghcr.io/acme/web:v1", login: nil)
        #expect(network.code == .failed && network.message.hasPrefix("pulling ghcr.io/acme/web:v1 from ghcr.io failed: Get"))
    }

    @Test func registryLoginHeaderIsBase64URLJSON() throws {
        let header = ImagePull.Login(username: "deploy", password: "p?>>", server: "ghcr.io").header
        #expect(!header.contains("+") && !header.contains("/"))
        let padded = header.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        let json = try #require(Data(base64Encoded: padded))
        #expect(try JSONSerialization.jsonObject(with: json) as? [String: String] == ["username": "deploy", "password": "p?>>", "serveraddress": "ghcr.io"])
    }

    @Test func containerNamesAreWhatTheEngineAccepts() {
        let driver = ContainerDriver(engine: EngineClient(endpoint: EngineEndpoint(socketPath: "/x", source: "test")), owner: "0123abcd")
        #expect(driver.containerName("web@production-v1.2+build-x1y2z3") == "slipway-0123abcd-web_production-v1.2_build-x1y2z3")
    }
}
