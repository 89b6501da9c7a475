// Did-you-mean for command-line options, commands and configuration keys.

public enum Suggestion {
    /// The candidate closest to `word`, if it is close enough to be what was meant.
    public static func closest(to word: String, in candidates: [String]) -> String? {
        guard let best = candidates.min(by: { editDistance($0, word) < editDistance($1, word) }) else { return nil }
        return editDistance(best, word) <= max(2, word.count / 3) ? best : nil
    }

    /// Levenshtein distance.
    public static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        guard !a.isEmpty else { return b.count }
        guard !b.isEmpty else { return a.count }
        var row = Array(0...b.count)
        for i in 1...a.count {
            var previous = row[0]
            row[0] = i
            for j in 1...b.count {
                let current = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
                previous = current
            }
        }
        return row[b.count]
    }
}
