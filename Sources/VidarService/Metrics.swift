// GET /metrics: Prometheus's text exposition format 0.0.4, names per its conventions (`vidar_` prefix, base units,
// `_total` counters, `_seconds` histograms, labels of low cardinality: stream and sink names, event types).
import Foundation
import Vidar

struct MetricsText {
    private var out = ""

    /// Label values escaped as the format asks (backslash, quote, newline).
    static func escape(_ v: String) -> String {
        v.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }

    mutating func family(_ name: String, _ type: String, _ help: String) {
        out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
    }

    mutating func sample(_ name: String, _ labels: [(String, String)] = [], _ value: Double) {
        let l = labels.isEmpty ? "" : "{" + labels.map { "\($0.0)=\"\(Self.escape($0.1))\"" }.joined(separator: ",") + "}"
        out += "\(name)\(l) \(Self.format(value))\n"
    }

    mutating func histogram(_ name: String, _ h: SchedulerMetrics.Histogram) {
        for (bound, count) in zip(h.buckets, h.counts) { sample(name + "_bucket", [("le", Self.format(bound))], Double(count)) }
        sample(name + "_bucket", [("le", "+Inf")], Double(h.count))
        sample(name + "_sum", [], h.sum)
        sample(name + "_count", [], Double(h.count))
    }

    static func format(_ v: Double) -> String {
        if v.isInfinite { return v > 0 ? "+Inf" : "-Inf" }
        if v == v.rounded() && abs(v) < 1e15 { return String(Int64(v)) }
        return String(v)
    }

    var text: String { out }
}

extension Service {
    /// Every metric, rendered now.
    public var metricsText: String {
        var m = MetricsText()
        let statuses = self.statuses
        m.family("vidar_build_info", "gauge", "vidar's version and the model it serves")
        m.sample("vidar_build_info", [("version", Installation.version), ("model", model.network.config.name), ("model_sha256", modelSHA)], 1)
        m.family("vidar_uptime_seconds", "gauge", "seconds since the service started")
        m.sample("vidar_uptime_seconds", [], Date().timeIntervalSince(startedAt))
        let perStream: [(String, String, String, (StreamStatus) -> Double?)] = [
            ("vidar_frames_decoded_total", "counter", "frames decoded", { Double($0.framesDecoded) }),
            ("vidar_clips_inferred_total", "counter", "clips run through the network", { Double($0.clips) }),
            ("vidar_clips_dropped_total", "counter", "clips dropped because inference fell behind", { Double($0.droppedClips) }),
            ("vidar_stream_reconnects_total", "counter", "failed connection attempts", { Double($0.reconnects) }),
            ("vidar_stream_up", "gauge", "1 while the stream delivers frames", { $0.state == .live ? 1 : 0 }),
            ("vidar_stream_last_frame_timestamp_seconds", "gauge", "Unix time of the last decoded frame", { $0.lastFrameTimestamp }),
            ("vidar_segments_open", "gauge", "segments started and not yet ended", { $0.currentSegment == nil ? 0 : 1 }),
        ]
        for (name, type, help, value) in perStream {
            m.family(name, type, help)
            for s in statuses { if let v = value(s) { m.sample(name, [("stream", s.name)], v) } }
        }
        let scheduler = self.scheduler.metrics.snapshot
        m.family("vidar_inference_seconds", "histogram", "seconds per network call")
        m.histogram("vidar_inference_seconds", scheduler.inferenceSeconds)
        m.family("vidar_batch_size", "histogram", "clips per network call")
        m.histogram("vidar_batch_size", scheduler.batchSize)
        m.family("vidar_inference_busy_seconds_total", "counter", "seconds each inference worker spent in network calls")
        for (w, seconds) in scheduler.busySeconds.enumerated() { m.sample("vidar_inference_busy_seconds_total", [("worker", String(w))], seconds) }
        m.family("vidar_inference_failures_total", "counter", "network calls that failed (their clips were lost)")
        m.sample("vidar_inference_failures_total", [], Double(scheduler.failures))
        m.family("vidar_events_total", "counter", "events produced, by type")
        for (type, count) in hub.totals.sorted(by: { $0.key < $1.key }) { m.sample("vidar_events_total", [("type", type)], Double(count)) }
        m.family("vidar_events_published_total", "counter", "events a sink delivered")
        for (name, s) in hub.sinkStatistics { m.sample("vidar_events_published_total", [("sink", name)], Double(s.published)) }
        m.family("vidar_event_publish_failures_total", "counter", "events a sink failed to deliver")
        for (name, s) in hub.sinkStatistics { m.sample("vidar_event_publish_failures_total", [("sink", name)], Double(s.failures)) }
        m.family("vidar_spool_bytes", "gauge", "bytes of events held for the sinks (the spool, or the memory log without one)")
        m.sample("vidar_spool_bytes", [], Double(hub.spoolBytes))
        m.family("vidar_events_dropped_total", "counter", "undelivered events dropped because the spool reached its bound")
        m.sample("vidar_events_dropped_total", [], Double(hub.sinkStatistics.reduce(0) { $0 + $1.stats.dropped }))
        return m.text
    }
}
