import Crypto
import Foundation

/// AES-GCM sealing of secret values. Each value gets a fresh random nonce; the
/// associated data binds service, environment, name and version, so a sealed value
/// copied onto another row (or another version) fails to open.
enum SecretSeal {
    static let purpose = "slipway.secrets.v1"

    struct Address: Sendable, Equatable {
        var service: String
        var env: String
        var name: String
        var version: Int

        /// Length-prefixed fields: no two addresses give the same bytes.
        var associatedData: Data {
            var out = Data("slipway.secret.v1".utf8)
            for field in [service, env, name, String(version)] {
                out.append(contentsOf: Array("\(field.utf8.count):".utf8))
                out.append(contentsOf: Array(field.utf8))
            }
            return out
        }
    }

    static func seal(_ value: String, at address: Address, key: MasterKey) throws -> Data {
        let box = try AES.GCM.seal(Data(value.utf8), using: key.derive(purpose), authenticating: address.associatedData)
        guard let combined = box.combined else { throw CryptoKitError.incorrectParameterSize }
        return combined
    }

    /// The value, or nil when the bytes do not open under this key and address.
    static func open(_ sealed: Data, at address: Address, key: MasterKey) -> String? {
        guard let box = try? AES.GCM.SealedBox(combined: sealed),
              let plain = try? AES.GCM.open(box, using: key.derive(purpose), authenticating: address.associatedData) else { return nil }
        return String(data: plain, encoding: .utf8)
    }

    // MARK: key check

    static let checkPlaintext = Data("slipway master key check v1".utf8)
    static let checkAddress = Address(service: "", env: "", name: "key-check", version: 0)

    static func keyCheck(_ key: MasterKey) throws -> Data {
        let box = try AES.GCM.seal(checkPlaintext, using: key.derive(purpose), authenticating: checkAddress.associatedData)
        guard let combined = box.combined else { throw CryptoKitError.incorrectParameterSize }
        return combined
    }

    static func opensKeyCheck(_ sealed: Data, key: MasterKey) -> Bool {
        guard let box = try? AES.GCM.SealedBox(combined: sealed),
              let plain = try? AES.GCM.open(box, using: key.derive(purpose), authenticating: checkAddress.associatedData) else { return false }
        return plain == checkPlaintext
    }
}
