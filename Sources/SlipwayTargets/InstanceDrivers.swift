import SlipwayCore

/// The drivers of one control plane, one per target kind.
public struct InstanceDrivers: Sendable {
    public let local: LocalProcessDriver
    public let container: ContainerDriver

    public init(local: LocalProcessDriver, container: ContainerDriver) {
        self.local = local
        self.container = container
    }

    public func callAsFunction(_ kind: TargetKind) -> any InstanceDriver {
        switch kind {
        case .local: local
        case .container: container
        }
    }

    public var all: [any InstanceDriver] { [local, container] }
}
