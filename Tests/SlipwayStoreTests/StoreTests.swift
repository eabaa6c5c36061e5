import Foundation
import SlipwayCore
import SlipwayStore
import SlipwayTesting
import Testing

@Suite struct StoreTests {
    func spec(_ name: String = "web", replicas: Int = 1) -> ServiceSpec {
        ServiceSpec(name: name, run: ["./web", "--port", "{{port}}"], replicas: replicas)
    }

    func state(_ target: String, from: String?) -> BlueGreenState {
        BlueGreenState(kind: .deploy, targetVersion: target, fromVersion: from, replicas: 1, warm: false, spec: BlueGreenSpec(), now: 100)
    }

    @Test func applyVersionsConfigOnlyWhenItChanges() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try Store(path: dir.file("s.sqlite"))
        #expect(try store.apply(spec(), source: "a.yml", now: 1) == (1, true))
        #expect(try store.apply(spec(), source: "a.yml", now: 2) == (1, false))
        #expect(try store.apply(spec(replicas: 3), source: "a.yml", now: 3) == (2, true))
        #expect(try store.service("web")?.spec.replicas == 3)
        #expect(try store.serviceNames() == ["web"])
    }

    @Test func releasesAreImmutable() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try Store(path: dir.file("s.sqlite"))
        try store.apply(spec(), source: "a.yml", now: 1)
        let r1 = try store.release(service: "web", version: "v1", creatingWith: ["A": "1"], now: 2)
        try store.apply(spec(replicas: 5), source: "a.yml", now: 3)
        let again = try store.release(service: "web", version: "v1", creatingWith: ["A": "2"], now: 4)
        #expect(again == r1)
        #expect(again?.spec.replicas == 1)
        #expect(try store.release(service: "web", version: "nope", creatingWith: nil, now: 5) == nil)
    }

    @Test func secondRolloutIsRefusedWithTheRunningID() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try Store(path: dir.file("s.sqlite"))
        try store.apply(spec(), source: "a.yml", now: 1)
        let first = try store.createRollout(service: "web", state: state("v2", from: "v1"))
        #expect(throws: StoreError.self) { try store.createRollout(service: "web", state: state("v3", from: "v1")) }
        do {
            _ = try store.createRollout(service: "web", state: state("v3", from: "v1"))
        } catch {
            #expect(error.code == .conflict)
            #expect(error.rolloutID == first)
        }
        var done = state("v2", from: "v1")
        done.phase = .succeeded
        done.endedAt = 200
        try store.updateRollout(id: first, state: done)
        let second = try store.createRollout(service: "web", state: state("v3", from: "v2"))
        #expect(second > first)
    }

    @Test func historySurvivesReopening() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("s.sqlite")
        do {
            let store = try Store(path: path)
            try store.apply(spec(), source: "a.yml", now: 1)
            let id = try store.createRollout(service: "web", state: state("v1", from: nil))
            try store.appendEvent(service: "web", rolloutID: id, kind: "started", message: "hello", time: 2)
            try store.saveInstance(InstanceRecord(id: "web-v1-a", service: "web", version: "v1", port: 1234, pid: 42, pidStartTime: 99, state: .running, startedAt: 3, logPath: "/tmp/x"))
        }
        let reopened = try Store(path: path)
        let history = try reopened.rollouts(service: "web", limit: 10)
        #expect(history.count == 1)
        #expect(try reopened.rollout(id: history[0].id)?.events?.map(\.message) == ["hello"])
        #expect(try reopened.activeRollouts().count == 1)
        let instances = try reopened.liveInstances(service: "web")
        #expect(instances.map(\.pidStartTime) == [99])
    }

    @Test func routeGenerationsOnlyGrow() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try Store(path: dir.file("s.sqlite"))
        let a = try store.nextRouteGeneration(atLeast: 0)
        let b = try store.nextRouteGeneration(atLeast: 0)
        let c = try store.nextRouteGeneration(atLeast: 100)
        #expect(a < b)
        #expect(c == 101)
    }

    @Test func unopenableDatabaseIsAClearError() throws {
        #expect(throws: StoreError.self) { try Store(path: "/proc/definitely/not/here.sqlite") }
    }
}
