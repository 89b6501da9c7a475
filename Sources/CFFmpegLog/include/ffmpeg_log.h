// FFmpeg's own explanation of a failure often reaches only its log ("Failed to resolve hostname x"): this small C
// shim installs a log callback that keeps each thread's first and last error-level messages, so a source's opener
// can quote them: the first is usually the cause ("contradictionary STSC and STCO"), the last its consequence
// ("error reading header"). Messages at or below the chosen level still reach stderr as FFmpeg prints them (VIDAR_FFMPEG_LOG).
#pragma once

/// Installs the callback; `level` is FFmpeg's AV_LOG_* value above which nothing is printed.
void vidar_install_log(int level);
/// Forgets the calling thread's messages.
void vidar_clear_last_log(void);
/// The calling thread's last error-level message ("" if none since the last clear).
const char *vidar_get_last_log(void);
/// The calling thread's first error-level message since the last clear ("" if none).
const char *vidar_get_first_log(void);
