// libsystemd's sd_notify (Debian's libsystemd-dev): tells systemd when `vidar serve` is ready and stopping
// (Type=notify). Without $NOTIFY_SOCKET it does nothing.
#include <systemd/sd-daemon.h>
