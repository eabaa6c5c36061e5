import Yams

/// Turns YAML text into a `Yams.Node` tree, reporting syntax errors and duplicate keys
/// with their positions.
enum YAMLDocument {
    /// The root node (a null scalar for an empty document), or nil after a syntax error.
    ///
    /// Yams stops at the first duplicate key. To still report every problem, the
    /// duplicate entry is blanked out (keeping line numbers) and the text is composed again,
    /// up to `duplicateLimit` duplicates (each costs a parse of the whole text); past that
    /// the ones found are reported with a note that more follow.
    static func compose(_ text: String, _ diagnostics: Diagnostics) -> Node? {
        var text = text
        var duplicates: [(key: String, first: Position, second: Position)] = []
        while true {
            do {
                // UTF-8 named: Yams' default encoding reads the environment on every parse.
                let root = try Yams.compose(yaml: text, .default, .default, .utf8) ?? Node("", Tag(.null))
                for duplicate in duplicates {
                    let path = root.pathOfKey(at: duplicate.first) ?? ConfigPath.root.key(duplicate.key)
                    diagnostics.error(at: duplicate.second, path, duplicateMessage(duplicate.key, first: duplicate.first))
                }
                return root
            } catch let YamlError.duplicatedKeysInMapping(keys, context) {
                let key = keys.sorted().first ?? "?"
                let first = Position(context.mark)
                guard let (second, blanked) = blankDuplicate(of: first, in: text) else {
                    // Flow style (`{a: 1, a: 2}`): point at the second key, stop composing.
                    let second = flowDuplicate(of: first, in: text) ?? first
                    diagnostics.error(at: second, .root, duplicateMessage(key, first: first))
                    reportUnlocated(duplicates, diagnostics)
                    return nil
                }
                guard duplicates.count < duplicateLimit else {
                    reportUnlocated(duplicates, diagnostics)
                    diagnostics.error(at: second, ConfigPath.root.key(key), duplicateMessage(key, first: first)
                        + "; that makes \(duplicateLimit + 1) duplicate keys, so the check stopped here: remove them and check again for any others")
                    return nil
                }
                duplicates.append((key, first, second))
                text = blanked
            } catch {
                report(error, in: text, diagnostics)
                reportUnlocated(duplicates, diagnostics)
                return nil
            }
        }
    }

    private static func duplicateMessage(_ key: String, first: Position) -> String {
        "duplicate key `\(key)` (first given at line \(first.line), column \(first.column))"
    }

    /// How many duplicate keys `compose` reports before it stops looking for more.
    static let duplicateLimit = 20

    private static func reportUnlocated(_ duplicates: [(key: String, first: Position, second: Position)], _ diagnostics: Diagnostics) {
        for duplicate in duplicates {
            diagnostics.error(at: duplicate.second, ConfigPath.root.key(duplicate.key), duplicateMessage(duplicate.key, first: duplicate.first))
        }
    }

    private static func report(_ error: any Error, in text: String, _ diagnostics: Diagnostics) {
        guard let error = error as? YamlError else {
            diagnostics.error(at: .start, .root, "cannot read YAML: \(error)")
            return
        }
        func explain(_ problem: String, _ context: YamlError.Context?, at position: Position) -> String {
            var message: String
            if let context, problem.hasPrefix("but ") {
                message = "invalid YAML: \(context.text) \(problem)"
            } else if let context {
                message = "invalid YAML: \(problem) (\(context.text) at line \(context.mark.line), column \(context.mark.column))"
            } else {
                message = "invalid YAML: \(problem)"
            }
            if character(at: position, in: text) == "\t" {
                message += "; YAML does not allow tabs for indentation"
            }
            return message
        }
        switch error {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _), let .composer(context, problem, mark, _):
            diagnostics.error(at: Position(mark), .root, explain(problem, context, at: Position(mark)))
        case let .reader(problem, offset, _, _):
            diagnostics.error(at: offset.map { position(ofCharacterOffset: $0, in: text) }, .root, "invalid text: \(problem)")
        default:
            diagnostics.error(at: .start, .root, "cannot read YAML: \(error)")
        }
    }

    private static func character(at position: Position, in text: String) -> Unicode.Scalar? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard position.line >= 1, position.line <= lines.count else { return nil }
        let scalars = Array(lines[position.line - 1].unicodeScalars)
        return position.column >= 1 && position.column <= scalars.count ? scalars[position.column - 1] : nil
    }

    /// The position of a later `key:` after `{` or `,` in a flow mapping, written like the
    /// key at `first`.
    static func flowDuplicate(of first: Position, in text: String) -> Position? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { Array($0.unicodeScalars) }
        guard first.line >= 1, first.line <= lines.count, first.column - 1 <= lines[first.line - 1].count else { return nil }
        let fromKey = String(String.UnicodeScalarView(lines[first.line - 1][(first.column - 1)...]))
        guard let token = keyToken(fromKey) else { return nil }
        let tokenScalars = Array(token.unicodeScalars)
        var previous: Unicode.Scalar = " "
        for lineIndex in (first.line - 1)..<lines.count {
            let line = lines[lineIndex]
            let start = lineIndex == first.line - 1 ? first.column - 1 + tokenScalars.count : 0
            var column = start
            while column < line.count {
                let scalar = line[column]
                if (previous == "{" || previous == ","), line.count - column >= tokenScalars.count,
                   Array(line[column..<(column + tokenScalars.count)]) == tokenScalars {
                    let rest = line[(column + tokenScalars.count)...].drop { $0 == " " }
                    if rest.first == ":" { return Position(line: lineIndex + 1, column: column + 1) }
                }
                if scalar != " " && scalar != "\t" { previous = scalar }
                column += 1
            }
        }
        return nil
    }

    private static func position(ofCharacterOffset offset: Int, in text: String) -> Position {
        var line = 1, column = 1
        for ch in text.prefix(offset) {
            if ch == "\n" { line += 1; column = 1 } else { column += 1 }
        }
        return Position(line: line, column: column)
    }

    /// Finds the next block-mapping sibling written like the key at `first`, and returns its
    /// position and the text with that entry (the key line and its more-indented
    /// continuation) replaced by empty lines. Nil when it cannot be found (flow style).
    static func blankDuplicate(of first: Position, in text: String) -> (Position, String)? {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard first.line >= 1, first.line <= lines.count else { return nil }
        let firstLine = Array(lines[first.line - 1].unicodeScalars)
        let indent = first.column - 1
        guard indent <= firstLine.count else { return nil }
        let fromKey = String(String.UnicodeScalarView(firstLine[indent...]))
        guard let token = keyToken(fromKey) else { return nil }
        var index = first.line // 0-based index of the line after the first key
        while index < lines.count {
            let line = lines[index]
            let content = line.drop { $0 == " " }
            let lineIndent = line.count - content.count
            if content.isEmpty || content.hasPrefix("#") || content.trimmingSpaces.isEmpty {
                index += 1
                continue
            }
            if lineIndent < indent { return nil }
            if lineIndent == indent, keyToken(String(content)) == token {
                var end = index + 1
                while end < lines.count {
                    let next = lines[end]
                    let nextContent = next.drop { $0 == " " }
                    let nextIndent = next.count - nextContent.count
                    if !nextContent.trimmingSpaces.isEmpty, !nextContent.hasPrefix("#"), nextIndent <= indent { break }
                    end += 1
                }
                for i in index..<end { lines[i] = "" }
                return (Position(line: index + 1, column: indent + 1), lines.joined(separator: "\n"))
            }
            index += 1
        }
        return nil
    }

    /// The key as written at the start of a `key: value` line (quotes kept), or nil.
    private static func keyToken(_ line: String) -> String? {
        var chars = Array(line)
        if chars.last == "\r" { chars.removeLast() }
        for (i, ch) in chars.enumerated() where ch == ":" {
            if i + 1 == chars.count || chars[i + 1] == " " || chars[i + 1] == "\t" {
                let token = String(chars[..<i]).trimmingSpaces
                return token.isEmpty ? nil : token
            }
        }
        return nil
    }
}

extension StringProtocol {
    var trimmingSpaces: String {
        String(drop { $0 == " " || $0 == "\t" || $0 == "\r" }.reversed().drop { $0 == " " || $0 == "\t" || $0 == "\r" }.reversed())
    }
}

extension Node {
    /// The document path of the mapping key written at `mark`, if there is one.
    func pathOfKey(at mark: Position, under path: ConfigPath = .root) -> ConfigPath? {
        switch self {
        case .mapping(let mapping):
            for (key, value) in mapping {
                let keyText = key.scalar?.string ?? "?"
                if let keyMark = key.position, keyMark.line == mark.line, keyMark.column == mark.column {
                    return path.key(keyText)
                }
                if let found = value.pathOfKey(at: mark, under: path.key(keyText)) { return found }
            }
        case .sequence(let sequence):
            for (i, item) in sequence.enumerated() {
                if let found = item.pathOfKey(at: mark, under: path.index(i)) { return found }
            }
        default:
            break
        }
        return nil
    }
}
