/* Listening sockets for the event loops. */
#ifndef SLUICE_LISTEN_H
#define SLUICE_LISTEN_H

#include <stddef.h>

/* Most listening sockets one loop serves (sockets passed by a service manager). */
#define SL_LISTENERS_MAX 16

/* Creates `count` listening sockets on addr:port with SO_REUSEPORT (all on the same port:
 * when port is 0 the first one picks it). On failure writes one line to err and returns
 * -1. *family tells AF_INET or AF_INET6, *bound_port the port. */
int sl_listen(const char *addr, int port, unsigned count, int *fds, int *family, int *bound_port,
              char *err, size_t errlen);

/* Socket activation: the listening sockets a service manager passed to this process
 * (LISTEN_PID is ours, LISTEN_FDS of them from descriptor 3), made non-blocking and
 * close-on-exec, with the options accepted sockets inherit. Sets *count to 0 when none
 * were passed. LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES are removed from the
 * environment either way. On failure (more than max, or a descriptor that is not a
 * listening TCP socket) writes one line to err and returns -1. */
int sl_listen_inherited(int *fds, unsigned max, unsigned *count, char *err, size_t errlen);

/* Gives each of `loops` loops its own descriptor for each of the `count` sockets: loop 0
 * the sockets themselves, the others dups, in out[loop * count + i]. Returns 0, or -1
 * with one line in err. */
int sl_listen_share(const int *fds, unsigned count, unsigned loops, int *out, char *err,
                    size_t errlen);

/* --rate: paces every connection accepted on listening socket fd to `rate` body bytes
 * per second (0: unpaced, nothing done). Returns 0, or -1 with one line in err. */
int sl_listen_pace(int fd, unsigned rate, char *err, size_t errlen);

#endif
