import Foundation
import SlipwayCore

/// Where the package's executables (`slipway`, `hello-app`) were built: the folder of the
/// running test binary (`swift build` puts them side by side).
public enum BuiltProducts {
    public static var directory: String {
        if let override = ProcessInfo.processInfo.environment["SLIPWAY_BIN_DIR"] { return override }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = PathText.folder(of: exe)
        // The xctest bundle may be a directory on some layouts.
        while !dir.isEmpty, dir != "/", !FileManager.default.fileExists(atPath: dir + "/slipway") {
            let parent = PathText.folder(of: dir)
            if parent == dir { break }
            dir = parent
            if dir.hasSuffix("/.build") { break }
        }
        return dir
    }

    public static func path(_ name: String) throws -> String {
        let p = directory + "/" + name
        guard FileManager.default.isExecutableFile(atPath: p) else {
            throw PollTimeout(description: "\(name) is not built at \(p); run `swift build` before the tests (scripts/test.sh does)")
        }
        return p
    }
}
