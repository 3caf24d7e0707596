/* Connection state machine: reading a head, sending a response, waiting between
 * requests, lingering before close. One teardown function; memory is freed only in the
 * uv_close callback. The connections of one loop form a set that its worker owns; conn.c
 * never sees the worker. */
#ifndef SLUICE_CONN_H
#define SLUICE_CONN_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "sluice/config.h"
#include "sluice/exchange.h"
#include "sluice/filecache.h"
#include "sluice/list.h"
#include "sluice/log.h"
#include "sluice/respond.h"

enum sl_conn_state {
    SL_CONN_READING,   /* waiting for (the rest of) a request head */
    SL_CONN_SENDING,   /* a response is going out */
    SL_CONN_WAITING,   /* the answer waits for work off the loop (a directory read) */
    SL_CONN_IDLE,      /* keep-alive, nothing buffered: owns no exchange */
    SL_CONN_LINGERING, /* response done, write side shut, draining input before close */
    SL_CONN_STREAMING, /* --live: an event stream, open until the client goes */
    SL_CONN_CLOSED,    /* uv_close called; only the close callback may touch it */
};

/* A pool thread is reading the body file in for this connection: its exchange (and the
 * descriptor a pool thread reads) stays until that work's callback, even when the
 * connection closes meanwhile; memory is freed by whichever of that callback and the
 * uv_close callback comes last. */
#define SL_CONN_FETCHING 1u
#define SL_CONN_POLL_CLOSED 2u

/* Connections waiting on the same kind of deadline. Every member of a list has the same
 * timeout, so appending at the tail keeps it ordered by deadline and the sweep only
 * looks at heads. */
enum sl_list_id {
    SL_LIST_HEAD,   /* reading a request head: --head-timeout */
    SL_LIST_IDLE,   /* keep-alive, between requests: --idle-timeout */
    SL_LIST_SEND,   /* sending (or waiting to): --send-timeout since the last progress */
    SL_LIST_LINGER, /* closing: draining what the client still sends */
    SL_LIST_COUNT,
};

/* How often an event stream gets a comment line when nothing else was sent: it keeps
 * proxies from closing it and finds clients that vanished without a word. */
#define SL_STREAM_HEARTBEAT_MS 15000

/* Called when a connection's memory is gone (its slot is free again). */
typedef void sl_conn_gone_fn(void *arg);

/* Every connection of one loop and what they share. The loop's data pointer points here. */
struct sl_conn_set {
    uv_loop_t *loop;
    struct sl_responder responder;
    struct sl_log *log;
    struct sl_exchange_pool pool;
    struct sl_link lists[SL_LIST_COUNT];
    uint64_t timeout_ms[SL_LIST_COUNT];
    struct sl_link streams; /* event streams: no deadline, closed only by the client or a stop */
    uint64_t beat_at;       /* when the streams last had a heartbeat */
    unsigned count;         /* connections open */
    bool stopping;          /* responses in flight finish, then their connections close */
    sl_conn_gone_fn *gone;
    void *gone_arg;
};

/* Kept small on purpose (lwan does the same): 10,000 idle keep-alive connections should
 * cost a few megabytes, so per-request state lives in struct sl_exchange. */
struct sl_conn {
    uv_poll_t poll;      /* first: the poll handle's address is the connection's */
    struct sl_link link; /* in the deadline list of its state */
    struct sl_exchange *ex;
    uint64_t deadline;
    int fd;
    uint8_t state;
    uint8_t events; /* what the poll handle watches now */
    uint8_t flags;  /* SL_CONN_FETCHING, SL_CONN_POLL_CLOSED */
    uint8_t peer_family;
    uint8_t peer[16];
};

/* Sets up an empty set on `loop` (whose data pointer it takes), answering from `cache`
 * under the root (`root`: what the loops share about it). `seed` varies the multipart
 * boundaries between loops and runs. Returns 0 or a negative errno. */
int sl_conn_set_init(struct sl_conn_set *set, uv_loop_t *loop, const struct sl_config *cfg,
                     struct sl_cache *cache, struct sl_root_shared *root, struct sl_log *log,
                     uint64_t seed, sl_conn_gone_fn *gone, void *gone_arg);
void sl_conn_set_free(struct sl_conn_set *set);

/* Adopts an accepted non-blocking socket. Returns 0 or a negative errno (fd is closed). */
int sl_conn_start(struct sl_conn_set *set, int fd, const struct sockaddr *peer);

/* Closes at once (shutdown, deadline): the file, the socket, then the memory. */
void sl_conn_close(struct sl_conn *c);

/* The deadline sweep: closes every connection whose deadline has passed. */
void sl_conn_sweep(struct sl_conn_set *set, uint64_t now);

/* How many responses are being sent now. */
unsigned sl_conn_sending(const struct sl_conn_set *set);

/* Graceful stop: kept-alive connections close now unless a request has arrived on them;
 * a connection sending its request head gets a second more to finish it; event streams
 * close now; every request received is answered with Connection: close, and responses
 * in flight finish and then close. force: everything closes now. */
void sl_conn_stop_all(struct sl_conn_set *set, bool force);

/* Sends a live-reload notice (Server-Sent Events text) to every event stream. */
void sl_conn_broadcast(struct sl_conn_set *set, const char *msg, size_t len);

/* From the loop's tick: a comment line to every event stream each
 * SL_STREAM_HEARTBEAT_MS. */
void sl_conn_heartbeat(struct sl_conn_set *set, uint64_t now);

#endif
