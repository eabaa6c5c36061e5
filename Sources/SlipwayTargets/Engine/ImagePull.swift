import Foundation
import NIOCore
import SlipwayCore

/// `POST /images/create?fromImage=REF`: the engine pulls from the image's registry, with
/// credentials in `X-Registry-Auth`, and streams its progress as JSON lines; a failure
/// can arrive as an error status or as an `error` line in a 200 stream.
public struct ImagePull {
    let engine: EngineClient

    /// Registry login for one pull (never stored, never logged).
    public struct Login: Sendable, Codable {
        var username: String
        var password: String
        var server: String

        /// base64url of `{"username":…,"password":…,"serveraddress":…}`.
        var header: String {
            let json = (try? JSONSerialization.data(withJSONObject: ["username": username, "password": password, "serveraddress": server], options: [.sortedKeys])) ?? Data()
            return json.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        }
    }

    func pull(_ reference: String, login: Login?, progress: @escaping @Sendable (String) async -> Void) async throws(DriverError) {
        var headers: [(String, String)] = []
        if let login { headers.append(("X-Registry-Auth", login.header)) }
        let response = try await engine.send(.POST, "/images/create", query: [("fromImage", reference)], headers: headers, timeout: .seconds(120))
        let status = Int(response.status.code)
        var pending = ""
        var last: [String: String] = [:]
        var lastShown = ContinuousClock.now - .seconds(10)
        var body = ByteBuffer()
        do {
            for try await chunk in response.body {
                if !(200..<300).contains(status) {
                    var chunk = chunk
                    body.writeBuffer(&chunk)
                    continue
                }
                pending += String(buffer: chunk)
                var lines = pending.split(separator: "\n", omittingEmptySubsequences: false)
                pending = String(lines.removeLast())
                for line in lines where !line.trimmingCharacters(in: .whitespaces).isEmpty {
                    guard let item = try? JSONDecoder().decode(EngineModels.PullProgress.self, from: Data(line.utf8)) else { continue }
                    if let error = item.errorDetail?.message ?? item.error {
                        throw Self.classify(error, reference: reference, login: login)
                    }
                    guard let text = item.status else { continue }
                    let key = item.id ?? ""
                    let isTransfer = text == "Downloading" || text == "Extracting"
                    // Every new state of a layer, and transfers at most once a second.
                    if last[key] == text && (!isTransfer || ContinuousClock.now - lastShown < .seconds(1)) { continue }
                    last[key] = text
                    lastShown = ContinuousClock.now
                    await progress([item.id.map { "\($0): " } ?? "", text, item.progress.map { " \($0)" } ?? ""].joined())
                }
            }
        } catch let error as DriverError {
            throw error
        } catch {
            throw DriverError(.failed, "pulling \(reference) broke off: \(error)")
        }
        if !(200..<300).contains(status) {
            throw Self.classify(EngineClient.Answer(status: status, body: body).message, reference: reference, login: login)
        }
    }

    /// The engine's words sorted into not found, denied and the rest, with what to do.
    static func classify(_ message: String, reference: String, login: Login?) -> DriverError {
        let lower = message.lowercased()
        let registry = login?.server ?? ImageReference.registry(of: reference)
        if lower.contains("unauthorized") || lower.contains("authentication required") || lower.contains("denied") || lower.contains("forbidden") {
            let hint = login == nil
                ? "give `registry: { username: …, password: \"${SECRET}\" }` with the secret set (`slipway secrets set`)"
                : "check `registry.username` and the secret `registry.password` names"
            return DriverError(.denied, "the registry \(registry) refused to pull \(reference): \(message); \(hint)")
        }
        if lower.contains("manifest unknown") || lower.contains("not found") || lower.contains("does not exist") || lower.contains("no such image") {
            return DriverError(.notFound, "image \(reference) was not found in its registry \(registry): \(message)")
        }
        return DriverError(.failed, "pulling \(reference) from \(registry) failed: \(message)")
    }
}
