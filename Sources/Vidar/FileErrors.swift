// What a failed file operation means, in words a user can act on: a full disk, a read-only filesystem, a
// missing permission and a used-up quota each say so, instead of one catch-all.
import Foundation

public enum FileErrors {
    /// errno as a reason: the four a user most often meets get their own wording, the rest strerror's.
    public static func describe(_ code: Int32) -> String {
        switch code {
        case ENOSPC: return "no space left on the device"
        case EROFS: return "the filesystem is read-only"
        case EACCES, EPERM: return "permission denied"
        case EDQUOT: return "disk quota exceeded"
        case ENOENT: return "no such file or directory"
        case ENOTDIR: return "a part of the path is not a directory"
        case EISDIR: return "it is a directory"
        case EMFILE, ENFILE: return "too many open files"
        default: return String(cString: strerror(code))
        }
    }

    /// The errno inside a Foundation error (its underlying POSIX error), if there is one.
    public static func code(of error: any Error) -> Int32? {
        let ns = error as NSError
        if ns.domain == NSPOSIXErrorDomain { return Int32(ns.code) }
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return Int32(underlying.code)
        }
        return nil
    }

    /// A Foundation error's reason in the words above.
    public static func describe(_ error: any Error) -> String {
        code(of: error).map(describe) ?? error.localizedDescription
    }
}
