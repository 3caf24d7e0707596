/* The floor for bench/instructions: a single-threaded epoll server that answers every
 * request on a keep-alive connection with the same 200 and 1 KiB body. It parses nothing
 * but the blank line that ends a request head (no method, path, headers or body), so its
 * instructions per request are what any server pays for the loop and the system calls.
 *
 *     cc -O2 -g -o trivial bench/trivial.c && ./trivial PORT
 *
 * Not a server to use: one write per response, no limits, no timeouts. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define HEAD "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 1024\r\n\r\n"
#define MAXFD 65536

static char reply[sizeof(HEAD) - 1 + 1024];
static char tail[MAXFD][3];     /* per connection: the last bytes read, for a split "\r\n\r\n" */
static unsigned pending[MAXFD]; /* per connection: reply bytes not yet written */

static void drop(int ep, int fd)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
    close(fd);
}

/* Writes what is owed to fd; returns 0, or -1 when the connection is gone. */
static int flush_out(int ep, int fd)
{
    while (pending[fd]) {
        size_t off = (sizeof(reply) - pending[fd] % sizeof(reply)) % sizeof(reply);
        size_t n = pending[fd] % sizeof(reply) ? pending[fd] % sizeof(reply) : sizeof(reply);
        ssize_t w = write(fd, reply + off, n);
        if (w < 0 && errno == EAGAIN) {
            struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.fd = fd};
            epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
            return 0;
        }
        if (w <= 0)
            return -1;
        pending[fd] -= (unsigned)w;
    }
    return 0;
}

/* Reads what the client sent and owes one reply per "\r\n\r\n" in it (memchr jumps from
 * one '\n' to the next, as a real parser's scan for the end of a head would). */
static void on_readable(int ep, int fd)
{
    char buf[3 + 16384];
    for (;;) {
        memcpy(buf, tail[fd], 3);
        ssize_t n = read(fd, buf + 3, sizeof(buf) - 3);
        if (n < 0 && errno == EAGAIN)
            break;
        if (n <= 0) {
            drop(ep, fd);
            return;
        }
        const char *from = buf, *end = buf + 3 + n, *p = buf + 3;
        while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
            if (p - 3 >= from && memcmp(p - 3, "\r\n\r", 3) == 0) {
                pending[fd] += sizeof(reply);
                from = p + 1; /* no head ends inside the one that just ended */
            }
            p++;
        }
        for (int k = 0; k < 3; k++)
            tail[fd][k] = end - 3 + k >= from ? end[-3 + k] : 0;
        if ((size_t)n < sizeof(buf) - 3)
            break;
    }
    if (flush_out(ep, fd) < 0)
        drop(ep, fd);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    memcpy(reply, HEAD, sizeof(HEAD) - 1);
    memset(reply + sizeof(HEAD) - 1, 'x', 1024);

    int one = 1, lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1])),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 1024) < 0) {
        perror("trivial: listen");
        return 1;
    }
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd}, evs[256];
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == lfd) {
                int c;
                while ((c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    if (c >= MAXFD) {
                        close(c);
                        continue;
                    }
                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                    memset(tail[c], 0, 3);
                    pending[c] = 0;
                    struct epoll_event cev = {.events = EPOLLIN, .data.fd = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
                }
            } else {
                if (evs[i].events & EPOLLOUT) {
                    if (flush_out(ep, fd) < 0) {
                        drop(ep, fd);
                        continue;
                    }
                    if (!pending[fd]) {
                        struct epoll_event cev = {.events = EPOLLIN, .data.fd = fd};
                        epoll_ctl(ep, EPOLL_CTL_MOD, fd, &cev);
                    }
                }
                if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                    on_readable(ep, fd);
            }
        }
    }
}
