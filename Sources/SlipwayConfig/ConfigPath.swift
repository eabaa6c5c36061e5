/// Where a node sits in the document, rendered as `strategy.blue-green.keep_previous` or `run[2]`.
struct ConfigPath: CustomStringConvertible {
    private var text: String

    static let root = ConfigPath(text: "")

    private init(text: String) {
        self.text = text
    }

    func key(_ key: String) -> ConfigPath {
        ConfigPath(text: text.isEmpty ? key : "\(text).\(key)")
    }

    func index(_ index: Int) -> ConfigPath {
        ConfigPath(text: "\(text)[\(index)]")
    }

    var description: String { text }
}
