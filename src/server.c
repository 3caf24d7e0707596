/* Server: listening sockets, workers (one libuv loop per thread), the per-loop tick,
 * accepting with EMFILE back-off, signals and graceful shutdown. */
#include "sluice/server.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sluice/conn.h"

#define ACCEPT_BATCH 64
#define ACCEPT_BACKOFF_MS 250
#define TICK_MS 1000

/* ---- listening sockets ---- */

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
     * sendfile calls, then releases it bit by bit: measured on loopback with BBR
     * (bench/, scenario c), about three times the timer interrupts and 20-25% less
     * throughput. In-flight data is not limited by it, and a client that stops reading
     * pins 64 KiB of queued file data instead of megabytes. */
    int lowat = 64 << 10;
    setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof(lowat));
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

/* ---- worker ---- */

const char *sl_worker_date(struct sl_worker *w)
{
    time_t now = time(NULL); /* vDSO: no syscall */
    if (now != w->date_sec) {
        sl_httpdate_format(now, w->date);
        w->date_sec = now;
    }
    return w->date;
}

static void on_listen_readable(uv_poll_t *handle, int status, int events);

static void accept_start(struct sl_worker *w)
{
    if (w->accepting || w->stopping)
        return;
    uv_poll_start(&w->listen_poll, UV_READABLE, on_listen_readable);
    w->accepting = true;
}

static void accept_stop(struct sl_worker *w)
{
    if (!w->accepting)
        return;
    uv_poll_stop(&w->listen_poll);
    w->accepting = false;
}

static void on_accept_wait(uv_timer_t *t)
{
    struct sl_worker *w = t->loop->data;
    if (w->conns < w->max_conns)
        accept_start(w);
}

/* Out of descriptors: accept would report EMFILE on every loop turn (the listening
 * socket stays readable), spinning a core. Give back the spare descriptor, accept and
 * drop one pending connection so the client hears a close instead of hanging, take the
 * spare again, and stop accepting for a moment. */
static void shed_load(struct sl_worker *w)
{
    if (w->spare_fd >= 0) {
        close(w->spare_fd);
        int fd = accept4(w->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0)
            close(fd);
        w->spare_fd = fcntl(w->cfg->root_fd, F_DUPFD_CLOEXEC, 0);
    }
    accept_stop(w);
    uv_timer_start(&w->accept_wait, on_accept_wait, ACCEPT_BACKOFF_MS, 0);
}

static void on_listen_readable(uv_poll_t *handle, int status, int events)
{
    struct sl_worker *w = handle->loop->data;
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        if (w->conns >= w->max_conns) {
            accept_stop(w); /* resumes when a connection closes */
            return;
        }
        struct sockaddr_storage peer;
        socklen_t len = sizeof(peer);
        int fd =
            accept4(w->listen_fd, (struct sockaddr *)&peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                shed_load(w);
            /* EAGAIN: drained. ECONNABORTED and friends: that client is gone; the next
             * readiness event brings the rest. */
            return;
        }
        if (w->cfg->fd_ceiling > 0 && fd >= w->cfg->fd_ceiling) {
            close(fd); /* keep the last descriptors for files being served */
            accept_stop(w);
            uv_timer_start(&w->accept_wait, on_accept_wait, ACCEPT_BACKOFF_MS, 0);
            return;
        }
        sl_conn_start(w, fd, (struct sockaddr *)&peer);
    }
}

/* Refuses new clients from now on. uv_close stops the poll handle (epoll_ctl DEL) before
 * returning, so the descriptor can be closed right after it, at once: a client that
 * connects after this is refused rather than queued and then reset. */
static void close_listener(struct sl_worker *w)
{
    if (uv_is_closing((uv_handle_t *)&w->listen_poll))
        return;
    uv_close((uv_handle_t *)&w->listen_poll, NULL);
    close(w->listen_fd);
    w->listen_fd = -1;
}

static void close_worker_handles(struct sl_worker *w)
{
    close_listener(w);
    uv_close((uv_handle_t *)&w->accept_wait, NULL);
    uv_close((uv_handle_t *)&w->tick, NULL);
    uv_close((uv_handle_t *)&w->stop_async, NULL);
}

/* The last connection of a stopping worker is gone: close the loop's own handles so
 * uv_run returns. */
static void finish_stop(struct sl_worker *w)
{
    if (uv_is_closing((uv_handle_t *)&w->tick))
        return;
    close_worker_handles(w);
}

void sl_worker_conn_gone(struct sl_worker *w)
{
    w->conns--;
    if (w->stopping) {
        if (w->conns == 0)
            finish_stop(w);
        return;
    }
    if (w->conns < w->max_conns && !uv_is_active((uv_handle_t *)&w->accept_wait))
        accept_start(w);
}

static void on_tick(uv_timer_t *t)
{
    struct sl_worker *w = t->loop->data;
    uint64_t now = uv_now(&w->loop);
    sl_conn_sweep(w, now);
    sl_cache_expire(&w->cache, now);
    if (w->stopping && now >= w->stop_deadline)
        sl_conn_stop_all(w, true);
    sl_log_flush(&w->log);
}

static void on_stop(uv_async_t *a)
{
    struct sl_worker *w = a->loop->data;
    bool now = atomic_load(&w->stop_level) >= SL_STOP_NOW;
    if (!w->stopping) {
        accept_stop(w);
        uv_timer_stop(&w->accept_wait);
        w->stopping = true;
        w->stop_deadline = uv_now(&w->loop) + SL_SHUTDOWN_GRACE_MS;
        close_listener(w);
        sl_log_flush(&w->log);
    }
    sl_conn_stop_all(w, now);
    if (w->conns == 0)
        finish_stop(w);
}

static int worker_init(struct sl_worker *w, const struct sl_config *cfg, unsigned index,
                       int listen_fd, unsigned max_conns)
{
    memset(w, 0, sizeof(*w));
    w->cfg = cfg;
    w->index = index;
    w->listen_fd = listen_fd;
    w->max_conns = max_conns;
    w->date_sec = -1;
    /* Cached descriptors take at most a sixteenth of the descriptor table between them. */
    unsigned max_fds = cfg->fd_ceiling > 0 ? (unsigned)cfg->fd_ceiling / 16 / cfg->threads : 64;
    sl_cache_init(&w->cache, max_fds < 256 ? max_fds : 256);
    w->spare_fd = fcntl(cfg->root_fd, F_DUPFD_CLOEXEC, 0);
    w->timeout_ms[SL_LIST_HEAD] = (uint64_t)cfg->head_timeout_s * 1000;
    w->timeout_ms[SL_LIST_IDLE] = (uint64_t)cfg->idle_timeout_s * 1000;
    w->timeout_ms[SL_LIST_SEND] = (uint64_t)cfg->send_timeout_s * 1000;
    w->timeout_ms[SL_LIST_LINGER] = SL_LINGER_MS;
    int rc = uv_loop_init(&w->loop);
    if (rc != 0)
        return rc;
    w->loop.data = w;
    if ((rc = sl_log_init(&w->log, cfg->quiet ? -1 : cfg->log_fd)) != 0)
        return rc;
    uv_poll_init_socket(&w->loop, &w->listen_poll, listen_fd);
    uv_timer_init(&w->loop, &w->accept_wait);
    uv_timer_init(&w->loop, &w->tick);
    uv_async_init(&w->loop, &w->stop_async, on_stop);
    uv_timer_start(&w->tick, on_tick, TICK_MS, TICK_MS);
    accept_start(w);
    return 0;
}

static void worker_run(void *arg)
{
    struct sl_worker *w = arg;
    uv_run(&w->loop, UV_RUN_DEFAULT);
    atomic_store(&w->finished, 1);
    uv_async_send(w->done);
}

static void worker_destroy(struct sl_worker *w)
{
    int rc = uv_loop_close(&w->loop);
    if (rc != 0)
        fprintf(stderr, "sluice: worker %u: event loop closed with handles open (%s)\n", w->index,
                uv_strerror(rc));
    sl_log_free(&w->log);
    sl_exchange_pool_free(w);
    sl_cache_free(&w->cache);
    if (w->spare_fd >= 0)
        close(w->spare_fd);
    if (w->listen_fd >= 0)
        close(w->listen_fd);
}

/* ---- signals ---- */

/* The main thread's loop: signals in, stop requests out, worker exits back in. */
struct control {
    uv_loop_t loop;
    uv_signal_t sigint;
    uv_signal_t sigterm;
    uv_async_t worker_done;
    struct sl_worker *workers;
    unsigned count;
    unsigned signals;
    unsigned finished;
};

/* The first SIGINT/SIGTERM stops gracefully; a second one (Ctrl-C again) closes every
 * connection at once. Either way the process exits 0 through the same path. */
static void on_signal(uv_signal_t *s, int signum)
{
    struct control *ctl = s->loop->data;
    int level = ++ctl->signals >= 2 ? SL_STOP_NOW : SL_STOP_GRACEFUL;
    for (unsigned i = 0; i < ctl->count; i++) {
        atomic_store(&ctl->workers[i].stop_level, level);
        uv_async_send(&ctl->workers[i].stop_async);
    }
}

/* Counts workers whose loops have ended (an async may coalesce several sends). */
static void on_worker_done(uv_async_t *a)
{
    struct control *ctl = a->loop->data;
    unsigned finished = 0;
    for (unsigned i = 0; i < ctl->count; i++)
        finished += atomic_load(&ctl->workers[i].finished);
    if (finished < ctl->count)
        return;
    uv_close((uv_handle_t *)&ctl->sigint, NULL);
    uv_close((uv_handle_t *)&ctl->sigterm, NULL);
    uv_close((uv_handle_t *)&ctl->worker_done, NULL);
}

/* The main thread's loop: SIGINT/SIGTERM, and the workers' "I am done" wake-up. */
static int control_init(struct control *ctl)
{
    int rc = uv_loop_init(&ctl->loop);
    if (rc != 0)
        return rc;
    ctl->loop.data = ctl;
    if ((rc = uv_async_init(&ctl->loop, &ctl->worker_done, on_worker_done)) != 0)
        return rc;
    for (unsigned i = 0; i < ctl->count; i++)
        ctl->workers[i].done = &ctl->worker_done;
    if ((rc = uv_signal_init(&ctl->loop, &ctl->sigint)) != 0 ||
        (rc = uv_signal_init(&ctl->loop, &ctl->sigterm)) != 0 ||
        (rc = uv_signal_start(&ctl->sigint, on_signal, SIGINT)) != 0)
        return rc;
    return uv_signal_start(&ctl->sigterm, on_signal, SIGTERM);
}

int sl_server_run(const struct sl_config *cfg, const int *fds, unsigned count, sl_ready_fn *ready,
                  void *ready_arg)
{
    /* A client that hangs up mid-response would otherwise kill the process with the
     * first EPIPE (send uses MSG_NOSIGNAL, but sendfile has no such flag). */
    signal(SIGPIPE, SIG_IGN);
    struct sl_worker *workers = calloc(count, sizeof(*workers));
    if (!workers) {
        fprintf(stderr, "sluice: out of memory\n");
        return 1;
    }
    unsigned per_worker = (cfg->max_conns + count - 1) / count;
    for (unsigned i = 0; i < count; i++) {
        int rc = worker_init(&workers[i], cfg, i, fds[i], per_worker);
        if (rc != 0) {
            fprintf(stderr, "sluice: cannot start event loop: %s\n", uv_strerror(rc));
            exit(1);
        }
    }
    struct control ctl = {.workers = workers, .count = count};
    int rc = control_init(&ctl);
    if (rc != 0) {
        fprintf(stderr, "sluice: cannot set up signal handling: %s\n", uv_strerror(rc));
        exit(1);
    }
    for (unsigned i = 0; i < count; i++) {
        if (uv_thread_create(&workers[i].thread, worker_run, &workers[i]) != 0) {
            fprintf(stderr, "sluice: cannot start thread %u\n", i);
            exit(1);
        }
    }
    ready(ready_arg); /* every loop is set up, signals are handled, nothing failed */
    uv_run(&ctl.loop, UV_RUN_DEFAULT);
    for (unsigned i = 0; i < count; i++)
        uv_thread_join(&workers[i].thread);
    for (unsigned i = 0; i < count; i++)
        worker_destroy(&workers[i]);
    uv_loop_close(&ctl.loop);
    free(workers);
    return 0;
}
