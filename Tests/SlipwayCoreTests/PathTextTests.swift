import SlipwayCore
import Testing

/// The folder of a path, worked out without Foundation's `deletingLastPathComponent`, which
/// traps (Swift 6.3 on Linux) on a one-character name such as `"a"` or `"~"` and on some
/// characters: Schemathesis crashed the server with `{"path": "\u0085"}` on
/// `POST /v1/plan`. Every argument here that has no slash, or holds one of those
/// characters, crashed the process before.
@Suite struct PathTextTests {
    @Test(arguments: [
        ("/srv/app/slipway.yml", "/srv/app"),
        ("/srv/app/", "/srv"),
        ("/srv//app", "/srv"),
        ("/slipway.yml", "/"),
        ("/", "/"),
        ("//", "/"),
        ("slipway.yml", ""),
        ("conf/slipway.yml", "conf"),
        ("", ""),
        ("a", ""),
        ("~", ""),
        ("\u{85}", ""),
        ("\u{2028}", ""),
        ("\u{FEFF}", ""),
        ("/a/\u{85}", "/a"),
        ("\u{85}/\u{2028}/x", "\u{85}/\u{2028}"),
    ])
    func theFolderIsWhatComesBeforeTheLastSlash(path: String, folder: String) {
        #expect(PathText.folder(of: path) == folder)
    }

    @Test func aBareNameIsOpenedInTheWorkingDirectory() {
        #expect(PathText.openableFolder(of: "k") == ".")
        #expect(PathText.openableFolder(of: "/etc/k") == "/etc")
    }
}
