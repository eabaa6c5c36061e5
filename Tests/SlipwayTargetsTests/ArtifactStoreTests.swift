import Foundation
@testable import SlipwayTargets
import SlipwayCore
import SlipwayTesting
import Testing

/// The content-addressed store of what local releases run, and the local driver's use of it.
@Suite struct ArtifactStoreTests {
    @Test func aFileIsKeptOnceByItsDigestReadOnly() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = ArtifactStore(root: dir.file("artifacts"))
        let program = try dir.write("web", "#!/bin/sh\necho v1\n")
        chmod(program, 0o755)
        let first = try store.keep(program, kind: .executable)
        #expect(first.kind == .executable && first.source == program && first.bytes == 18)
        let sum = try await runCommand("/usr/bin/sha256sum", [program])
        #expect(first.digest == "sha256:" + sum.stdout.prefix(64), "the same SHA-256 as sha256sum")
        let again = try store.keep(program, kind: .executable)
        #expect(again == first, "the same bytes are the same artifact")
        let stored = store.path(of: first.digest)
        #expect(try String(contentsOfFile: stored, encoding: .utf8) == "#!/bin/sh\necho v1\n")
        #expect(FileManager.default.isExecutableFile(atPath: stored))
        #expect((try FileManager.default.attributesOfItem(atPath: stored)[.posixPermissions] as? NSNumber)?.intValue == 0o555, "read-only")
        #expect(try store.verified(first) == stored)

        // New bytes at the same path: a new artifact; the old one stays.
        _ = try dir.write("web", "#!/bin/sh\necho v2\n")
        let second = try store.keep(program, kind: .executable)
        #expect(second.digest != first.digest)
        #expect(try String(contentsOfFile: store.path(of: first.digest), encoding: .utf8).contains("v1"))
    }

    @Test func aDirectoryDigestCoversNamesModesAndContents() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = ArtifactStore(root: dir.file("artifacts"))
        let app = dir.file("app")
        try FileManager.default.createDirectory(atPath: app + "/static", withIntermediateDirectories: true)
        _ = try dir.write("app/main.py", "print('v1')\n")
        _ = try dir.write("app/static/site.css", "body{}\n")
        try FileManager.default.createSymbolicLink(atPath: app + "/current", withDestinationPath: "main.py")
        let first = try store.keep(app, kind: .file)
        #expect(first.kind == .directory)
        let stored = store.path(of: first.digest)
        #expect(try String(contentsOfFile: stored + "/static/site.css", encoding: .utf8) == "body{}\n")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: stored + "/current") == "main.py")
        #expect(try store.verified(first) == stored)

        chmod(app + "/main.py", 0o755)
        let executable = try store.keep(app, kind: .file)
        #expect(executable.digest != first.digest, "the executable bit is part of the digest")
        try FileManager.default.moveItem(atPath: app + "/static/site.css", toPath: app + "/static/other.css")
        #expect(try store.keep(app, kind: .file).digest != executable.digest, "names are part of the digest")
    }

    @Test func aGoneOrChangedCopyIsRefused() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = ArtifactStore(root: dir.file("artifacts"))
        let artifact = try store.keep(try dir.write("web", "bytes"), kind: .executable)
        let stored = store.path(of: artifact.digest)
        chmod(stored, 0o644)
        try "other".write(toFile: stored, atomically: false, encoding: .utf8)
        #expect(throws: DriverError(.artifactGone, "the stored copy of \(artifact.source) (\(stored)) no longer hashes to \(artifact.shortDigest); it was changed on disk")) {
            try store.verified(artifact)
        }
        try FileManager.default.removeItem(atPath: stored)
        #expect(throws: DriverError(.artifactGone, "the executable \(artifact.source) (\(artifact.shortDigest)) is gone from the artifact store (\(stored))")) {
            try store.verified(artifact)
        }
        #expect(throws: DriverError(.notFound, "\(dir.file("missing")) does not exist")) {
            try store.keep(dir.file("missing"), kind: .file)
        }
    }

    @Test func aReleaseRunsItsRecordedBytesAfterTheProgramChanged() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let program = try dir.write("web", "#!/bin/sh\necho build-one\nexec sleep 30\n")
        chmod(program, 0o755)
        let driver = LocalProcessDriver(artifacts: ArtifactStore(root: dir.file("artifacts")), searchDirectories: [], path: "/usr/bin:/bin")
        var release = ReleaseRecord(service: "web", version: "v1", configVersion: 1,
                                    spec: ServiceSpec(name: "web", run: ["./web"], workingDirectory: dir.path), extraEnv: [:], createdAt: 0)
        release.artifacts = try await driver.prepare(release, secrets: [:]) { _ in }
        #expect(release.artifacts.map(\.kind) == [.executable] && release.artifacts[0].source == program)

        func run(_ name: String) async throws -> (StartedInstance, [String]) {
            let launch = InstanceLaunch.make(release: release, instanceID: name, port: 1, logPath: dir.file("\(name).log"), inherited: ["PATH": "/usr/bin:/bin"])
            let started = try await driver.start(launch, replacing: nil)
            let lines = try await eventually("\(name) to print") { LogFiles.tail(path: dir.file("\(name).log"), lines: 5).isEmpty ? nil : LogFiles.tail(path: dir.file("\(name).log"), lines: 5) }
            LocalProcess.signalGroup(pid: started.pid, startTime: started.pidStartTime, SIGKILL)
            return (started, lines)
        }
        let (unchanged, out1) = try await run("a")
        #expect(out1 == ["build-one"])
        #expect(!unchanged.summary.contains("artifact store"), "unchanged: the program runs where it is")

        _ = try dir.write("web", "#!/bin/sh\necho build-two\nexec sleep 30\n")
        let (changed, out2) = try await run("b")
        #expect(out2 == ["build-one"], "the release's own bytes, not what the path holds now")
        #expect(changed.summary.contains("from the artifact store: \(program) changed since the release was made"), "\(changed.summary)")

        try FileManager.default.removeItem(atPath: dir.file("artifacts"))
        #expect(await driver.unavailable(release)?.contains("its copy is gone from the artifact store") == true)
        do {
            _ = try await driver.prepare(release, secrets: [:]) { _ in }
            Issue.record("a release whose bytes are gone was prepared")
        } catch {
            #expect(error.code == .artifactGone)
            #expect(error.message.hasSuffix("it is refused rather than run other bytes under its label"))
        }
    }

    @Test func aDirectoryArtifactBecomesTheWorkingDirectory() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let app = dir.file("app")
        try FileManager.default.createDirectory(atPath: app + "/bin", withIntermediateDirectories: true)
        let program = try dir.write("app/bin/web", "#!/bin/sh\necho \"$(pwd) $(cat VERSION) $SLIPWAY_ARTIFACT $1\"\nexec sleep 30\n")
        chmod(program, 0o755)
        _ = try dir.write("app/VERSION", "one")
        let driver = LocalProcessDriver(artifacts: ArtifactStore(root: dir.file("artifacts")), searchDirectories: [], path: "/usr/bin:/bin")
        var spec = ServiceSpec(name: "web", run: ["./bin/web", "{{artifact}}"], workingDirectory: app)
        spec.artifact = app
        var release = ReleaseRecord(service: "web", version: "v1", configVersion: 1, spec: spec, extraEnv: [:], createdAt: 0)
        release.artifacts = try await driver.prepare(release, secrets: [:]) { _ in }
        #expect(release.artifacts.map(\.kind) == [.directory], "the program inside the directory is covered by its digest")
        let stored = driver.artifacts.path(of: release.artifacts[0].digest)
        _ = try dir.write("app/VERSION", "two")
        let launch = InstanceLaunch.make(release: release, instanceID: "d", port: 1, logPath: dir.file("d.log"), inherited: ["PATH": "/usr/bin:/bin"])
        let started = try await driver.start(launch, replacing: nil)
        defer { LocalProcess.signalGroup(pid: started.pid, startTime: started.pidStartTime, SIGKILL) }
        let line = try await eventually("the program to print") { LogFiles.tail(path: dir.file("d.log"), lines: 1).first }
        #expect(line == "\(stored) one \(stored) \(stored)")
    }
}
