/// The plain addresses (`ops@example.com`) an `email` sink sends from and to. Display
/// names, comments, quoted local parts and address literals are refused: the address is
/// written into SMTP commands and mail headers as it stands, so nothing in it may end a
/// line, separate two addresses or open a group.
public enum EmailAddress {
    /// nil when `text` is an address Slipway writes as it stands; otherwise why not.
    public static func problem(_ text: String) -> String? {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2 else {
            return "\(quote(text)) is not an email address: write it as name@domain, without a display name"
        }
        let local = parts[0], domain = parts[1]
        guard !local.isEmpty, local.utf8.count <= 64 else {
            return "\(quote(text)) is not an email address: the part before @ must have 1 to 64 characters"
        }
        // RFC 5322 atext and dots (a dot-atom), no dot at either end or twice in a row.
        let atext = Set("!#$%&'*+-/=?^_`{|}~".unicodeScalars)
        for scalar in local.unicodeScalars where !(isLetterOrDigit(scalar) || atext.contains(scalar) || scalar == ".") {
            return "\(quote(text)) is not an email address: \(quote(String(scalar))) may not appear before the @"
        }
        if local.hasPrefix(".") || local.hasSuffix(".") || local.contains("..") {
            return "\(quote(text)) is not an email address: the part before @ may not start or end with a dot or hold two in a row"
        }
        let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        guard !domain.isEmpty, domain.utf8.count <= 253,
              labels.allSatisfy({ label in
                  !label.isEmpty && label.utf8.count <= 63 && !label.hasPrefix("-") && !label.hasSuffix("-")
                      && label.unicodeScalars.allSatisfy { isLetterOrDigit($0) || $0 == "-" }
              }) else {
            return "\(quote(text)) is not an email address: \(quote(String(domain))) is not a domain name (letters, digits, '-' and dots)"
        }
        return nil
    }

    static func isLetterOrDigit(_ c: Unicode.Scalar) -> Bool {
        (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9")
    }

    /// In double quotes, escaped as a JSON string (line breaks and control characters as
    /// `\r`, `\n`, `\u0000`), so the message stays on one line.
    static func quote(_ text: String) -> String {
        JSONText.quote(text)
    }
}
