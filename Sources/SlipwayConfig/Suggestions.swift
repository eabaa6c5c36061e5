/// "Did you mean …?" for misspelt keys.
enum Suggestions {
    /// The closest candidate within edit distance 2, or one sharing a prefix of at least
    /// 4 characters (or the whole shorter word) with `word`; nil when nothing is close.
    static func closest(to word: String, in candidates: [String]) -> String? {
        let lowered = word.lowercased()
        let characters = Array(lowered)
        var best: (candidate: String, distance: Int)?
        for candidate in candidates {
            // The distance is at least the difference in length: most candidates need no table.
            let other = Array(candidate.lowercased())
            guard abs(other.count - characters.count) <= 2 else { continue }
            let distance = editDistance(characters, other)
            if distance <= 2, distance < (best?.distance ?? Int.max) {
                best = (candidate, distance)
            }
        }
        if let best { return best.candidate }
        for candidate in candidates {
            let shared = commonPrefixLength(lowered, candidate.lowercased())
            if shared >= 4 || (shared >= 2 && shared == min(lowered.count, candidate.count)) {
                return candidate
            }
        }
        return nil
    }

    /// Levenshtein distance counted in characters.
    static func editDistance(_ a: String, _ b: String) -> Int {
        editDistance(Array(a), Array(b))
    }

    static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
                current[j] = min(previous[j] + 1, current[j - 1] + 1, substitution)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }

    private static func commonPrefixLength(_ a: String, _ b: String) -> Int {
        zip(a, b).prefix { $0 == $1 }.count
    }
}
