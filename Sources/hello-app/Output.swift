#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Unbuffered whole-line output (no lost lines on `exit`, no interleaving between threads).
enum Output {
    static func line(_ text: String) {
        write(fd: 1, text + "\n")
    }

    static func error(_ text: String) {
        write(fd: 2, text + "\n")
    }

    /// Prints to stderr and exits with status 2 (bad flags or environment).
    static func usageError(_ text: String) -> Never {
        error("hello-app: \(text)")
        exit(2)
    }

    private static func write(fd: Int32, _ text: String) {
        var text = text
        text.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                #if canImport(Darwin)
                let n = Darwin.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                #elseif canImport(Musl)
                let n = Musl.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                #else
                let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                #endif
                if n <= 0 { return }
                offset += n
            }
        }
    }
}
