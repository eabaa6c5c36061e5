import Foundation

/// What a scan looks at.
public struct SecretScanOptions: Sendable {
    public static let defaultMaxFileSize = 5 * 1024 * 1024
    /// A NUL byte in this many first bytes makes a file binary (as git and gitleaks judge it).
    public static let binaryProbeLength = 8 * 1024
    /// Directories never entered; so is any whose name starts with `.build`.
    public static let skippedDirectories: Set<String> = [".git", "node_modules"]

    /// Larger files are skipped (and listed as skipped).
    public var maxFileSize: Int
    public var allowlist: SecretAllowlist
    /// Paths relative to the scanned directory that are not scanned (the allowlist itself).
    public var excludedFiles: Set<String>

    public init(maxFileSize: Int = SecretScanOptions.defaultMaxFileSize, allowlist: SecretAllowlist = SecretAllowlist(), excludedFiles: Set<String> = []) {
        self.maxFileSize = maxFileSize
        self.allowlist = allowlist
        self.excludedFiles = excludedFiles
    }
}

/// A file the scan did not read, and why.
public struct SkippedFile: Codable, Sendable, Equatable {
    public enum Reason: String, Codable, Sendable, CaseIterable {
        case binary, tooLarge = "too-large", symlink, unreadable, allowlisted
    }

    public var path: String
    public var reason: Reason
}

public struct SecretScanResult: Codable, Sendable, Equatable {
    public var findings: [SecretFinding] = []
    public var filesScanned = 0
    public var skipped: [SkippedFile] = []
}

/// Walks a directory (never following symlinks, skipping `.git`, `.build*`, `node_modules`,
/// binary and oversize files) and runs the rules over every line of every file, in path order.
public struct SecretScanner: Sendable {
    public var rules: [SecretRule]
    public var options: SecretScanOptions

    public init(rules: [SecretRule] = SecretRules.all, options: SecretScanOptions = SecretScanOptions()) {
        self.rules = rules
        self.options = options
    }

    public func scan(directory: String) throws(SecretScanError) -> SecretScanResult {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw SecretScanError(.notADirectory, file: directory, "no such directory")
        }
        var result = SecretScanResult()
        walk(root: directory, relative: "", into: &result)
        return result
    }

    private func walk(root: String, relative: String, into result: inout SecretScanResult) {
        let fm = FileManager.default
        let here = relative.isEmpty ? root : root + "/" + relative
        guard let names = try? fm.contentsOfDirectory(atPath: here) else {
            result.skipped.append(SkippedFile(path: relative.isEmpty ? "." : relative, reason: .unreadable))
            return
        }
        for name in names.sorted() {
            let path = relative.isEmpty ? name : relative + "/" + name
            let full = root + "/" + path
            // attributesOfItem does not follow a final symlink (lstat).
            guard let attributes = try? fm.attributesOfItem(atPath: full), let type = attributes[.type] as? FileAttributeType else {
                result.skipped.append(SkippedFile(path: path, reason: .unreadable))
                continue
            }
            switch type {
            case .typeDirectory:
                if Self.skippedDirectories(name) { continue }
                walk(root: root, relative: path, into: &result)
            case .typeSymbolicLink:
                result.skipped.append(SkippedFile(path: path, reason: .symlink))
            case .typeRegular:
                if options.excludedFiles.contains(path) { continue }
                if options.allowlist.skips(path: path) {
                    result.skipped.append(SkippedFile(path: path, reason: .allowlisted))
                    continue
                }
                if let size = (attributes[.size] as? NSNumber)?.int64Value, size > Int64(options.maxFileSize) {
                    result.skipped.append(SkippedFile(path: path, reason: .tooLarge))
                    continue
                }
                scanFile(full, path: path, into: &result)
            default:
                continue  // sockets, FIFOs, devices: reading them could block or never end
            }
        }
    }

    static func skippedDirectories(_ name: String) -> Bool {
        SecretScanOptions.skippedDirectories.contains(name) || name.hasPrefix(".build")
    }

    private func scanFile(_ full: String, path: String, into result: inout SecretScanResult) {
        guard let handle = FileHandle(forReadingAtPath: full) else {
            result.skipped.append(SkippedFile(path: path, reason: .unreadable))
            return
        }
        defer { try? handle.close() }
        // Read at most one byte over the limit: enough to know the file is too large (or
        // grew past it since the walk saw it).
        let limit = options.maxFileSize.addingReportingOverflow(1)
        guard let data = try? handle.read(upToCount: limit.overflow ? Int.max : limit.partialValue) ?? Data() else {
            result.skipped.append(SkippedFile(path: path, reason: .unreadable))
            return
        }
        if data.count > options.maxFileSize {
            result.skipped.append(SkippedFile(path: path, reason: .tooLarge))
            return
        }
        if data.prefix(SecretScanOptions.binaryProbeLength).contains(0) {
            result.skipped.append(SkippedFile(path: path, reason: .binary))
            return
        }
        result.filesScanned += 1
        result.findings += scan(lines: Self.lines(of: data), file: path)
    }

    /// Lines split on `\n` with a trailing `\r` dropped (Swift treats `\r\n` as one character,
    /// so this splits the bytes).
    static func lines(of data: Data) -> [String] {
        data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map { line in
            String(decoding: line.last == UInt8(ascii: "\r") ? line.dropLast() : line, as: UTF8.self)
        }
    }

    /// Findings in `text` as if it were the file `file` (allowlist regexes and fingerprints apply).
    public func scan(text: String, file: String) -> [SecretFinding] {
        scan(lines: Self.lines(of: Data(text.utf8)), file: file)
    }

    func scan(lines: [String], file: String) -> [SecretFinding] {
        var findings: [SecretFinding] = []
        for index in lines.indices {
            findings += scan(line: index, of: lines, file: file)
        }
        return findings
    }

    private func scan(line index: Int, of lines: [String], file: String) -> [SecretFinding] {
        let line = lines[index]
        let lower = line.lowercased()
        let text = line as NSString
        // On an ASCII line a UTF-16 offset is the column: no O(n) walk per finding (a
        // minified file's one line can hold thousands).
        let ascii = line.utf8.count == text.length
        func column(_ offset: Int, onLine number: Int) -> Int {
            ascii && number == index ? offset + 1 : Self.column(utf16: offset, in: lines[number])
        }
        var found: [SecretFinding] = []
        var taken: [NSRange] = []
        for rule in rules where rule.applies(toLowercased: lower) {
            for m in rule.regex.matches(in: line, range: NSRange(location: 0, length: text.length)) {
                let candidate: (secret: String, range: NSRange, line: Int, match: String)
                switch rule.secret {
                case .group(let group):
                    let range = m.range(at: group)
                    guard range.location != NSNotFound else { continue }
                    let secret = text.substring(with: range)
                    let before = text.substring(with: NSRange(location: m.range.location, length: range.location - m.range.location))
                    let after = text.substring(with: NSRange(location: NSMaxRange(range), length: NSMaxRange(m.range) - NSMaxRange(range)))
                    candidate = (secret, range, index, before + SecretFinding.redact(secret) + after)
                case .pemBody:
                    guard let body = Self.pemBody(after: m.range, on: index, of: lines) else { continue }
                    candidate = (body.secret, body.range, body.line, text.substring(with: m.range))
                }
                guard rule.accepts(candidate.secret),
                      !(candidate.line == index && taken.contains { NSIntersectionRange($0, candidate.range).length > 0 }) else { continue }
                // Taken before the allowlist is asked: a secret allowed under its own rule
                // must not come back under a later, more general one.
                if candidate.line == index { taken.append(candidate.range) }
                let fingerprint = SecretFinding.fingerprint(file: file, rule: rule.id, line: index + 1)
                guard !options.allowlist.ignores(secret: candidate.secret), !options.allowlist.ignores(fingerprint: fingerprint) else { continue }
                let startColumn = column(candidate.range.location, onLine: candidate.line)
                found.append(SecretFinding(
                    ruleID: rule.id, description: rule.description, file: file,
                    startLine: index + 1, endLine: candidate.line + 1,
                    startColumn: candidate.line == index ? startColumn : column(m.range.location, onLine: index),
                    endColumn: startColumn + candidate.secret.count - 1,
                    match: candidate.match, secret: SecretFinding.redact(candidate.secret),
                    entropy: (SecretEntropy.shannon(candidate.secret) * 1000).rounded() / 1000, fingerprint: fingerprint))
            }
        }
        return found.sorted { $0.startColumn < $1.startColumn }
    }

    /// 1-based character column of a UTF-16 offset.
    static func column(utf16 offset: Int, in line: String) -> Int {
        let index = String.Index(utf16Offset: offset, in: line)
        return line.distance(from: line.startIndex, to: index) + 1
    }

    private static let escapedBody = SecretRule.compile(#"(?:\\r)?\\n([A-Za-z0-9+/]{40,}={0,2})"#)
    private static let bodyLine = SecretRule.compile(#"^\s*["'`]?([A-Za-z0-9+/]{40,}={0,2})"#)

    /// The first base64 line of a PEM block whose header is at `header` on line `index`: on
    /// the same line after an escaped `\n` (a key in a JSON or env string), or on one of the
    /// next lines, past RFC 1421 headers (`Proc-Type: …`) and blank lines.
    static func pemBody(after header: NSRange, on index: Int, of lines: [String]) -> (secret: String, range: NSRange, line: Int)? {
        let line = lines[index] as NSString
        let rest = NSRange(location: NSMaxRange(header), length: line.length - NSMaxRange(header))
        if let m = escapedBody.firstMatch(in: lines[index], options: .anchored, range: rest) {
            return (line.substring(with: m.range(at: 1)), m.range(at: 1), index)
        }
        var next = index + 1
        while next < lines.count, next <= index + 4 {
            let candidate = lines[next]
            if let m = bodyLine.firstMatch(in: candidate, range: NSRange(location: 0, length: (candidate as NSString).length)) {
                return ((candidate as NSString).substring(with: m.range(at: 1)), m.range(at: 1), next)
            }
            guard candidate.trimmingCharacters(in: .whitespaces).isEmpty || candidate.contains(":") else { return nil }
            next += 1
        }
        return nil
    }
}
