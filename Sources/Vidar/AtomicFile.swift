// Writes a file so that readers see either nothing or the whole of it: temp file in the same directory, written
// and fsynced, then rename(2); a device or FIFO (/dev/null) is written in place. Failures say what happened (a
// full disk, a read-only filesystem, a permission, a quota: FileErrors), and leave no temporary file behind.
import Foundation

public enum AtomicFile {
    public static func write(_ data: Data, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        // A device, FIFO or socket (-o /dev/null, -o /dev/stdout) is written as it is: renaming a file over it
        // would replace, say, /dev/null itself with a regular file when run as root.
        var st = stat()
        let special = stat(path, &st) == 0 && (st.st_mode & S_IFMT) != S_IFREG && (st.st_mode & S_IFMT) != S_IFDIR
        let temp = special ? url : temporarySibling(of: url)
        let fd = special ? open(path, O_WRONLY | O_CLOEXEC) : open(temp.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw VidarError(.cannotCreate, "\(path): cannot create the output file: \(FileErrors.describe(errno))")
        }
        var failure: Int32 = 0
        data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 { if errno == EINTR { continue }; failure = errno; return }
                offset += n
            }
        }
        // A full disk may only show at fsync or close (NFS, delayed allocation): the file is not whole until both pass.
        if failure == 0 && fsync(fd) != 0 && errno != EINVAL { failure = errno }
        if close(fd) != 0 && failure == 0 { failure = errno }
        guard failure == 0 else {
            if !special { unlink(temp.path) }
            throw VidarError(.ioFailed, "\(path): cannot write the output: \(FileErrors.describe(failure))")
        }
        if !special { try commit(temp, to: url) }
    }

    /// A hidden name beside `url`, unique to this process, for content that is not final yet.
    public static func temporarySibling(of url: URL) -> URL {
        url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).partial-\(getpid())")
    }

    /// Moves a finished temporary file over its final name in one step.
    public static func commit(_ temp: URL, to url: URL) throws {
        guard rename(temp.path, url.path) == 0 else {
            let reason = FileErrors.describe(errno)
            try? FileManager.default.removeItem(at: temp)
            throw VidarError(.cannotCreate, "\(url.path): cannot write output: \(reason)")
        }
    }
}
