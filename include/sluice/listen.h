/* Listening sockets for the event loops. */
#ifndef SLUICE_LISTEN_H
#define SLUICE_LISTEN_H

#include <stddef.h>

/* Creates `count` listening sockets on addr:port with SO_REUSEPORT (all on the same port:
 * when port is 0 the first one picks it). On failure writes one line to err and returns
 * -1. *family tells AF_INET or AF_INET6, *bound_port the port. */
int sl_listen(const char *addr, int port, unsigned count, int *fds, int *family, int *bound_port,
              char *err, size_t errlen);

/* --rate: paces every connection accepted on listening socket fd to `rate` body bytes
 * per second (0: unpaced, nothing done). Returns 0, or -1 with one line in err. */
int sl_listen_pace(int fd, unsigned rate, char *err, size_t errlen);

#endif
