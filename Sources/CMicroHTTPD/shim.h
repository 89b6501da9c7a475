// GNU libmicrohttpd 0.9 (Debian's libmicrohttpd-dev) for serve's HTTP API, plus a fixed-argument start function:
// MHD_start_daemon takes its options as C varargs, which Swift cannot call.
#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <microhttpd.h>

/// One thread per connection (a Server-Sent Events reader may block), bounded in number, memory and idle time.
static inline struct MHD_Daemon *vidar_mhd_start(const struct sockaddr *address, int ipv6, unsigned int max_connections,
                                                 size_t memory_limit, unsigned int idle_timeout,
                                                 MHD_AccessHandlerCallback handler, void *cls,
                                                 MHD_RequestCompletedCallback completed) {
    unsigned int flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | (ipv6 ? MHD_USE_IPv6 : 0);
    return MHD_start_daemon(flags, 0, NULL, NULL, handler, cls,
                            MHD_OPTION_SOCK_ADDR, address,
                            MHD_OPTION_CONNECTION_LIMIT, max_connections,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, memory_limit,
                            MHD_OPTION_CONNECTION_TIMEOUT, idle_timeout,
                            MHD_OPTION_NOTIFY_COMPLETED, completed, cls,
                            MHD_OPTION_END);
}

/// The port the daemon listens on (the kernel's choice when 0 was asked for).
static inline unsigned short vidar_mhd_port(struct MHD_Daemon *daemon) {
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
    return info ? info->port : 0;
}

static const ssize_t VIDAR_MHD_END_OF_STREAM = MHD_CONTENT_READER_END_OF_STREAM;
static const uint64_t VIDAR_MHD_SIZE_UNKNOWN = MHD_SIZE_UNKNOWN;

// libmicrohttpd declares these enums closed, which Swift imports with shortened case names: named constants
// keep the Swift side readable as libmicrohttpd's documentation.
static const enum MHD_Result VIDAR_MHD_YES = MHD_YES;
static const enum MHD_Result VIDAR_MHD_NO = MHD_NO;
static const enum MHD_ValueKind VIDAR_MHD_HEADER_KIND = MHD_HEADER_KIND;
static const enum MHD_ValueKind VIDAR_MHD_GET_ARGUMENT_KIND = MHD_GET_ARGUMENT_KIND;
static const enum MHD_ResponseMemoryMode VIDAR_MHD_RESPMEM_MUST_COPY = MHD_RESPMEM_MUST_COPY;
