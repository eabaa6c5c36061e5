import Foundation
import SlipwayFuzz

/// The target this process fuzzes, from `SLIPWAY_FUZZ_TARGET` (scripts/fuzz.sh sets it).
let selected: FuzzTarget = {
    let name = ProcessInfo.processInfo.environment["SLIPWAY_FUZZ_TARGET"] ?? ""
    guard let target = FuzzTarget(rawValue: name) else {
        FileHandle.standardError.write(Data("slipway-fuzz: SLIPWAY_FUZZ_TARGET must be one of \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")) (got \"\(name)\")\n".utf8))
        exit(2)
    }
    return target
}()

/// libFuzzer's driver, called from `main` (SwiftPM names every executable's entry point
/// itself, so libFuzzer's own `main` cannot be used).
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

@main
enum FuzzMain {
    static func main() {
        _ = selected
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzOne))
    }
}

/// libFuzzer's entry: one input through the selected target. A broken invariant aborts, so
/// libFuzzer saves the input as a crash like any trap the sanitizer or Swift reports.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    if let problem = selected.run(UnsafeRawBufferPointer(start: data, count: size)) {
        FileHandle.standardError.write(Data("slipway-fuzz \(selected.rawValue): invariant broken: \(problem)\n".utf8))
        abort()
    }
    return 0
}
