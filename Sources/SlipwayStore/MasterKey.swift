import Crypto
import Foundation
import SlipwayCore

/// The 256-bit key that protects everything Slipway keeps encrypted or authenticated at
/// rest. Nothing uses it directly: each use derives its own key with `derive(_:)`
/// (secrets seal values under `derive("slipway.secrets.v1")`).
///
/// It comes from `SLIPWAY_MASTER_KEY` (base64 or hex of 32 bytes) or from the state
/// directory's `master.key` file (mode 0600); see `Store.unlockSecrets`.
public struct MasterKey: Sendable {
    public static let environmentVariable = "SLIPWAY_MASTER_KEY"
    public static let byteCount = 32

    /// Where a key came from; error messages name it.
    public enum Source: Sendable, Equatable {
        case environment
        case file(String)
        /// Handed over by a caller (a rotation's new key read from stdin).
        case caller

        public var label: String {
            switch self {
            case .environment: MasterKey.environmentVariable
            case .file(let path): path
            case .caller: "the new key given on stdin"
            }
        }
    }

    let key: SymmetricKey
    public let source: Source

    /// A key from 32 raw bytes.
    public init(bytes: some ContiguousBytes, source: Source) throws(MasterKeyError) {
        let key = SymmetricKey(data: bytes)
        guard key.bitCount == Self.byteCount * 8 else {
            throw MasterKeyError(.badLength, "\(source.label) must hold \(Self.byteCount) bytes (256 bits); it holds \(key.bitCount / 8)")
        }
        self.key = key
        self.source = source
    }

    /// A fresh random key.
    public static func generate(source: Source) -> MasterKey {
        MasterKey(key: SymmetricKey(size: .bits256), source: source)
    }

    private init(key: SymmetricKey, source: Source) {
        self.key = key
        self.source = source
    }

    /// The same key material, labelled with another source.
    public func from(_ source: Source) -> MasterKey { MasterKey(key: key, source: source) }

    /// Parses base64 (standard or URL-safe) or hex text of 32 bytes. Errors name the
    /// source, never the text.
    public static func parse(_ text: String, source: Source) throws(MasterKeyError) -> MasterKey {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else {
            throw MasterKeyError(.badEncoding, "\(source.label) is empty; it must hold \(byteCount) bytes as base64 or hex (create one with `openssl rand -base64 32`)")
        }
        if trimmed.count == byteCount * 2, let bytes = hexBytes(trimmed) {
            return try MasterKey(bytes: bytes, source: source)
        }
        var base64 = trimmed.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        if base64.count % 4 != 0 { base64 += String(repeating: "=", count: 4 - base64.count % 4) }
        guard let data = Data(base64Encoded: base64) else {
            throw MasterKeyError(.badEncoding, "\(source.label) is neither base64 nor hex; it must hold \(byteCount) bytes (create one with `openssl rand -base64 32`)")
        }
        guard data.count == byteCount else {
            throw MasterKeyError(.badLength, "\(source.label) must hold \(byteCount) bytes (256 bits) as base64 or hex; it decodes to \(data.count) bytes")
        }
        return try MasterKey(bytes: data, source: source)
    }

    static func hexBytes(_ text: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        var iterator = text.utf8.makeIterator()
        while let high = iterator.next() {
            guard let low = iterator.next(), let h = hexValue(high), let l = hexValue(low) else { return nil }
            bytes.append(h << 4 | l)
        }
        return bytes
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// A key for one purpose (HKDF-SHA256 with the purpose as info). Different purposes
    /// give independent keys, so no two uses share key material.
    public func derive(_ purpose: String) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(inputKeyMaterial: key, salt: Data("slipway master key".utf8), info: Data(purpose.utf8), outputByteCount: 32)
    }

    /// A short public name of the key (8 hex digits derived one-way from it): error
    /// messages and `rotate-key` show it so operators can tell keys apart.
    public var id: String {
        derive("slipway.key-id").withUnsafeBytes { Hex.string($0.prefix(4)) }
    }

    /// The key as base64: what the key file holds and what `SLIPWAY_MASTER_KEY` takes.
    public var base64: String {
        key.withUnsafeBytes { Data($0).base64EncodedString() }
    }
}

/// A key that cannot be used, with a sentence that names where it came from.
public struct MasterKeyError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Code: Sendable, Equatable {
        case badEncoding, badLength, insecureFile, unreadable, missing, wrongKey, cannotWrite
    }
    public let code: Code
    public let message: String

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
