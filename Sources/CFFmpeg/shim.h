// FFmpeg 5.1 (Debian's libav*-dev) plus named helpers for what Swift cannot import: function-like macros
// (AVERROR, av_err2str), AV_NOPTS_VALUE, and a deadline-based interrupt callback so that no blocking
// call can hang on a dead source.
#include <libavformat/avformat.h>
#include <libavcodec/avcodec.h>
#include <libavdevice/avdevice.h>
#include <libavutil/avutil.h>
#include <libavutil/display.h>
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
#include <libavutil/time.h>
#include <libswscale/swscale.h>

static const int64_t VIDAR_AV_NOPTS_VALUE = AV_NOPTS_VALUE;
static const int VIDAR_AVERROR_EOF = AVERROR_EOF;
static const int VIDAR_AVERROR_EAGAIN = AVERROR(EAGAIN);
static const int VIDAR_AVERROR_EXIT = AVERROR_EXIT;
static const int VIDAR_AVERROR_INVALIDDATA = AVERROR_INVALIDDATA;
static const int VIDAR_AVERROR_DECODER_NOT_FOUND = AVERROR_DECODER_NOT_FOUND;
static const int VIDAR_AVERROR_STREAM_NOT_FOUND = AVERROR_STREAM_NOT_FOUND;
static inline int vidar_averror(int posix) { return AVERROR(posix); }

static inline void vidar_error_string(int code, char *buffer, size_t size) { av_strerror(code, buffer, size); }

/// A deadline in av_gettime_relative() microseconds; 0 means none. The callback aborts blocking I/O past it.
/// `cancelled` is set from another thread (shutdown) and read by FFmpeg's thread: accessed atomically.
/// `external`, when set, is a caller-owned flag that stops every source sharing it (even while still opening).
/// `frame_deadline`, when set, bounds the time to the next decoded frame: a source that sends data but no
/// picture (garbage, or a stalled camera that keeps its socket alive) ends as `stalled`.
typedef struct { int64_t deadline; int timed_out; int cancelled; int *external; int64_t frame_deadline; int stalled; } vidar_deadline;

static int vidar_interrupt(void *opaque) {
    vidar_deadline *d = (vidar_deadline *)opaque;
    if (__atomic_load_n(&d->cancelled, __ATOMIC_RELAXED)) return 1;
    if (d->external && __atomic_load_n(d->external, __ATOMIC_RELAXED)) return 1;
    int64_t now = av_gettime_relative();
    if (d->deadline > 0 && now > d->deadline) { d->timed_out = 1; return 1; }
    if (d->frame_deadline > 0 && now > d->frame_deadline) { d->stalled = 1; return 1; }
    return 0;
}

static inline void vidar_deadline_cancel(vidar_deadline *d) { __atomic_store_n(&d->cancelled, 1, __ATOMIC_RELAXED); }
static inline int vidar_deadline_is_cancelled(vidar_deadline *d) { return __atomic_load_n(&d->cancelled, __ATOMIC_RELAXED); }
static inline void vidar_flag_set(int *flag) { __atomic_store_n(flag, 1, __ATOMIC_RELAXED); }
static inline int vidar_flag_get(int *flag) { return __atomic_load_n(flag, __ATOMIC_RELAXED); }

static inline void vidar_install_interrupt(AVFormatContext *ctx, vidar_deadline *d) {
    ctx->interrupt_callback.callback = vidar_interrupt;
    ctx->interrupt_callback.opaque = d;
}

/// A stream's display matrix (9 values) into `out`; returns 0 when the stream has none.
static inline int vidar_display_matrix(const AVStream *st, int32_t *out) {
    const int32_t *m = (const int32_t *)av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, NULL);
    if (!m) return 0;
    for (int i = 0; i < 9; i++) out[i] = m[i];
    return 1;
}

static const int VIDAR_AV_DISPOSITION_ATTACHED_PIC = AV_DISPOSITION_ATTACHED_PIC;
static const int VIDAR_AVERROR_HTTP_BAD_REQUEST = AVERROR_HTTP_BAD_REQUEST;
static const int VIDAR_AVERROR_HTTP_UNAUTHORIZED = AVERROR_HTTP_UNAUTHORIZED;
static const int VIDAR_AVERROR_HTTP_FORBIDDEN = AVERROR_HTTP_FORBIDDEN;
static const int VIDAR_AVERROR_HTTP_NOT_FOUND = AVERROR_HTTP_NOT_FOUND;
static const int VIDAR_AVERROR_HTTP_OTHER_4XX = AVERROR_HTTP_OTHER_4XX;
static const int VIDAR_AVERROR_PROTOCOL_NOT_FOUND = AVERROR_PROTOCOL_NOT_FOUND;
static const int VIDAR_AVERROR_DEMUXER_NOT_FOUND = AVERROR_DEMUXER_NOT_FOUND;
static const int VIDAR_AVERROR_OPTION_NOT_FOUND = AVERROR_OPTION_NOT_FOUND;
