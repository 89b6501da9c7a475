// The timeline document `vidar label` writes: versioned, self-describing, enough to reproduce the run.
// JSON Schema: docs/timeline.schema.json. Field names are snake_case in JSON.

public struct Timeline: Codable, Sendable {
    public static let schemaVersion = "vidar.timeline/1"

    public struct Source: Codable, Sendable {
        public var path: String
        public var container: String
        public var codec: String
        public var duration: Double?
        public var frameRate: Double?
        public var width: Int
        public var height: Int
        public var rotation: Int
        public init(path: String, container: String, codec: String, duration: Double?, frameRate: Double?, width: Int, height: Int, rotation: Int) {
            (self.path, self.container, self.codec, self.duration, self.frameRate) = (path, container, codec, duration, frameRate)
            (self.width, self.height, self.rotation) = (width, height, rotation)
        }
    }

    public struct Model: Codable, Sendable {
        public var name: String
        public var path: String
        public var sha256Prefix: String
        public var classes: Int
        public var clipLength: Int
        public var samplingFps: Double?
        public var stride: Int
        public var resize: [Int]
        public var crop: [Int]
        public var mean: [Float]
        public var std: [Float]
        /// What the model knows and does not (the bundled model: synthetic stick figures only).
        public var notice: String?
        public init(name: String, path: String, sha256Prefix: String, classes: Int, clipLength: Int, samplingFps: Double?, stride: Int,
                    resize: [Int], crop: [Int], mean: [Float], std: [Float], notice: String? = nil) {
            (self.name, self.path, self.sha256Prefix, self.classes) = (name, path, sha256Prefix, classes)
            (self.clipLength, self.samplingFps, self.stride) = (clipLength, samplingFps, stride)
            (self.resize, self.crop, self.mean, self.std, self.notice) = (resize, crop, mean, std, notice)
        }
    }

    /// Who made the document, from what: enough for `--resume` to tell whether it still stands.
    public struct Provenance: Codable, Sendable, Equatable {
        public var vidarVersion: String
        /// The input file as it was read (nil for URLs and pipes).
        public var input: InputIdentity?
        /// SHA-256 of the model file.
        public var modelSha256: String?
        /// SHA-256 of every setting that changes the result (model, sampling, preprocessing, aggregator, backend,
        /// top-k, clips, range), in a canonical form.
        public var settingsSha256: String?
        /// The number format the network ran in (fp32, bf16); absent in timelines from before there was a choice.
        public var precision: String?
        public init(vidarVersion: String, input: InputIdentity? = nil, modelSha256: String? = nil, settingsSha256: String? = nil,
                    precision: String? = nil) {
            (self.vidarVersion, self.input, self.modelSha256, self.settingsSha256) = (vidarVersion, input, modelSha256, settingsSha256)
            self.precision = precision
        }
    }

    /// What identifies an input file's content without reading all of it.
    public struct InputIdentity: Codable, Sendable, Equatable {
        public var size: Int
        /// Modification time, seconds since 1970 (sub-second precision where the filesystem has it).
        public var mtime: Double
        /// SHA-256 of the size and three 64 KiB samples (start, middle, end): the whole file when it is smaller.
        public var fastHash: String
        /// SHA-256 of the whole file (`--full-hash`).
        public var sha256: String?
        public init(size: Int, mtime: Double, fastHash: String, sha256: String? = nil) {
            (self.size, self.mtime, self.fastHash, self.sha256) = (size, mtime, fastHash, sha256)
        }
    }

    /// A time range of a video labelled alone (`--start`/`--end`): everything `vidar merge` needs to rebuild the
    /// whole video's timeline exactly.
    public struct Part: Codable, Sendable, Equatable {
        /// The range asked for, in seconds: the clips that start in [start, end) (end nil: to the video's end).
        public var start: Double
        public var end: Double?
        /// The model's class names in order (empty: "class N").
        public var labels: [String]
        /// Every clip's full softmax probabilities (the aggregator is re-run over the joins from them).
        public var clipScores: [ClipScore]
        /// Where the video ends, when this part reached it.
        public var videoEnd: Double?
        public init(start: Double, end: Double?, labels: [String], clipScores: [ClipScore], videoEnd: Double?) {
            (self.start, self.end, self.labels, self.clipScores, self.videoEnd) = (start, end, labels, clipScores, videoEnd)
        }
    }

    public struct ClipScore: Codable, Sendable, Equatable {
        public var start: Double
        public var end: Double
        public var probabilities: [Float]
        public init(start: Double, end: Double, probabilities: [Float]) { (self.start, self.end, self.probabilities) = (start, end, probabilities) }
    }

    /// Something the run could not see or had to make up, said in the document itself.
    public struct Warning: Codable, Sendable, Equatable {
        public enum Code: String, Codable, Sendable {
            /// Decoding stopped well before the container's stated duration (truncated or damaged file).
            case endedEarly = "ended_early"
            /// Consecutive frames' timestamps jumped by more than a minute: decoding ended at the jump.
            case timestampJump = "timestamp_jump"
            /// More than a small share of frames could not be decoded and were skipped.
            case corruptFrames = "corrupt_frames"
            /// The last stretch was labelled from a clip padded by repeating its last frame.
            case paddedTail = "padded_tail"
            /// The whole video was shorter than one clip: its only clip was padded.
            case shorterThanOneClip = "shorter_than_one_clip"
        }
        public var code: Code
        public var message: String
        public init(_ code: Code, _ message: String) { (self.code, self.message) = (code, message) }
    }

    public struct ClipPrediction: Codable, Sendable {
        public struct Score: Codable, Sendable {
            public var label: String
            public var probability: Double
            public init(label: String, probability: Double) { (self.label, self.probability) = (label, probability) }
        }
        public var start: Double
        public var end: Double
        /// Per-clip softmax probabilities (not smoothed), best first.
        public var top: [Score]
        public init(start: Double, end: Double, top: [Score]) { (self.start, self.end, self.top) = (start, end, top) }
    }

    public struct Stats: Codable, Sendable {
        public var framesDecoded: Int
        public var corruptFramesSkipped: Int
        public var clips: Int
        /// True when the video was shorter than one clip and its last frame was repeated.
        public var paddedClip: Bool
        public var wallSeconds: Double
        /// Seconds of video per wall-clock second.
        public var realtimeFactor: Double
        public init(framesDecoded: Int, corruptFramesSkipped: Int, clips: Int, paddedClip: Bool, wallSeconds: Double, realtimeFactor: Double) {
            (self.framesDecoded, self.corruptFramesSkipped, self.clips, self.paddedClip) = (framesDecoded, corruptFramesSkipped, clips, paddedClip)
            (self.wallSeconds, self.realtimeFactor) = (wallSeconds, realtimeFactor)
        }
    }

    public var schema = Timeline.schemaVersion
    /// False when the run was interrupted: the segments cover only the processed part.
    public var complete: Bool
    public var provenance: Provenance
    public var source: Source
    public var model: Model
    public var aggregator: AggregatorOptions
    /// What the numbers mean, so the document reads on its own.
    public var notes: [String: String] = Timeline.fieldNotes
    public var segments: [Segment]
    public var clips: [ClipPrediction]?
    public var stats: Stats
    public var warnings: [Warning]
    /// Present when only a time range was labelled.
    public var part: Part?

    public static let fieldNotes = [
        "segments": "contiguous, non-overlapping, covering the processed time; start/end in seconds from the first frame's PTS",
        "segments.label": "the class with the highest mean smoothed probability over the segment's clips (no_action when none held the enter threshold)",
        "segments.score": "mean smoothed probability of the label over the segment's clips (no_action: mean of 1 - top smoothed probability)",
        "segments.peak": "highest smoothed probability of the label in the segment",
        "segments.alternatives": "other classes by mean smoothed probability over the segment",
        "clips.top": "per-clip softmax probabilities, not smoothed",
    ]

    public init(complete: Bool, provenance: Provenance, source: Source, model: Model, aggregator: AggregatorOptions,
                segments: [Segment], clips: [ClipPrediction]?, stats: Stats, warnings: [Warning], part: Part? = nil) {
        self.complete = complete
        self.part = part
        self.provenance = provenance
        self.warnings = warnings
        self.source = source
        self.model = model
        self.aggregator = aggregator
        self.segments = segments
        self.clips = clips
        self.stats = stats
    }
}
