import Foundation

/// Test results from a CI report: what the `test pass rate` gate reads.
public struct TestEvidence: Codable, Sendable, Equatable {
    public var tests: Int
    public var failures: Int
    public var errors: Int
    public var skipped: Int

    public init(tests: Int = 0, failures: Int = 0, errors: Int = 0, skipped: Int = 0) {
        self.tests = tests
        self.failures = failures
        self.errors = errors
        self.skipped = skipped
    }

    public var passed: Int { tests - failures - errors - skipped }

    /// Passed ÷ (tests − skipped), in percent; nil when nothing ran.
    public var passRate: Double? {
        let ran = tests - skipped
        return ran > 0 ? Double(passed) / Double(ran) * 100 : nil
    }
}

/// Line coverage from a CI report: what the `coverage` gate reads.
public struct CoverageEvidence: Codable, Sendable, Equatable {
    public var linesValid: Int
    public var linesCovered: Int

    public init(linesValid: Int, linesCovered: Int) {
        self.linesValid = linesValid
        self.linesCovered = linesCovered
    }

    /// Covered ÷ valid lines in percent; nil for a report with no lines.
    public var percent: Double? {
        linesValid > 0 ? Double(linesCovered) / Double(linesValid) * 100 : nil
    }
}

/// A report that cannot be read, with the position at fault when there is one.
public struct EvidenceError: Error, Sendable, Equatable, CustomStringConvertible {
    public let file: String
    public let line: Int?
    public let column: Int?
    public let message: String

    public init(file: String, line: Int? = nil, column: Int? = nil, _ message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }

    public var description: String {
        var position = file
        if let line { position += ":\(line)" }
        if let column { position += ":\(column)" }
        return "\(position): \(message)"
    }
}
