/// The exact bytes a release runs, named by content. Recorded once, when the release is
/// first started, and never changed: every instance of the release, a rollback to it
/// included, runs these bytes whatever a tag or a path points at later.
public struct ReleaseArtifact: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        /// A container image; `digest` is the image id (the digest of its configuration).
        case image
        /// The program a local instance runs (`run[0]`).
        case executable
        /// `artifact:` naming a file.
        case file
        /// `artifact:` naming a directory (its digest covers names, modes and contents).
        case directory
    }

    public var kind: Kind
    /// What the config named: the image reference, or the path.
    public var source: String
    /// `sha256:HEX`.
    public var digest: String
    /// For images the engine knows by a registry digest (`repo@sha256:…`, after a pull or
    /// a push): what is pulled when the image id is gone from the engine.
    public var repoDigest: String?
    /// Size in bytes (files, directories; images as the engine reports them).
    public var bytes: Int64?

    public init(kind: Kind, source: String, digest: String, repoDigest: String? = nil, bytes: Int64? = nil) {
        self.kind = kind
        self.source = source
        self.digest = digest
        self.repoDigest = repoDigest
        self.bytes = bytes
    }

    /// `sha256:0123456789ab` — short enough for a table, long enough to tell releases apart.
    public var shortDigest: String {
        let hex = digest.hasPrefix("sha256:") ? digest.dropFirst(7) : Substring(digest)
        return "sha256:" + hex.prefix(12)
    }

    /// One line: `image ghcr.io/acme/web:v2 sha256:0123456789ab (ghcr.io/acme/web@sha256:…)`.
    public var summary: String {
        var text = "\(kind.rawValue) \(source) \(shortDigest)"
        if let repoDigest { text += " (\(repoDigest))" }
        return text
    }
}

extension Array where Element == ReleaseArtifact {
    /// What identifies the release's code in one line: the image, else the artifact, else the executable.
    public var primary: ReleaseArtifact? {
        first { $0.kind == .image } ?? first { $0.kind == .directory || $0.kind == .file } ?? first
    }
}
