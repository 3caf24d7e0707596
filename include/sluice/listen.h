/* Listening sockets for the event loops. */
#ifndef SLUICE_LISTEN_H
#define SLUICE_LISTEN_H

#include <stddef.h>

/* Creates `count` listening sockets on addr:port with SO_REUSEPORT (all on the same port:
 * when port is 0 the first one picks it). On failure writes one line to err and returns
 * -1. *family tells AF_INET or AF_INET6, *bound_port the port. */
int sl_listen(const char *addr, int port, unsigned count, int *fds, int *family, int *bound_port,
              char *err, size_t errlen);

#endif
