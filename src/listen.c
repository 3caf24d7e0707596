/* Listening sockets: resolve the bind address, check the port is free, then one
 * SO_REUSEPORT socket per event loop, with the options every accepted socket inherits. */
#include "sluice/listen.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
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
