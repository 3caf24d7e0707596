/* Live reload's hub (see live.h): watcher reports in, a generation and settled notices
 * out. Runs on the main thread's loop. */
#include "sluice/live.h"

#include <stdio.h>
#include <string.h>

static const char reload_notice[] = "event: reload\ndata: 1\n\n";

/* The notice of a settled burst goes into the ring; the loops are woken to take it. */
static void post(struct sl_live *lv, const char *msg, size_t len)
{
    uv_mutex_lock(&lv->lock);
    size_t i = (size_t)(lv->posted % SL_LIVE_RING);
    memcpy(lv->msg[i], msg, len);
    lv->len[i] = len;
    lv->posted++;
    uv_mutex_unlock(&lv->lock);
    lv->notify(lv->notify_arg);
}

static void on_settle(uv_timer_t *t)
{
    struct sl_live *lv = t->data;
    char msg[SL_LIVE_MSG_MAX];
    size_t len = sl_burst_take(&lv->burst, uv_now(lv->loop), msg, sizeof(msg));
    if (len > 0)
        post(lv, msg, len);
}

/* (Re)arms the settle timer for the burst's new due time. */
static void schedule(struct sl_live *lv)
{
    uint64_t due = sl_burst_due(&lv->burst);
    if (due == SL_BURST_NONE)
        return;
    uint64_t now = uv_now(lv->loop);
    uv_timer_start(&lv->settle, on_settle, due > now ? due - now : 0, 0);
}

/* Said once, on stderr: serving goes on, and what is not watched is still re-checked
 * by the file cache's 1 s revalidation. */
static void warn_limit(struct sl_live *lv)
{
    fprintf(stderr,
            "sluice: --live: the kernel's inotify watch limit is reached with %zu "
            "directories watched; changes in the others show within 1 s but do not reload "
            "pages. To raise it: sysctl fs.inotify.max_user_watches=524288\n",
            sl_watch_count(&lv->watch));
}

static void on_watch(void *arg, const struct sl_watch_event *ev)
{
    struct sl_live *lv = arg;
    if (lv->stopped)
        return;
    switch (ev->kind) {
    case SL_WATCH_LIMIT: warn_limit(lv); return;
    case SL_WATCH_ERROR:
        fprintf(stderr, "sluice: --live: cannot watch %s (%s); pages will not reload\n",
                lv->watch.base, uv_strerror(ev->err));
        return;
    case SL_WATCH_FILE: sl_burst_add(&lv->burst, uv_now(lv->loop), ev->rel, ev->len); break;
    case SL_WATCH_TREE: sl_burst_add_reload(&lv->burst, uv_now(lv->loop)); break;
    }
    /* Release: a loop that sees the new generation re-checks what it has cached. */
    atomic_fetch_add_explicit(&lv->shared.generation, 1, memory_order_release);
    schedule(lv);
}

int sl_live_start(struct sl_live *lv, uv_loop_t *loop, const struct sl_config *cfg,
                  sl_live_notify_fn *notify, void *notify_arg)
{
    *lv = (struct sl_live){.loop = loop, .cfg = cfg, .notify = notify, .notify_arg = notify_arg};
    lv->shared.boot = (uint32_t)(uv_hrtime() ^ (uv_hrtime() >> 32));
    atomic_init(&lv->shared.generation, 0);
    sl_burst_init(&lv->burst);
    int rc = uv_mutex_init(&lv->lock);
    if (rc != 0)
        return rc;
    if ((rc = uv_timer_init(loop, &lv->settle)) != 0)
        return rc;
    lv->settle.data = lv;
    /* Inside a chroot the root's path means nothing any more: the root is ".". */
    const char *base = cfg->chroot ? "." : cfg->root;
    return sl_watch_start(&lv->watch, loop, base, cfg->dotfiles, on_watch, lv);
}

void sl_live_stop(struct sl_live *lv)
{
    if (lv->stopped)
        return;
    lv->stopped = true;
    uv_close((uv_handle_t *)&lv->settle, NULL);
    sl_watch_close(&lv->watch);
}

void sl_live_free(struct sl_live *lv)
{
    uv_mutex_destroy(&lv->lock);
}

size_t sl_live_take(struct sl_live *lv, uint64_t *seen, char *out, size_t cap)
{
    size_t len = 0;
    uv_mutex_lock(&lv->lock);
    if (*seen + SL_LIVE_RING < lv->posted) {
        len = sizeof(reload_notice) - 1;
        memcpy(out, reload_notice, len);
        *seen = lv->posted;
    } else if (*seen < lv->posted) {
        size_t i = (size_t)(*seen % SL_LIVE_RING);
        len = lv->len[i] <= cap ? lv->len[i] : 0;
        memcpy(out, lv->msg[i], len);
        (*seen)++;
    }
    uv_mutex_unlock(&lv->lock);
    return len;
}
