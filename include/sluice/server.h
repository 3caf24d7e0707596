/* Server: listening sockets, one event loop per thread, signals and graceful shutdown.
 * A worker owns everything on its loop; workers share only the read-only config. */
#ifndef SLUICE_SERVER_H
#define SLUICE_SERVER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <uv.h>

#include "sluice/config.h"
#include "sluice/filecache.h"
#include "sluice/httpdate.h"
#include "sluice/log.h"

struct sl_conn;
struct sl_exchange;

enum sl_stop {
    SL_STOP_NONE,
    SL_STOP_GRACEFUL, /* refuse new clients, let responses in flight finish */
    SL_STOP_NOW,      /* close everything */
};

/* Connections waiting on the same kind of deadline. Every member of a list has the same
 * timeout, so appending at the tail keeps it ordered by deadline and the sweep only
 * looks at heads. */
struct sl_list {
    struct sl_conn *head;
    struct sl_conn *tail;
};

enum sl_list_id {
    SL_LIST_HEAD,   /* reading a request head: --head-timeout */
    SL_LIST_IDLE,   /* keep-alive, between requests: --idle-timeout */
    SL_LIST_SEND,   /* sending: --send-timeout since the last progress */
    SL_LIST_LINGER, /* closing: draining what the client still sends */
    SL_LIST_COUNT,
    SL_LIST_NONE = SL_LIST_COUNT,
};

struct sl_worker {
    uv_loop_t loop;
    const struct sl_config *cfg;
    unsigned index;
    uv_thread_t thread;

    int listen_fd;
    uv_poll_t listen_poll;
    bool accepting;         /* listen_poll is started */
    uv_timer_t accept_wait; /* resumes accepting after EMFILE */
    int spare_fd;           /* released to shed one connection when out of descriptors */

    uv_timer_t tick; /* the one timer: deadline sweep and log flush, once a second */
    uv_async_t stop_async;
    atomic_int stop_level; /* enum sl_stop, written by the main thread */
    atomic_int finished;   /* the loop has returned */
    uv_async_t *done;      /* tells the main thread so */
    bool stopping;
    uint64_t stop_deadline;

    uint64_t timeout_ms[SL_LIST_COUNT];
    struct sl_list lists[SL_LIST_COUNT];
    unsigned conns;
    unsigned max_conns;

    struct sl_exchange *free_exchanges; /* reused: no malloc per request in steady state */
    unsigned free_count;
    unsigned exchanges_live; /* in use by connections */

    struct sl_cache cache; /* small files in memory, this loop only */
    time_t date_sec;
    char date[SL_HTTPDATE_LEN + 1];
    struct sl_log log;
};

/* Creates `count` listening sockets on addr:port with SO_REUSEPORT (all on the same port:
 * when port is 0 the first one picks it). On failure writes one line to err and returns
 * -1. *family tells AF_INET or AF_INET6, *bound_port the port. */
int sl_listen(const char *addr, int port, unsigned count, int *fds, int *family, int *bound_port,
              char *err, size_t errlen);

/* Called once, when every loop is set up (its descriptors open), SIGINT/SIGTERM are
 * handled and the loop threads have started: the moment to tell the user the server is
 * up. Not called when any of that failed. */
typedef void sl_ready_fn(void *arg);

/* Runs one worker per listening socket until SIGINT/SIGTERM, then drains and returns 0. */
int sl_server_run(const struct sl_config *cfg, const int *fds, unsigned count, sl_ready_fn *ready,
                  void *ready_arg);

/* A connection's memory is gone: frees its slot (accepting resumes if the cap had
 * stopped it) and finishes a graceful stop when it was the last. */
void sl_worker_conn_gone(struct sl_worker *w);

/* The cached Date value for this second. */
const char *sl_worker_date(struct sl_worker *w);

#endif
