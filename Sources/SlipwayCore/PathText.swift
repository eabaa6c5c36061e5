/// Path arithmetic done on the text of a path.
///
/// Foundation's `NSString.deletingLastPathComponent` (swift-corelibs-foundation, Swift
/// 6.3) traps on a name of one character with no slash (`"a"`, `"~"`) and on some others
/// (`"\u{85}"`, `"\u{2028}"`, `"\u{FEFF}"`): a relative path a user types, or a path in an
/// API request, would crash the process. This is what every module uses instead.
public enum PathText {
    /// The folder of `path`: what comes before its last `/` (trailing slashes aside), `/`
    /// for a name at the root, `""` for a bare name (the working directory).
    public static func folder(of path: String) -> String {
        var text = Substring(path)
        while text.count > 1, text.hasSuffix("/") { text = text.dropLast() }
        guard let slash = text.lastIndex(of: "/") else { return "" }
        guard slash != text.startIndex else { return "/" }
        var folder = text[..<slash]
        // "a//b" → "a", as a file system reads it.
        while folder.count > 1, folder.hasSuffix("/") { folder = folder.dropLast() }
        return String(folder)
    }

    /// The folder of `path` as a directory to open: `"."` for a bare name.
    public static func openableFolder(of path: String) -> String {
        let folder = folder(of: path)
        return folder.isEmpty ? "." : folder
    }
}
