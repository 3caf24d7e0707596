/* Live reload's hub, on the main thread's loop. The tree watcher's reports become two
 * things: at once, a new generation that every loop compares per request (its file
 * cache entries and its root are re-checked when it moved on: an edit is served as soon
 * as the watcher has seen it), and, once a burst of changes settles, one notice that the
 * loops send to their event streams. The loops only read the generation and take
 * notices; everything else is the main thread's. */
#ifndef SLUICE_LIVE_H
#define SLUICE_LIVE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "sluice/burst.h"
#include "sluice/config.h"
#include "sluice/watch.h"

/* What the loops read. */
struct sl_live_shared {
    atomic_uint generation; /* moves on with every change the watcher sees */
    uint32_t boot;          /* tells one run of sluice from the next (the streams' hello) */
};

#define SL_LIVE_RING 8 /* notices a loop may fall behind before it is told to reload */
#define SL_LIVE_MSG_MAX SL_BURST_MSG_MAX

/* Called on the hub's loop when a notice is posted: wake the loops. */
typedef void sl_live_notify_fn(void *arg);

struct sl_live {
    struct sl_live_shared shared;
    uv_loop_t *loop;
    const struct sl_config *cfg;
    struct sl_watch watch;
    struct sl_burst burst;
    uv_timer_t settle;
    sl_live_notify_fn *notify;
    void *notify_arg;
    bool stopped;

    /* The last notices, for the loops to take (under lock). */
    uv_mutex_t lock;
    uint64_t posted; /* notices posted so far */
    size_t len[SL_LIVE_RING];
    char msg[SL_LIVE_RING][SL_LIVE_MSG_MAX];
};

/* Sets up the hub on `loop` and watches the root (cfg->root, or "." inside a chroot):
 * when it returns 0, every directory is watched. Returns 0 or a negative errno. */
int sl_live_start(struct sl_live *lv, uv_loop_t *loop, const struct sl_config *cfg,
                  sl_live_notify_fn *notify, void *notify_arg);

/* Stops watching and notifying (shutdown); the handles close as the loop runs. */
void sl_live_stop(struct sl_live *lv);

/* After the hub's loop has ended. */
void sl_live_free(struct sl_live *lv);

/* From any loop: the next notice after the *seen it has taken so far, copied into out
 * (cap >= SL_LIVE_MSG_MAX), *seen moved on. Returns its length, or 0 when there is none.
 * A loop that fell SL_LIVE_RING notices behind gets one "reload" for all it missed. */
size_t sl_live_take(struct sl_live *lv, uint64_t *seen, char *out, size_t cap);

#endif
