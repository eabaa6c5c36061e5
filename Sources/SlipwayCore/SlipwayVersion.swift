/// The version of this build of Slipway (CLI, control plane, router).
public enum SlipwayVersion {
    public static let current = "0.1.0"
}
