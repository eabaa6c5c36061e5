import Synchronization

/// Wakes the notifier when a notification is queued, so delivery starts at once instead
/// of on the next poll. A wake with nobody waiting is remembered (one is enough).
public final class OutboxSignal: Sendable {
    private struct State {
        var pending = false
        var waiter: CheckedContinuation<Void, Never>?
        var generation: UInt64 = 0
    }
    private let state = Mutex(State())

    public init() {}

    public func wake() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            guard let w = s.waiter else {
                s.pending = true
                return nil
            }
            s.waiter = nil
            return w
        }
        waiter?.resume()
    }

    /// Returns after a wake, after `timeout`, or when the task is cancelled.
    public func wait(upTo timeout: Duration) async {
        let generation = state.withLock { s -> UInt64? in
            if s.pending {
                s.pending = false
                return nil
            }
            s.generation &+= 1
            return s.generation
        }
        guard let generation else { return }
        let timer = Task { [weak self] in
            try? await Task.sleep(for: timeout)
            self?.resume(generation: generation)
        }
        defer { timer.cancel() }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { s -> Bool in
                    // A wake or the timer came before the continuation was stored.
                    if s.pending || s.generation != generation {
                        s.pending = false
                        return true
                    }
                    s.waiter = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            self.resume(generation: generation)
        }
    }

    private func resume(generation: UInt64) {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            guard s.generation == generation else { return nil }
            s.generation &+= 1
            let w = s.waiter
            s.waiter = nil
            return w
        }
        waiter?.resume()
    }
}
