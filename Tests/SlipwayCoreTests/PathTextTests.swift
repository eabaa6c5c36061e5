import SlipwayServer
import Testing

/// The folder of an applied config file (its default working directory), worked out without
/// Foundation's path functions, which trap on some text: Schemathesis crashed the server
/// with `{"path": "\u0085"}` on `POST /v1/plan`.
@Suite struct ApplyRequestTests {
    @Test(arguments: [
        ("/srv/app/slipway.yml", "/srv/app"),
        ("/srv/app/", "/srv"),
        ("/slipway.yml", "/"),
        ("/", "/"),
        ("slipway.yml", ""),
        ("conf/slipway.yml", "conf"),
        ("", ""),
        ("\u{85}", ""),
        ("/a/\u{85}", "/a"),
        ("\u{85}/\u{2028}/x", "\u{85}/\u{2028}"),
    ])
    func theFolderIsWhatComesBeforeTheLastSlash(path: String, folder: String) {
        #expect(ApplyRequest(path: path, text: "").folder == folder)
    }
}
