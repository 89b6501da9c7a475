// Hostile files through the built binary: one line on stderr naming the file and the field, exit 65, quickly.
import Foundation
import Testing
import TestSupport
import Vidar

@Suite(.serialized) struct HostileInputCLITests {
    /// tiny.safetensors' tensors with `metadata` added.
    static func model(_ metadata: [String: String], in dir: URL, name: String) throws -> String {
        let file = dir.appendingPathComponent(name)
        try Safetensors.encode(try Checkpoint.read(path: try CLI.fixture("tiny.safetensors")), setting: metadata).write(to: file)
        return file.path
    }

    static let sampling = #"{"transform":{"resize":[128,171],"crop":[112,112],"mean":[0.4,0.4,0.4],"std":[0.2,0.2,0.2]},"sampling":{"fps":15,"clipLength":%@,"stride":8}}"#

    @Test(arguments: [
        (Preprocessing.metadataKey, sampling.replacingOccurrences(of: "%@", with: "0"), "clip length 0"),
        (Preprocessing.metadataKey, sampling.replacingOccurrences(of: "%@", with: "100000"), "clip length 100000"),
        (Preprocessing.metadataKey, #"{"transform":{"resize":[128,171000000],"crop":[112,112],"mean":[0,0,0],"std":[1,1,1]},"sampling":{"fps":15,"clipLength":16,"stride":16}}"#, "between 1 and 4096"),
        (Preprocessing.metadataKey, #"{"transform":{"resize":[128,171],"crop":[112,112],"mean":[0,0,0],"std":[1,0,1]},"sampling":{"fps":15,"clipLength":16,"stride":16}}"#, "std"),
        (Labels.metadataKey, #"["a\nb", "c", "d", "e", "f"]"#, "control characters"),
    ])
    func modelMetadataThatLabelCouldNotRunIsRefusedByInspectAndLabel(key: String, json: String, reason: String) throws {
        let dir = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = try Self.model([key: json], in: dir, name: "hostile.safetensors")
        expectFailure(try CLI.run(["models", "inspect", path]), .dataError, mentioning: "hostile.safetensors", reason)
        let r = try CLI.run(["label", "--model", path, "--quiet", try CLI.fixture("videos/h264.mp4")])
        #expect(r.status == ExitCode.dataError.rawValue, "\(r.stderr)")
        #expect(r.stderr.contains(reason), "\(r.stderr)")
    }

    @Test func anNPYWhoseShapeOverflowsIsOneLine() throws {
        let dir = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4, 1, 1, 1), }\n"
        let npy = dir.appendingPathComponent("bomb.npy")
        try Data([0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count), 0] + Array(header.utf8) + [0, 0, 0, 0]).write(to: npy)
        let r = try CLI.run(["infer", "--model", try CLI.fixture("tiny.pth"), "--input", npy.path, "-o", dir.appendingPathComponent("o.npy").path])
        expectFailure(r, .dataError, mentioning: "bomb.npy", "more than")
    }

    @Test func aPickleNestedAMillionDeepIsOneLine() throws {
        let dir = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("deep.pth")
        let pickle: [UInt8] = [0x80, 2, 0x29] + [UInt8](repeating: 0x85, count: 1_000_000) + [0x2e]
        try HostileTorchFile.checkpoint(pickle: pickle).write(to: path)
        let started = Date()
        expectFailure(try CLI.run(["models", "inspect", path.path]), .dataError, mentioning: "deep.pth", "deeper than 32")
        #expect(Date().timeIntervalSince(started) < 10)
    }
}

@Suite(.serialized) struct PixelBombTests {
    /// A real 10-frame 64×64 baseline H.264 stream (ffmpeg/libx264) whose SPS is rewritten to claim W×H
    /// (pic_width_in_mbs / pic_height_in_map_units), everything else left as encoded.
    static let spsRewriter = #"""
import subprocess, sys
out = sys.argv[1]; W, H = int(sys.argv[2]), int(sys.argv[3])
subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=64x64:rate=25", "-frames:v", "10", "-c:v", "libx264",
                "-profile:v", "baseline", "-pix_fmt", "yuv420p", "-f", "h264", out + ".src"], check=True)
data = open(out + ".src", "rb").read()

class Bits:
    def __init__(self, b): self.b, self.i = b, 0
    def u(self, n):
        v = 0
        for _ in range(n):
            v = v << 1 | (self.b[self.i >> 3] >> (7 - (self.i & 7))) & 1; self.i += 1
        return v
    def ue(self):
        z = 0
        while self.u(1) == 0: z += 1
        return (1 << z) - 1 + self.u(z)

class Out:
    def __init__(self): self.bits = []
    def u(self, n, v): self.bits += [(v >> (n - 1 - k)) & 1 for k in range(n)]
    def ue(self, v):
        v += 1; n = v.bit_length(); self.u(n - 1, 0); self.u(n, v)
    def bytes(self):
        bits = self.bits + [0] * (-len(self.bits) % 8)
        return bytes(int("".join(map(str, bits[k:k + 8])), 2) for k in range(0, len(bits), 8))

def unescape(b): return b.replace(b"\x00\x00\x03", b"\x00\x00")
def escape(b):
    out, zeros = bytearray(), 0
    for x in b:
        if zeros >= 2 and x <= 3: out.append(3); zeros = 0
        out.append(x); zeros = zeros + 1 if x == 0 else 0
    return bytes(out)

def rewrite(nal):
    r, w = Bits(unescape(nal[1:])), Out()
    profile = r.u(8); w.u(8, profile); w.u(8, r.u(8)); w.u(8, r.u(8)); w.ue(r.ue())
    assert profile == 66, "baseline expected"
    w.ue(r.ue())                        # log2_max_frame_num_minus4
    poc = r.ue(); w.ue(poc)
    if poc == 0: w.ue(r.ue())
    assert poc != 1
    w.ue(r.ue()); w.u(1, r.u(1))        # max_num_ref_frames, gaps
    r.ue(); r.ue(); w.ue(W // 16 - 1); w.ue(H // 16 - 1)
    total = len(unescape(nal[1:])) * 8
    while r.i < total: w.u(1, r.u(1))  # the rest as it was (frame_mbs_only, cropping, VUI, trailing bits)
    return nal[:1] + escape(w.bytes().rstrip(b"\x00"))

parts = data.split(b"\x00\x00\x00\x01")
out_parts = [p if not p or p[0] & 0x1f != 7 else rewrite(p) for p in parts]
open(out, "wb").write(b"\x00\x00\x00\x01".join(out_parts))
"""#

    static func h264(claiming width: Int, _ height: Int, in dir: URL) throws -> String {
        let out = dir.appendingPathComponent("bomb.h264").path
        let r = try runProcess("/usr/bin/python3", ["-c", spsRewriter, out, "\(width)", "\(height)"])
        #expect(r.status == 0, "\(r.stderr)")
        return out
    }

    @Test func anH264StreamClaiming16000x16000IsRefusedQuicklyInBoundedMemory() throws {
        let dir = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let bomb = try Self.h264(claiming: 16000, 16000, in: dir)
        // Before the bound: 15 s and 3.6 GB of resident memory to say "no decodable video frame".
        for args in [["probe", "--count", bomb], ["label", bomb]] {
            let started = Date()
            let r = try runMeasured(CLI.binary, args)
            #expect(r.status == ExitCode.dataError.rawValue, "\(r.stderr)")
            #expect(r.stderrLines.contains { $0.hasSuffix("bomb.h264: frame size 16000×16000 exceeds the limit of 67108864 pixels (--max-resolution)") }, "\(r.stderr)")
            #expect(Date().timeIntervalSince(started) < 5)
            #expect(r.peakRSSMB < 400, "peak RSS \(r.peakRSSMB) MB")
        }
    }

    @Test func rawVideoClaimingAHugeFrameIsRefused() throws {
        let dir = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let raw = dir.appendingPathComponent("frames.rgb")
        try Data(count: 1 << 20).write(to: raw)
        let r = try runMeasured(CLI.binary, ["probe", "--count", "--input-format", "rawvideo", "--input-option", "video_size=16000x16000",
                             "--input-option", "pixel_format=rgb24", raw.path])
        expectFailure(r, .dataError, mentioning: "frames.rgb", "exceeds the limit")
        #expect(r.peakRSSMB < 400, "peak RSS \(r.peakRSSMB) MB")
    }

    @Test func theLimitIsAnOption() throws {
        let dir = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let video = try CLI.fixture("videos/h264.mp4")   // 320×240
        expectFailure(try CLI.run(["probe", "--max-resolution", "160x120", video]), .dataError, mentioning: "h264.mp4", "320×240 exceeds")
        #expect(try CLI.run(["probe", "--max-resolution", "320x240", video]).status == 0)
        expectFailure(try CLI.run(["probe", "--max-resolution", "big", video]), .usage, mentioning: "--max-resolution", "WIDTHxHEIGHT")
    }
}
@Suite struct FuzzRegressionTests {
    /// The fuzz harnesses' seed corpus and every input that ever crashed one (Fuzz/regressions), replayed.
    @Test func everySeedAndPastCrashReplaysWithoutACrash() throws {
        let binary = URL(fileURLWithPath: CLI.binary).deletingLastPathComponent().appendingPathComponent("vidar-fuzz").path
        let fuzz = TestFixtures.repositoryRoot.appendingPathComponent("Fuzz")
        let r = try runProcess(binary, ["replay", fuzz.appendingPathComponent("corpus").path, fuzz.appendingPathComponent("regressions").path],
                               timeout: 120)
        #expect(r.status == 0, "\(r.stderr)")
        let count = r.stdout.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        #expect(count >= 25, "\(r.stdout)")
    }
}


@Suite(.serialized) struct DownloadLimitTests {
    static func cacheFiles(_ cache: URL) -> [String] { (try? FileManager.default.contentsOfDirectory(atPath: cache.path)) ?? [] }

    @Test func anEndlessBodyStopsAtTheLimitAndLeavesNothing() throws {
        let cache = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: cache) }
        let server = try DownloadServer(directory: cache)
        defer { server.stop() }
        let started = Date()
        let r = try runMeasured(CLI.binary, ["models", "fetch", "--cache-dir", cache.path, "--max-size", "8M",
                                             server.url("endless", "model-0123abcd.pth")])
        expectFailure(r, .dataError, mentioning: "model-0123abcd.pth", "larger than its limit of 8388608 bytes")
        #expect(Date().timeIntervalSince(started) < 20)
        #expect(r.peakRSSMB < 300, "streamed, not buffered: \(r.peakRSSMB) MB")
        #expect(Self.cacheFiles(cache).isEmpty, "no partial file: \(Self.cacheFiles(cache))")
    }

    @Test func anAnnouncedSizeOverTheLimitIsRefusedBeforeDownloading() throws {
        let cache = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: cache) }
        let server = try DownloadServer(directory: cache)
        defer { server.stop() }
        let r = try CLI.run(["models", "fetch", "--cache-dir", cache.path, server.url("huge", "model-0123abcd.pth")])
        expectFailure(r, .dataError, mentioning: "model-0123abcd.pth", "larger than its limit of 2147483648 bytes")
        #expect(Self.cacheFiles(cache).isEmpty)
    }

    @Test(arguments: [SIGINT, SIGTERM])
    func aStoppingSignalRemovesThePartialFile(signal: Int32) throws {
        let cache = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: cache) }
        let server = try DownloadServer(directory: cache)
        defer { server.stop() }
        let child = try ChildProcess(CLI.binary, ["models", "fetch", "--cache-dir", cache.path, server.url("slow", "model-0123abcd.pth")])
        // Under way: the partial file exists and grows.
        #expect(waitUntil(20) { !Self.cacheFiles(cache).isEmpty })
        child.signal(signal)
        #expect(child.wait(timeout: 20) == 128 + signal)
        #expect(Self.cacheFiles(cache).isEmpty, "no partial file: \(Self.cacheFiles(cache))")
    }

    @Test func aRedirectToAnotherHostIsFollowedAndSaid() throws {
        let cache = try TestFixtures.temporaryDirectory()
        let files = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: cache); try? FileManager.default.removeItem(at: files) }
        let body = Data("a checkpoint, for this test's purposes\n".utf8)
        let name = "model-\(SHA256.hex(body).prefix(8)).pth"
        try body.write(to: files.appendingPathComponent(name))
        let server = try DownloadServer(directory: files)
        defer { server.stop() }
        let r = try CLI.run(["models", "fetch", "--cache-dir", cache.path, server.url("redirect", name)])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("\(name): redirected to another host: http://localhost:\(server.port)/file/\(name)"), "\(r.stderr)")
        #expect(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == cache.appendingPathComponent(name).path)
    }

    @Test func aBadSizeIsAUsageError() throws {
        expectFailure(try CLI.run(["models", "fetch", "--max-size", "lots", "r3d_18"]), .usage, mentioning: "--max-size", "number of bytes")
    }
}

@Suite(.serialized) struct OutputErrorTests {
    /// `vidar label` writing into a small tmpfs mounted in a private mount namespace (unshare -rm: no privileges
    /// needed, nothing visible outside), prepared by `setup` (a shell command run there first).
    static func labelInto(_ setup: String) throws -> ProcessResult {
        let dir = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let mnt = dir.appendingPathComponent("mnt").path
        try FileManager.default.createDirectory(atPath: mnt, withIntermediateDirectories: true)
        let video = try CLI.fixture("videos/h264.mp4")
        return try runProcess("/usr/bin/unshare", ["-rm", "/bin/sh", "-c",
                              "\(setup) && exec '\(CLI.binary)' label --quiet -o '\(mnt)/out.json' '\(video)'", "sh", mnt])
    }

    @Test func aFullDiskSaysSo() throws {
        let r = try Self.labelInto("mount -t tmpfs -o size=16k tmpfs \"$1\" && (head -c 1048576 /dev/zero > \"$1/fill\" || true)")
        #expect(r.status == ExitCode.ioError.rawValue || r.status == ExitCode.cannotCreate.rawValue, "\(r.stderr)")
        #expect(r.stderr.contains("out.json: cannot") && r.stderr.contains("no space left on the device"), "\(r.stderr)")
    }

    /// Root writes everywhere, so the check runs vidar as `nobody` into a directory only root may write.
    @Test func anUnwritableDirectorySaysPermissionDenied() throws {
        let (dir, video) = try CLI.rootOwnedDirectory(copying: "videos/h264.mp4", as: "in.mp4", mode: 0o644)
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out.json").path
        let r = try CLI.runAsNobody(["label", "--quiet", "-o", out, video])
        #expect(r.status == ExitCode.cannotCreate.rawValue, "\(r.stderr)")
        #expect(r.stderr.contains("out.json: cannot create the output file: permission denied"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    @Test func aReadOnlyFilesystemSaysSo() throws {
        let r = try Self.labelInto("mount -t tmpfs -o ro tmpfs \"$1\"")
        #expect(r.status == ExitCode.cannotCreate.rawValue, "\(r.stderr)")
        #expect(r.stderr.contains("out.json: cannot create the output file: the filesystem is read-only"), "\(r.stderr)")
    }
}

/// A quota cannot be set up here (tmpfs quotas are not built into this kernel, and root ignores ext4's), so the
/// kernel's answer is given at the system-call boundary instead: an LD_PRELOAD shim whose write(2) fails with
/// EDQUOT for files under one directory, exactly as a full quota makes it fail. Nothing in vidar knows about it.
@Suite(.serialized) struct QuotaErrorTests {
    static let shim = #"""
        #define _GNU_SOURCE
        #include <dlfcn.h>
        #include <errno.h>
        #include <limits.h>
        #include <stdio.h>
        #include <stdlib.h>
        #include <string.h>
        #include <unistd.h>
        ssize_t write(int fd, const void *buf, size_t n) {
            static ssize_t (*real)(int, const void *, size_t);
            if (!real) real = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
            const char *dir = getenv("QUOTA_DIR");
            char link[64], path[PATH_MAX];
            snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
            ssize_t len = readlink(link, path, sizeof path - 1);
            if (dir && len > 0) {
                path[len] = 0;
                if (strncmp(path, dir, strlen(dir)) == 0) { errno = EDQUOT; return -1; }
            }
            return real(fd, buf, n);
        }
        """#

    @Test func aQuotaExceededSaysSo() throws {
        let dir = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = dir.appendingPathComponent("quota.c"), library = dir.appendingPathComponent("quota.so")
        try Self.shim.write(to: source, atomically: true, encoding: .utf8)
        // The toolchain's own clang (next to swift): always there where vidar builds.
        let clang = ["/opt/swift/usr/bin/clang", "/usr/bin/clang", "/usr/bin/cc"].first { FileManager.default.isExecutableFile(atPath: $0) }
        let cc = try #require(clang, "no C compiler: install the Swift toolchain (scripts/install-deps.sh)")
        let built = try runProcess(cc, ["-shared", "-fPIC", "-O1", "-o", library.path, source.path, "-ldl"])
        try #require(built.status == 0, "\(built.stderr)")
        let limited = dir.appendingPathComponent("limited")
        try FileManager.default.createDirectory(at: limited, withIntermediateDirectories: true)
        let r = try runProcess(CLI.binary, ["label", "--quiet", "-o", limited.appendingPathComponent("out.json").path,
                                            try CLI.fixture("videos/h264.mp4")],
                               environment: ProcessInfo.processInfo.environment.merging(
                                   ["LD_PRELOAD": library.path, "QUOTA_DIR": limited.path]) { $1 })
        #expect(r.status == ExitCode.ioError.rawValue || r.status == ExitCode.cannotCreate.rawValue, "\(r.stderr)")
        #expect(r.stderr.contains("out.json: cannot") && r.stderr.contains("disk quota exceeded"), "\(r.stderr)")
        #expect(r.stderrLines.filter { $0.contains("out.json") }.count == 1, "\(r.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: limited.path).isEmpty, "no partial file is left")
    }
}
