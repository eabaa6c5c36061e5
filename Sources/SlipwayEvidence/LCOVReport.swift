import Foundation

/// LCOV tracefiles (`coverage lcov`, `llvm-cov export -format=lcov`, `geninfo`): sums each
/// record's `LF` (lines found) and `LH` (lines hit). Read in chunks, line by line.
public enum LCOVReport {
    public static func parse(file: String) throws(EvidenceError) -> CoverageEvidence {
        guard let handle = FileHandle(forReadingAtPath: file) else {
            throw EvidenceError(file: file, "no such readable file")
        }
        defer { try? handle.close() }
        var found = 0, hit = 0, records = 0
        var lineNumber = 0
        var inRecord = false
        var pending = Data()

        func handleLine(_ bytes: Data) throws(EvidenceError) {
            lineNumber += 1
            guard let text = String(data: bytes, encoding: .utf8)?.trimmingCharacters(in: .whitespaces) else {
                throw EvidenceError(file: file, line: lineNumber, "not UTF-8 text")
            }
            if text.isEmpty { return }
            if text.hasPrefix("SF:") {
                inRecord = true
                records += 1
            } else if text == "end_of_record" {
                guard inRecord else { throw EvidenceError(file: file, line: lineNumber, "end_of_record without an SF: line before it") }
                inRecord = false
            } else if text.hasPrefix("LF:") || text.hasPrefix("LH:") {
                guard inRecord else { throw EvidenceError(file: file, line: lineNumber, "\(text.prefix(3)) outside a record (no SF: line before it)") }
                guard let n = Int(text.dropFirst(3)), n >= 0 else {
                    throw EvidenceError(file: file, line: lineNumber, "\(text.prefix(2)) must be a count, got \"\(text.dropFirst(3))\"")
                }
                if text.hasPrefix("LF:") { found += n } else { hit += n }
            } else if let colon = text.firstIndex(of: ":"), text[..<colon].allSatisfy({ $0.isUppercase || $0.isNumber }) {
                // TN, FN, FNDA, FNF, FNH, DA, BRDA, BRF, BRH, VER…: not needed for line coverage.
            } else {
                throw EvidenceError(file: file, line: lineNumber, "not an LCOV line: \"\(text.prefix(60))\"")
            }
        }

        while true {
            let chunk: Data
            do { chunk = try handle.read(upToCount: 1 << 16) ?? Data() } catch {
                throw EvidenceError(file: file, "cannot read: \(error)")
            }
            if chunk.isEmpty { break }
            pending.append(chunk)
            while let newline = pending.firstIndex(of: 0x0a) {
                try handleLine(pending[pending.startIndex..<newline])
                pending.removeSubrange(pending.startIndex...newline)
            }
        }
        if !pending.isEmpty { try handleLine(pending) }
        guard records > 0 else { throw EvidenceError(file: file, "not an LCOV tracefile: no SF: record") }
        if inRecord { throw EvidenceError(file: file, line: lineNumber, "the last record has no end_of_record (truncated file?)") }
        guard hit <= found else { throw EvidenceError(file: file, "LH total \(hit) exceeds LF total \(found)") }
        return CoverageEvidence(linesValid: found, linesCovered: hit)
    }
}
