import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A regular file mapped read-only into memory (checked with `InputFile` first), unmapped when the
/// last reference goes: what `SafeTensorsFile` and `GGUFFile` read their headers and tensors from.
final class MappedFile: @unchecked Sendable {
    let path: String
    let base: UnsafeRawPointer
    let size: Int

    /// Maps `url`; a file shorter than `minimumSize` is refused with `tooShort(size)`.
    init(_ url: URL, minimumSize: Int, tooShort: (Int) -> PumaIOError) throws {
        path = url.path
        try InputFile.check(url)
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw PumaIOError.unreadableFile(path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw PumaIOError.unreadableFile(path, reason: String(cString: strerror(errno))) }
        let size = Int(st.st_size)
        guard size >= max(minimumSize, 1) else { throw tooShort(size) }
        guard let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), mapped != MAP_FAILED else {
            throw PumaIOError.unreadableFile(path, reason: "mmap failed: \(String(cString: strerror(errno)))")
        }
        base = UnsafeRawPointer(mapped)
        self.size = size
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: base), size) }

    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: size) }
}
