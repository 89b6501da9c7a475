// FFmpeg's own explanation of a failure often reaches only its log ("Failed to resolve hostname x"): this small C
// shim installs a log callback that keeps each thread's last error-level message, so a source's opener can quote
// it. Messages at or below the chosen level still reach stderr as FFmpeg prints them (VIDAR_FFMPEG_LOG).
#pragma once

/// Installs the callback; `level` is FFmpeg's AV_LOG_* value above which nothing is printed.
void vidar_install_log(int level);
/// Forgets the calling thread's last message.
void vidar_clear_last_log(void);
/// The calling thread's last error-level message ("" if none since the last clear).
const char *vidar_get_last_log(void);
