import Foundation

/// The process's memory as Linux reports it in /proc/self/status.
public enum ProcessMemory {
    /// Peak resident set size (VmHWM) in bytes, or nil where /proc is absent. Resident pages of
    /// memory-mapped checkpoints count here too (they are shared page cache the kernel may reclaim).
    public static func peakResidentBytes() -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        return kilobytes("VmHWM", in: status).map { $0 * 1024 }
    }

    /// The value of a `Name:` line in kB. The separator is spaces, or a tab once the number has
    /// eight digits (`VmHWM:\t10840000 kB`).
    public static func kilobytes(_ field: String, in status: String) -> Int? {
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(field + ":") }) else { return nil }
        return Int(line.dropFirst(field.count + 1).split(whereSeparator: { $0 == " " || $0 == "\t" }).first ?? "")
    }
}
