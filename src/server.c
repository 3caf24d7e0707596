/* Server: workers (one libuv loop per thread), the per-loop tick, accepting with
 * EMFILE back-off, signals and graceful shutdown. A worker owns everything on its loop;
 * workers share only the read-only config. */
#include "sluice/server.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sluice/conn.h"
#include "sluice/filecache.h"
#include "sluice/listen.h"
#include "sluice/live.h"
#include "sluice/log.h"

#define ACCEPT_BATCH 64
#define ACCEPT_BACKOFF_MS 250
#define TICK_MS 1000

/* ---- worker ---- */

enum sl_stop {
    SL_STOP_NONE,
    SL_STOP_GRACEFUL, /* refuse new clients, let responses in flight finish */
    SL_STOP_NOW,      /* close everything */
};

/* What the loops share on purpose (everything else is a loop's own): the file caches'
 * change epochs, whether the root is missing, the count of responses still to finish
 * when a graceful stop begins, and with --live the watcher's hub (its generation, and
 * its notices under a lock). Atomics otherwise. */
struct shared {
    struct sl_cache_epochs epochs;
    struct sl_root_shared root;
    struct sl_live *live; /* NULL without --live */
    unsigned workers;
    atomic_uint stop_reports; /* workers that have counted their responses in flight */
    atomic_uint stop_sending; /* their sum */
};

/* One listening socket as a loop sees it: its own descriptor (a dup when the socket
 * came from a service manager and several loops serve it) and the poll handle. */
struct listener {
    uv_poll_t poll; /* first: the poll callback finds the listener from its handle */
    int fd;
};

struct sl_worker {
    uv_loop_t loop;
    const struct sl_config *cfg;
    unsigned index;
    uv_thread_t thread;

    struct listener listeners[SL_LISTENERS_MAX];
    unsigned nlisteners;
    bool accepting;         /* the listeners' polls are started */
    uv_timer_t accept_wait; /* resumes accepting after EMFILE */
    int spare_fd;           /* released to shed one connection when out of descriptors */
    unsigned max_conns;

    uv_timer_t tick; /* the one timer: deadline sweep and log flush, once a second */
    uv_async_t stop_async;
    uv_async_t live_async; /* --live: a notice was posted */
    uint64_t live_seen;    /* notices taken so far */
    atomic_int stop_level; /* enum sl_stop, written by the main thread */
    atomic_int finished;   /* the loop has returned */
    uv_async_t *done;      /* tells the main thread so */
    bool stopping;
    uint64_t stop_deadline;

    struct sl_cache cache; /* small files in memory, this loop only */
    struct sl_log log;
    struct sl_conn_set conns;
    struct shared *shared;
};

static void on_listen_readable(uv_poll_t *handle, int status, int events);

static void accept_start(struct sl_worker *w)
{
    if (w->accepting || w->stopping)
        return;
    for (unsigned i = 0; i < w->nlisteners; i++)
        uv_poll_start(&w->listeners[i].poll, UV_READABLE, on_listen_readable);
    w->accepting = true;
}

static void accept_stop(struct sl_worker *w)
{
    if (!w->accepting)
        return;
    for (unsigned i = 0; i < w->nlisteners; i++)
        uv_poll_stop(&w->listeners[i].poll);
    w->accepting = false;
}

static void on_accept_wait(uv_timer_t *t)
{
    struct sl_worker *w = t->data;
    if (w->conns.count < w->max_conns)
        accept_start(w);
}

/* Out of descriptors: accept would report EMFILE on every loop turn (the listening
 * socket stays readable), spinning a core. Give back the spare descriptor, accept and
 * drop one pending connection so the client hears a close instead of hanging, take the
 * spare again, and stop accepting for a moment. */
static void shed_load(struct sl_worker *w, int listen_fd)
{
    if (w->spare_fd >= 0) {
        close(w->spare_fd);
        int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0)
            close(fd);
        w->spare_fd = fcntl(w->cfg->root_fd, F_DUPFD_CLOEXEC, 0);
    }
    accept_stop(w);
    uv_timer_start(&w->accept_wait, on_accept_wait, ACCEPT_BACKOFF_MS, 0);
}

static void on_listen_readable(uv_poll_t *handle, int status, int events)
{
    struct sl_worker *w = handle->data;
    int listen_fd = ((struct listener *)handle)->fd;
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        if (w->conns.count >= w->max_conns) {
            accept_stop(w); /* resumes when a connection closes */
            return;
        }
        struct sockaddr_storage peer;
        socklen_t len = sizeof(peer);
        int fd = accept4(listen_fd, (struct sockaddr *)&peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                shed_load(w, listen_fd);
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
        sl_conn_start(&w->conns, fd, (struct sockaddr *)&peer);
    }
}

/* Refuses new clients from now on. uv_close stops the poll handle (epoll_ctl DEL) before
 * returning, so the descriptor can be closed right after it, at once: a client that
 * connects after this is refused rather than queued and then reset. When the socket
 * belongs to a service manager, this closes only our descriptor: the socket stays open
 * in the manager and queues clients for the next process (zero-downtime restart). */
static void close_listeners(struct sl_worker *w)
{
    for (unsigned i = 0; i < w->nlisteners; i++) {
        struct listener *l = &w->listeners[i];
        if (uv_is_closing((uv_handle_t *)&l->poll))
            continue;
        uv_close((uv_handle_t *)&l->poll, NULL);
        close(l->fd);
        l->fd = -1;
    }
}

static void close_worker_handles(struct sl_worker *w)
{
    close_listeners(w);
    uv_close((uv_handle_t *)&w->accept_wait, NULL);
    uv_close((uv_handle_t *)&w->tick, NULL);
    uv_close((uv_handle_t *)&w->stop_async, NULL);
    if (w->shared->live)
        uv_close((uv_handle_t *)&w->live_async, NULL);
}

/* The last connection of a stopping worker is gone: close the loop's own handles so
 * uv_run returns. */
static void finish_stop(struct sl_worker *w)
{
    if (uv_is_closing((uv_handle_t *)&w->tick))
        return;
    close_worker_handles(w);
}

/* A connection's memory is gone: its slot is free (accepting resumes if the cap had
 * stopped it), and a graceful stop finishes when it was the last. */
static void on_conn_gone(void *arg)
{
    struct sl_worker *w = arg;
    if (w->stopping) {
        if (w->conns.count == 0)
            finish_stop(w);
        return;
    }
    if (w->conns.count < w->max_conns && !uv_is_active((uv_handle_t *)&w->accept_wait))
        accept_start(w);
}

static void on_tick(uv_timer_t *t)
{
    struct sl_worker *w = t->data;
    uint64_t now = uv_now(&w->loop);
    sl_conn_sweep(&w->conns, now);
    sl_cache_expire(&w->cache, now);
    sl_responder_tick(&w->conns.responder, now);
    if (w->shared->live)
        sl_conn_heartbeat(&w->conns, now);
    if (w->stopping && now >= w->stop_deadline)
        sl_conn_stop_all(&w->conns, true);
    sl_log_flush(&w->log);
}

/* The first Ctrl-C with responses in flight says what it waits for, once for the whole
 * process: the last worker to count its responses prints the sum. */
static void report_finishing(struct sl_worker *w)
{
    struct shared *sh = w->shared;
    atomic_fetch_add(&sh->stop_sending, sl_conn_sending(&w->conns));
    if (atomic_fetch_add(&sh->stop_reports, 1) + 1 != sh->workers)
        return;
    unsigned n = atomic_load(&sh->stop_sending);
    if (n > 0)
        fprintf(stderr, "sluice: finishing %u response%s (Ctrl-C again to stop now)\n", n,
                n == 1 ? "" : "s");
}

static void on_stop(uv_async_t *a)
{
    struct sl_worker *w = a->data;
    bool now = atomic_load(&w->stop_level) >= SL_STOP_NOW;
    if (!w->stopping) {
        accept_stop(w);
        uv_timer_stop(&w->accept_wait);
        w->stopping = true;
        w->stop_deadline = uv_now(&w->loop) + SL_SHUTDOWN_GRACE_MS;
        close_listeners(w);
        sl_log_flush(&w->log);
        if (!now)
            report_finishing(w);
    }
    sl_conn_stop_all(&w->conns, now);
    if (w->conns.count == 0)
        finish_stop(w);
}

/* --live: the hub posted notices; send them to this loop's event streams. */
static void on_live(uv_async_t *a)
{
    struct sl_worker *w = a->data;
    char msg[SL_LIVE_MSG_MAX];
    size_t n;
    while ((n = sl_live_take(w->shared->live, &w->live_seen, msg, sizeof(msg))) > 0)
        sl_conn_broadcast(&w->conns, msg, n);
}

/* The loop's own handles: each finds its worker through its data pointer (the loop's
 * belongs to the connection set). */
static int worker_handles_init(struct sl_worker *w)
{
    int rc;
    for (unsigned i = 0; i < w->nlisteners; i++) {
        struct listener *l = &w->listeners[i];
        if ((rc = uv_poll_init_socket(&w->loop, &l->poll, l->fd)) != 0)
            return rc;
        l->poll.data = w;
    }
    if ((rc = uv_timer_init(&w->loop, &w->accept_wait)) != 0 ||
        (rc = uv_timer_init(&w->loop, &w->tick)) != 0 ||
        (rc = uv_async_init(&w->loop, &w->stop_async, on_stop)) != 0)
        return rc;
    w->accept_wait.data = w->tick.data = w->stop_async.data = w;
    if (w->shared->live) {
        if ((rc = uv_async_init(&w->loop, &w->live_async, on_live)) != 0)
            return rc;
        w->live_async.data = w;
        sl_responder_follow(&w->conns.responder, &w->shared->live->shared);
    }
    if ((rc = uv_timer_start(&w->tick, on_tick, TICK_MS, TICK_MS)) != 0)
        return rc;
    accept_start(w);
    return 0;
}

static int worker_init(struct sl_worker *w, const struct sl_config *cfg, struct shared *shared,
                       unsigned index, const int *listen_fds, unsigned nlisteners,
                       unsigned max_conns)
{
    memset(w, 0, sizeof(*w));
    w->cfg = cfg;
    w->shared = shared;
    w->index = index;
    w->nlisteners = nlisteners;
    for (unsigned i = 0; i < nlisteners; i++)
        w->listeners[i].fd = listen_fds[i];
    w->max_conns = max_conns;
    /* Cached descriptors: a share of the descriptor table counted by fdbudget.c. */
    sl_cache_init(&w->cache, cfg->cache_fds > 0 ? cfg->cache_fds : 64, &shared->epochs);
    w->spare_fd = fcntl(cfg->root_fd, F_DUPFD_CLOEXEC, 0);
    int rc = uv_loop_init(&w->loop);
    if (rc != 0)
        return rc;
    if ((rc = sl_log_init(&w->log, cfg->quiet ? -1 : cfg->log_fd, cfg->log_json)) != 0)
        return rc;
    uint64_t seed = uv_hrtime() ^ ((uint64_t)index << 56);
    rc = sl_conn_set_init(&w->conns, &w->loop, cfg, &w->cache, &shared->root, &w->log, seed,
                          on_conn_gone, w);
    return rc != 0 ? rc : worker_handles_init(w);
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
    sl_conn_set_free(&w->conns);
    sl_cache_free(&w->cache);
    if (w->spare_fd >= 0)
        close(w->spare_fd);
    for (unsigned i = 0; i < w->nlisteners; i++) {
        if (w->listeners[i].fd >= 0)
            close(w->listeners[i].fd);
    }
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
    struct shared shared;
    struct sl_live live; /* --live: the watcher, on this loop */
};

/* The first SIGINT/SIGTERM stops gracefully; a second one (Ctrl-C again) closes every
 * connection at once. Either way the process exits 0 through the same path. */
static void on_signal(uv_signal_t *s, int signum)
{
    struct control *ctl = s->loop->data;
    /* No notice may wake a loop that is closing its handles. */
    if (ctl->shared.live)
        sl_live_stop(ctl->shared.live);
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
    /* Closing the handles gives the signals back their default action, which would kill
     * the process with a late Ctrl-C during the last teardown instead of letting it exit
     * 0: the stop is under way already. */
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    uv_close((uv_handle_t *)&ctl->worker_done, NULL);
    if (ctl->shared.live)
        sl_live_stop(ctl->shared.live);
}

/* --live: the hub posted a notice; every loop takes it from the hub. */
static void notify_workers(void *arg)
{
    struct control *ctl = arg;
    for (unsigned i = 0; i < ctl->count; i++)
        uv_async_send(&ctl->workers[i].live_async);
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

/* Stops and joins the first `count` workers (start-up failed after they began). */
static void stop_started(struct sl_worker *workers, unsigned count)
{
    for (unsigned i = 0; i < count; i++) {
        atomic_store(&workers[i].stop_level, SL_STOP_NOW);
        uv_async_send(&workers[i].stop_async);
    }
    for (unsigned i = 0; i < count; i++)
        uv_thread_join(&workers[i].thread);
}

/* Sets up every worker and the main thread's loop, then starts the threads. Returns 0,
 * or -1 with one line in err. */
static int start_workers(const struct sl_config *cfg, const int *fds, unsigned listeners,
                         struct control *ctl, char *err, size_t errlen)
{
    unsigned count = ctl->count;
    /* Rounded down: the descriptor budget counted max_conns for the whole process. */
    unsigned per_worker = cfg->max_conns / count > 0 ? cfg->max_conns / count : 1;
    for (unsigned i = 0; i < count; i++) {
        int rc = worker_init(&ctl->workers[i], cfg, &ctl->shared, i, fds + i * listeners, listeners,
                             per_worker);
        if (rc != 0) {
            snprintf(err, errlen, "cannot start event loop: %s", uv_strerror(rc));
            return -1;
        }
    }
    int rc = control_init(ctl);
    if (rc != 0) {
        snprintf(err, errlen, "cannot set up signal handling: %s", uv_strerror(rc));
        return -1;
    }
    /* Every directory is watched before the banner says the server is up. */
    if (cfg->live && (rc = sl_live_start(&ctl->live, &ctl->loop, cfg, notify_workers, ctl)) != 0) {
        snprintf(err, errlen, "cannot set up --live: %s", uv_strerror(rc));
        return -1;
    }
    for (unsigned i = 0; i < count; i++) {
        if (uv_thread_create(&ctl->workers[i].thread, worker_run, &ctl->workers[i]) != 0) {
            stop_started(ctl->workers, i);
            snprintf(err, errlen, "cannot start thread %u", i);
            return -1;
        }
    }
    return 0;
}

int sl_server_run(const struct sl_config *cfg, const int *fds, unsigned count, unsigned listeners,
                  sl_ready_fn *ready, void *ready_arg, char *err, size_t errlen)
{
    /* A client that hangs up mid-response would otherwise kill the process with the
     * first EPIPE (send uses MSG_NOSIGNAL, but sendfile has no such flag). */
    signal(SIGPIPE, SIG_IGN);
    struct sl_worker *workers = calloc(count, sizeof(*workers));
    if (!workers) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    struct control ctl = {.workers = workers, .count = count, .shared.workers = count};
    if (cfg->live)
        ctl.shared.live = &ctl.live;
    if (start_workers(cfg, fds, listeners, &ctl, err, errlen) != 0)
        return -1;
    ready(ready_arg); /* every loop is set up, signals are handled, nothing failed */
    uv_run(&ctl.loop, UV_RUN_DEFAULT);
    for (unsigned i = 0; i < count; i++)
        uv_thread_join(&workers[i].thread);
    for (unsigned i = 0; i < count; i++)
        worker_destroy(&workers[i]);
    uv_loop_close(&ctl.loop);
    if (cfg->live)
        sl_live_free(&ctl.live);
    free(workers);
    return 0;
}
