// See include/ffmpeg_log.h. A real C file, not a header: thread-local storage must have one definition.
#include "ffmpeg_log.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <libavutil/log.h>

static _Thread_local char first_message[512];
static _Thread_local char last_message[512];
static int print_level = AV_LOG_QUIET;

static void callback(void *avcl, int level, const char *fmt, va_list vl) {
    if (level <= AV_LOG_ERROR) {
        va_list copy;
        va_copy(copy, vl);
        vsnprintf(last_message, sizeof last_message, fmt, copy);
        va_end(copy);
        if (first_message[0] == 0) memcpy(first_message, last_message, sizeof first_message);
    }
    if (level <= print_level) av_log_default_callback(avcl, level, fmt, vl);
}

void vidar_install_log(int level) {
    print_level = level;
    av_log_set_level(level > AV_LOG_ERROR ? level : AV_LOG_ERROR);
    av_log_set_callback(callback);
}

void vidar_clear_last_log(void) { first_message[0] = last_message[0] = 0; }

const char *vidar_get_last_log(void) { return last_message; }

const char *vidar_get_first_log(void) { return first_message; }
