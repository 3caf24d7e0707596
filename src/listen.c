/* Listening sockets: resolve the bind address, check the port is free, then one
 * SO_REUSEPORT socket per event loop, with the options every accepted socket inherits;
 * or the sockets a service manager passed (socket activation, sd_listen_fds(3)). */
#include "sluice/listen.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* Accepts "127.0.0.1", "::", "[::1]", "localhost". */
static int resolve_bind(const char *addr, int port, struct sockaddr_storage *ss, socklen_t *len,
                        char *err, size_t errlen)
{
    char host[256];
    size_t n = strlen(addr);
    if (n >= 2 && addr[0] == '[' && addr[n - 1] == ']') {
        addr++;
        n -= 2;
    }
    if (n >= sizeof(host)) {
        snprintf(err, errlen, "bind address '%s' is too long", addr);
        return -1;
    }
    memcpy(host, addr, n);
    host[n] = '\0';
    char service[8];
    snprintf(service, sizeof(service), "%d", port);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, service, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "cannot use bind address '%s': %s", host, gai_strerror(rc));
        return -1;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static int port_in(const struct sockaddr_storage *ss)
{
    return ntohs(ss->ss_family == AF_INET6 ? ((const struct sockaddr_in6 *)ss)->sin6_port
                                           : ((const struct sockaddr_in *)ss)->sin_port);
}

/* A bound socket, or -1 with err set. `join_group` sets SO_REUSEPORT: one listening
 * socket per loop on the same port, so the kernel spreads connections and nothing is
 * shared or locked between threads. */
static int bind_socket(const struct sockaddr_storage *ss, socklen_t len, bool join_group,
                       const char *addr, char *err, size_t errlen)
{
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create a socket: %s", strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (join_group)
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    if (bind(fd, (const struct sockaddr *)ss, len) == 0)
        return fd;
    int e = errno;
    int port = port_in(ss);
    if (e == EADDRINUSE)
        snprintf(err, errlen, "port %d on %s is already in use (try another --port)", port, addr);
    else if (e == EACCES)
        snprintf(err, errlen, "not allowed to bind port %d on %s (ports below 1024 need root)",
                 port, addr);
    else
        snprintf(err, errlen, "cannot bind %s port %d: %s", addr, port, strerror(e));
    close(fd);
    return -1;
}

/* SO_REUSEPORT would also let a second sluice started by the same user (or any program
 * of that user that sets it) join our port silently, and the kernel would then split
 * connections between two servers, perhaps with two different roots. A socket without
 * SO_REUSEPORT cannot join a group, so binding one first tells whether anything listens
 * there already. It is closed before our own group binds; a program that grabs the port
 * in between, with SO_REUSEPORT, is the only case left. */
static int check_port_free(const struct sockaddr_storage *ss, socklen_t len, const char *addr,
                           char *err, size_t errlen)
{
    int fd = bind_socket(ss, len, false, addr, err, errlen);
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

/* Options set on the listening socket are inherited by every accepted one: no
 * setsockopt per connection. */
static void set_connection_options(int fd)
{
    /* Responses are written whole and at once; Nagle would only delay the last segment. */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    /* Keep at most this much unsent data queued in the kernel; writable is signalled
     * when less than half of it is left. Without it a download fills the whole send
     * buffer (up to tcp_wmem's 4 MiB), and the kernel's pacing timer, rather than our
     * sendfile calls, then releases it bit by bit, with many more timer interrupts and
     * less throughput (bench/RESULTS.md, scenario c). In-flight data is not limited by
     * it, and a client that stops reading pins 64 KiB of queued file data instead of
     * megabytes. */
    int lowat = 64 << 10;
    setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof(lowat));
}

/* Ethernet's MSS (1500-byte frames less IPv4 and TCP headers). */
#define PACED_MSS 1460

int sl_listen_pace(int fd, unsigned rate, char *err, size_t errlen)
{
    if (rate == 0)
        return 0;
    /* The kernel paces each socket itself (TCP internal pacing without the fq qdisc,
     * Linux >= 4.13), inherited by accepted sockets: no timer of ours, no wake-up per
     * packet. Measured on loopback, 10 s at 1 MiB/s: 1.002x the rate. */
    if (setsockopt(fd, SOL_SOCKET, SO_MAX_PACING_RATE, &rate, sizeof(rate)) != 0) {
        snprintf(err, errlen, "cannot pace connections (SO_MAX_PACING_RATE): %s", strerror(errno));
        return -1;
    }
    /* The kernel sends a connection's first ten segments unpaced (its initial window).
     * Loopback's 64 KiB segments would make that 640 KiB at full speed, seconds of a
     * slow rate (measured: 1.2x the rate over 10 s at 256 KiB/s); Ethernet-sized
     * segments make it 14 KiB, as on a real network. */
    int mss = PACED_MSS;
    setsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof(mss));
    /* Queue at most half a second of unsent data: the kernel then wakes sluice at least
     * every quarter second to refill, so a paced response shows progress to the send
     * timeout, and a slow rate pins little memory. */
    int lowat = (int)(rate / 2 < (64u << 10) ? rate / 2 : (64u << 10));
    setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof(lowat));
    return 0;
}

static int open_listener(const struct sockaddr_storage *ss, socklen_t len, char *err, size_t errlen,
                         const char *addr)
{
    int fd = bind_socket(ss, len, true, addr, err, errlen);
    if (fd < 0)
        return -1;
    set_connection_options(fd);
    if (listen(fd, SOMAXCONN) != 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", addr, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static int port_of(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

int sl_listen(const char *addr, int port, unsigned count, int *fds, int *family, int *bound_port,
              char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (resolve_bind(addr, port, &ss, &len, err, errlen) != 0)
        return -1;
    *family = ss.ss_family;
    if (port != 0 && check_port_free(&ss, len, addr, err, errlen) != 0)
        return -1;
    for (unsigned i = 0; i < count; i++) {
        fds[i] = open_listener(&ss, len, err, errlen, addr);
        if (fds[i] < 0) {
            while (i > 0)
                close(fds[--i]);
            return -1;
        }
        if (i == 0) {
            /* With port 0 the first bind picks the port; the others join it. */
            *bound_port = port_of(fds[0]);
            if (ss.ss_family == AF_INET6)
                ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)*bound_port);
            else
                ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)*bound_port);
        }
    }
    return 0;
}

/* ---- socket activation ---- */

/* The first descriptor a service manager passes (SD_LISTEN_FDS_START in sd-daemon.h). */
#define LISTEN_FDS_START 3

/* Whether fd is a listening TCP socket (what sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1)
 * checks, narrowed to IPv4 and IPv6: connections are logged by IP address). */
static bool is_tcp_listener(int fd)
{
    struct stat st;
    int type = 0, listening = 0, domain = 0;
    socklen_t len = sizeof(int);
    if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode))
        return false;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM)
        return false;
    len = sizeof(int);
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening)
        return false;
    len = sizeof(int);
    return getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 &&
           (domain == AF_INET || domain == AF_INET6);
}

/* The sd_listen_fds protocol is a few documented lines (sd_listen_fds(3)): LISTEN_PID
 * names the process the sockets are for, LISTEN_FDS how many there are, from descriptor
 * 3 on. libsystemd would be a dependency for these lines and would still leave the
 * checks below to us. */
int sl_listen_inherited(int *fds, unsigned max, unsigned *count, char *err, size_t errlen)
{
    *count = 0;
    const char *pid = getenv("LISTEN_PID");
    const char *n = getenv("LISTEN_FDS");
    char *end;
    long want_pid = pid ? strtol(pid, &end, 10) : 0;
    bool ours = pid && *pid && *end == '\0' && want_pid == (long)getpid();
    long nfds = ours && n ? strtol(n, &end, 10) : 0;
    bool nfds_ok = ours && n && *n && *end == '\0';
    /* Whatever they said, they were for this process only: no child should see them. */
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    if (!ours)
        return 0;
    if (!nfds_ok || nfds < 1 || nfds > (long)max) {
        snprintf(err, errlen,
                 "LISTEN_FDS='%s' from the service manager: sluice takes 1 to %u sockets",
                 n ? n : "", max);
        return -1;
    }
    for (int i = 0; i < (int)nfds; i++) {
        int fd = LISTEN_FDS_START + i;
        if (!is_tcp_listener(fd)) {
            snprintf(err, errlen,
                     "descriptor %d from the service manager is not a listening TCP socket "
                     "(use ListenStream= with an address or port)",
                     fd);
            return -1;
        }
        /* Each loop accepts until EAGAIN, and several loops share this socket. */
        int flags = fcntl(fd, F_GETFL);
        if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0 ||
            fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
            snprintf(err, errlen, "cannot set up descriptor %d: %s", fd, strerror(errno));
            return -1;
        }
        set_connection_options(fd);
        fds[i] = fd;
    }
    *count = (unsigned)nfds;
    return 0;
}

int sl_listen_share(const int *fds, unsigned count, unsigned loops, int *out, char *err,
                    size_t errlen)
{
    for (unsigned loop = 0; loop < loops; loop++) {
        for (unsigned i = 0; i < count; i++) {
            /* A dup shares the socket and its accept queue; each loop's epoll watches its
             * own descriptor, level-triggered, so any loop may take the next client. */
            int fd = loop == 0 ? fds[i] : fcntl(fds[i], F_DUPFD_CLOEXEC, 0);
            if (fd < 0) {
                snprintf(err, errlen, "cannot share a listening socket: %s", strerror(errno));
                return -1;
            }
            out[loop * count + i] = fd;
        }
    }
    return 0;
}
