/* Server: one event loop per thread over its listening sockets, signals and graceful
 * shutdown. What main.c needs; the workers themselves are private to server.c. */
#ifndef SLUICE_SERVER_H
#define SLUICE_SERVER_H

#include <stddef.h>

#include "sluice/config.h"

/* Called once, when every loop is set up (its descriptors open), SIGINT/SIGTERM are
 * handled and the loop threads have started: the moment to tell the user the server is
 * up. Not called when any of that failed. */
typedef void sl_ready_fn(void *arg);

/* Runs `count` workers until SIGINT/SIGTERM, then drains and returns 0. Worker i serves
 * the `listeners` (1..SL_LISTENERS_MAX) listening descriptors fds[i * listeners ...], each
 * its own. When the server cannot start, returns -1 with one line in err (the process
 * should then exit: what was set up is not unwound). */
int sl_server_run(const struct sl_config *cfg, const int *fds, unsigned count, unsigned listeners,
                  sl_ready_fn *ready, void *ready_arg, char *err, size_t errlen);

#endif
