/* Connection state machine on a non-blocking socket watched by one uv_poll_t.
 *
 *   IDLE --bytes--> READING --head complete--> SENDING --done--> READING (pipelined
 *   bytes buffered) | IDLE (keep-alive) | LINGERING (closing) --EOF/deadline--> CLOSED
 *   | STREAMING (--live's event stream) --client gone/stop--> CLOSED
 *
 * While SENDING, a body file whose next bytes are not in the page cache is read in by a
 * thread-pool thread first (the connection watches nothing meanwhile), so the loop never
 * waits for a disk.
 *   READING --head complete, answer needs work off the loop--> WAITING --woken--> SENDING
 *
 * Every exit goes through sl_conn_close(); memory is freed only in on_closed(). */
#include "sluice/conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "sluice/resident.h"
#include "sluice/sockio.h"

/* How long a cached file seen wholly in the page cache is trusted to stay there: hot
 * files are then sent with no probe at all (the cache trusts an entry's path as long). */
#define RESIDENT_TRUST_MS 1000

/* At a graceful stop, a connection that is still sending its request head gets at most
 * this long to finish it (then the deadline sweep closes it): a client that connected
 * just before the stop has usually sent its request already or is about to. */
#define STOP_HEAD_GRACE_MS 1000

/* One sendfile(2) call moves at most this much: calls as large as the socket buffer
 * allows fill it in one go and then wait for it to drain, and measured far slower on
 * loopback (bench/RESULTS.md, scenario c); lighttpd uses the same size. */
#define SENDFILE_CHUNK (256u << 10)
/* Bytes moved per writable event before the other ready connections get their turn:
 * one sendfile chunk. Taking turns chunk by chunk keeps one fast reader from holding the
 * loop, and measured faster with four downloads at once (bench/RESULTS.md, scenario c). */
#define SEND_BUDGET SENDFILE_CHUNK

static void on_poll(uv_poll_t *handle, int status, int events);
static void conn_wake(struct sl_wait *w);
static void conn_log(struct sl_conn *c, struct sl_exchange *ex);
static void conn_read(struct sl_conn *c);
static bool conn_send(struct sl_conn *c);

static struct sl_conn_set *set_of(struct sl_conn *c)
{
    return c->poll.loop->data;
}

static struct sl_conn *conn_of(struct sl_link *l)
{
    return l ? sl_container_of(l, struct sl_conn, link) : NULL;
}

/* ---- deadline lists ---- */

/* Puts c at the tail of list `id` with a fresh deadline (also used to push a sending
 * connection's deadline forward when it makes progress). */
static void list_enter(struct sl_conn_set *set, struct sl_conn *c, enum sl_list_id id)
{
    sl_list_remove(&c->link);
    c->deadline = uv_now(set->loop) + set->timeout_ms[id];
    sl_list_push_back(&set->lists[id], &c->link);
}

/* ---- the set ---- */

int sl_conn_set_init(struct sl_conn_set *set, uv_loop_t *loop, const struct sl_config *cfg,
                     struct sl_cache *cache, struct sl_root_shared *root, struct sl_log *log,
                     uint64_t seed, sl_conn_gone_fn *gone, void *gone_arg)
{
    memset(set, 0, sizeof(*set));
    set->loop = loop;
    loop->data = set;
    set->log = log;
    for (int id = 0; id < SL_LIST_COUNT; id++)
        sl_list_init(&set->lists[id]);
    sl_list_init(&set->streams);
    set->beat_at = uv_now(loop);
    set->timeout_ms[SL_LIST_HEAD] = (uint64_t)cfg->head_timeout_s * 1000;
    set->timeout_ms[SL_LIST_IDLE] = (uint64_t)cfg->idle_timeout_s * 1000;
    set->timeout_ms[SL_LIST_SEND] = (uint64_t)cfg->send_timeout_s * 1000;
    set->timeout_ms[SL_LIST_LINGER] = SL_LINGER_MS;
    set->gone = gone;
    set->gone_arg = gone_arg;
    set->pool.files_max = cfg->files_per_loop;
    int rc = sl_responder_init(&set->responder, loop, cfg, cache, root, seed);
    set->responder.tars.files = &set->pool.files; /* a tar walk's descriptors count too */
    return rc;
}

void sl_conn_set_free(struct sl_conn_set *set)
{
    sl_exchange_pool_free(&set->pool);
    sl_responder_free(&set->responder);
}

/* Gives the exchange back to the pool (ending its response). */
static void conn_release_exchange(struct sl_conn_set *set, struct sl_conn *c)
{
    if (c->ex) {
        sl_exchange_put(&set->pool, set->responder.cache, c->ex);
        c->ex = NULL;
    }
}

/* ---- poll interest ---- */

/* Changes what the poll handle watches only when it differs: each uv_poll_start costs an
 * epoll_ctl. */
static void conn_watch(struct sl_conn *c, int events)
{
    if (c->events == events)
        return;
    c->events = (uint8_t)events;
    if (events == 0)
        uv_poll_stop(&c->poll);
    else
        uv_poll_start(&c->poll, events, on_poll);
}

/* ---- teardown ---- */

static void conn_free(struct sl_conn *c)
{
    struct sl_conn_set *set = set_of(c);
    conn_release_exchange(set, c);
    close(c->fd);
    free(c);
    set->count--;
    set->gone(set->gone_arg);
}

static void on_closed(uv_handle_t *handle)
{
    struct sl_conn *c = (struct sl_conn *)handle;
    if (c->flags & SL_CONN_FETCHING) {
        c->flags |= SL_CONN_POLL_CLOSED; /* the fetch's callback frees it */
        return;
    }
    conn_free(c);
}

void sl_conn_close(struct sl_conn *c)
{
    if (c->state == SL_CONN_CLOSED)
        return;
    struct sl_conn_set *set = set_of(c);
    /* A response cut short (client gone, stalled, forced shutdown) is logged too, with
     * the body bytes that actually left. */
    if (c->state == SL_CONN_SENDING && c->ex)
        conn_log(c, c->ex);
    c->state = SL_CONN_CLOSED;
    sl_list_remove(&c->link);
    if (!(c->flags & SL_CONN_FETCHING))
        conn_release_exchange(set, c); /* else a pool thread still reads its file */
    uv_close((uv_handle_t *)&c->poll, on_closed);
}

/* Closes after a response without losing it: shut the write side (the client sees the
 * end of the response), then read and discard what the client still sends for a short
 * while. Closing with unread input would make the kernel send a reset, which can
 * destroy the response before the client has read it (nginx's lingering close). */
static void conn_linger(struct sl_conn *c)
{
    struct sl_conn_set *set = set_of(c);
    conn_release_exchange(set, c);
    if (shutdown(c->fd, SHUT_WR) != 0) {
        sl_conn_close(c);
        return;
    }
    c->state = SL_CONN_LINGERING;
    list_enter(set, c, SL_LIST_LINGER);
    conn_watch(c, UV_READABLE);
}

/* Reads and drops what the client sends (a lingering close, or an event stream, which
 * takes no requests): closes at its end, on an error, or when it keeps sending. */
static void linger_drain(struct sl_conn *c)
{
    char sink[4096];
    for (int i = 0; i < 16; i++) {
        ssize_t n = read(c->fd, sink, sizeof(sink));
        if (n > 0)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        break; /* EOF or error: the client is done */
    }
    sl_conn_close(c);
}

/* ---- event streams (--live) ---- */

/* The stream's head and hello are out: from now on the connection only waits for
 * notices. Its exchange goes back to the pool, so it costs what an idle keep-alive
 * connection costs; it is in no deadline list (no idle timeout) and counts toward
 * --max-conns like any connection. Readable only tells that the client went. */
static void conn_stream(struct sl_conn *c)
{
    struct sl_conn_set *set = set_of(c);
    conn_release_exchange(set, c);
    c->state = SL_CONN_STREAMING;
    sl_list_remove(&c->link);
    sl_list_push_back(&set->streams, &c->link);
    conn_watch(c, UV_READABLE);
}

/* A stream whose socket cannot take a notice whole, at once, is closed: notices are a
 * few bytes, so its client has not read for a long time; a browser reconnects. Never
 * buffered, so a stream holds no memory of its own. */
void sl_conn_broadcast(struct sl_conn_set *set, const char *msg, size_t len)
{
    struct sl_link *l = sl_list_first(&set->streams);
    while (l) {
        struct sl_link *next = sl_list_next(&set->streams, l);
        struct sl_conn *c = conn_of(l);
        ssize_t n;
        do
            n = send(c->fd, msg, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        while (n < 0 && errno == EINTR);
        if (n != (ssize_t)len)
            sl_conn_close(c);
        l = next;
    }
}

void sl_conn_heartbeat(struct sl_conn_set *set, uint64_t now)
{
    if (now - set->beat_at < SL_STREAM_HEARTBEAT_MS)
        return;
    set->beat_at = now;
    sl_conn_broadcast(set, ":\n\n", 3); /* a comment: the browser dispatches nothing */
}

/* ---- start ---- */

int sl_conn_start(struct sl_conn_set *set, int fd, const struct sockaddr *peer)
{
    struct sl_conn *c = calloc(1, sizeof(*c));
    if (!c) {
        close(fd);
        return -ENOMEM;
    }
    int rc = uv_poll_init_socket(set->loop, &c->poll, fd);
    if (rc != 0) {
        free(c);
        close(fd);
        return rc;
    }
    /* TCP_NODELAY and TCP_NOTSENT_LOWAT come from the listening socket (server.c). */
    c->fd = fd;
    c->peer_family = (uint8_t)peer->sa_family;
    if (peer->sa_family == AF_INET)
        memcpy(c->peer, &((const struct sockaddr_in *)peer)->sin_addr, 4);
    else if (peer->sa_family == AF_INET6)
        memcpy(c->peer, &((const struct sockaddr_in6 *)peer)->sin6_addr, 16);
    set->count++;
    /* A new connection must deliver its request head within --head-timeout. */
    c->state = SL_CONN_READING;
    list_enter(set, c, SL_LIST_HEAD);
    conn_watch(c, UV_READABLE);
    return 0;
}

/* ---- access log ---- */

/* Body bytes (after the head) that have left so far. */
static uint64_t body_sent(const struct sl_exchange *ex)
{
    uint64_t head = ex->plan.head_len;
    uint64_t body = ex->sent > head ? ex->sent - head : 0;
    return body < ex->plan.body_bytes ? body : ex->plan.body_bytes;
}

static void log_response(struct sl_conn *c, struct sl_exchange *ex)
{
    struct sl_conn_set *set = set_of(c);
    char peer[INET6_ADDRSTRLEN] = "-";
    if (c->peer_family == AF_INET || c->peer_family == AF_INET6)
        inet_ntop(c->peer_family, c->peer, peer, sizeof(peer));
    const char *method = ex->req.method_known ? llhttp_method_name(ex->req.method) : "-";
    struct sl_log_entry e = {
        .peer = peer,
        .method = sl_str_cstr(method),
        .target = ex->req.target,
        .http_major = ex->req.http_major,
        .http_minor = ex->req.http_minor,
        .status = ex->plan.status,
        .bytes = body_sent(ex),
        .referer = ex->req.referer,
        .user_agent = ex->req.user_agent,
    };
    sl_log_request(set->log, time(NULL), &e);
}

static void conn_log(struct sl_conn *c, struct sl_exchange *ex)
{
    if (set_of(c)->log->fd >= 0) /* --quiet: not even a call */
        log_response(c, ex);
}

/* ---- requests ---- */

/* Plans the answer to the request just parsed. False when it needs work done off the
 * loop first: like a connection waiting for writable, c then watches nothing and waits
 * (under the send deadline) until the work wakes it (conn_wake). */
static bool conn_plan(struct sl_conn *c)
{
    struct sl_conn_set *set = set_of(c);
    if (sl_respond(&set->responder, uv_now(set->loop), c->ex))
        return true;
    /* The work wakes the wait on a later loop turn, never before this returns. */
    c->ex->wait.wake = conn_wake;
    c->ex->wait.owner = c;
    c->state = SL_CONN_WAITING;
    list_enter(set, c, SL_LIST_SEND);
    conn_watch(c, 0);
    return false;
}

/* Parses the `fresh` bytes just buffered. Returns true when a response (an answer or an
 * error) has been planned, false when the head is still incomplete or the answer waits. */
static bool conn_parse(struct sl_conn *c, size_t fresh)
{
    struct sl_conn_set *set = set_of(c);
    int rc = sl_exchange_feed(c->ex, fresh);
    if (rc == SL_PARSE_MORE)
        return false;
    if (rc == SL_PARSE_READY && set->stopping)
        c->ex->req.keep_alive = false; /* "Connection: close": this process is going */
    if (rc == SL_PARSE_READY)
        return conn_plan(c);
    sl_respond_error(&set->responder, c->ex, rc);
    return true;
}

/* After a kept-alive response: go on with pipelined bytes already buffered (they raise
 * no new readiness event), or give the exchange back and wait. Returns true when the
 * buffered bytes held a whole request whose response is now planned. */
static bool conn_next_request(struct sl_conn *c)
{
    struct sl_conn_set *set = set_of(c);
    size_t left = sl_exchange_next_request(c->ex);
    if (left == 0) {
        conn_release_exchange(set, c); /* which ends the response */
        c->state = SL_CONN_IDLE;
        list_enter(set, c, SL_LIST_IDLE);
        conn_watch(c, UV_READABLE);
        return false;
    }
    sl_exchange_end_response(c->ex, set->responder.cache);
    c->state = SL_CONN_READING;
    conn_watch(c, UV_READABLE);
    if (conn_parse(c, left))
        return true;
    if (c->state == SL_CONN_READING) /* not waiting: a partial head, whose deadline starts */
        list_enter(set, c, SL_LIST_HEAD);
    return false;
}

/* The connection enters the send list only when its response has to wait (conn_send;
 * conn_plan for an answer that waits for work): most responses leave at once, and the
 * list they are in meanwhile does not matter, as no deadline is swept during a
 * callback. */
static void conn_start_response(struct sl_conn *c)
{
    c->state = SL_CONN_SENDING;
    c->ex->seg = 0;
    c->ex->sent = 0;
    c->ex->mss = 0;
    c->ex->file_calls = 0;
    c->ex->resident.lo = c->ex->resident.hi = 0;
}

/* Sends the response in flight, then answers pipelined requests already buffered, in
 * this loop rather than by recursion, so a buffer full of tiny requests cannot grow the
 * stack. Returns when the connection must wait for its socket (or has closed). */
static void conn_continue(struct sl_conn *c)
{
    for (;;) {
        if (!conn_send(c))
            return;
        conn_log(c, c->ex);
        if (c->ex->plan.stream && !set_of(c)->stopping) {
            conn_stream(c);
            return;
        }
        if (!c->ex->plan.keep_alive || set_of(c)->stopping) {
            conn_linger(c);
            return;
        }
        if (!conn_next_request(c))
            return;
        conn_start_response(c);
    }
}

/* A response has just been planned: send it right away (optimistic write: most
 * responses fit in the socket buffer and never wait for a writable event). */
static void conn_respond(struct sl_conn *c)
{
    conn_start_response(c);
    conn_continue(c);
}

/* The work the answer waited for is done (or a slot for it is free): plan again, which
 * now finds what the work left, and send. Called on the loop; a connection that closed
 * meanwhile cancelled its wait and is never woken. */
static void conn_wake(struct sl_wait *w)
{
    struct sl_conn *c = w->owner;
    if (c->state == SL_CONN_WAITING && conn_plan(c))
        conn_respond(c);
}

/* ---- reading ---- */

/* Head buffers are the memory a client can make the server hold by opening connections
 * and sending a byte now and then. Past SL_EXCHANGES_MAX per loop, the connection that
 * has been sending its head the longest (the front of the head list, where slowloris
 * clients end up) gives its exchange up. */
static void reclaim_exchange(struct sl_conn_set *set, struct sl_conn *keep)
{
    struct sl_link *head = &set->lists[SL_LIST_HEAD];
    for (struct sl_link *l = sl_list_first(head); l; l = sl_list_next(head, l)) {
        struct sl_conn *o = conn_of(l);
        if (o != keep && o->ex) {
            sl_conn_close(o);
            return;
        }
    }
}

/* Gives c an exchange to read into; false when none can be had (c is closed). */
static bool conn_take_exchange(struct sl_conn_set *set, struct sl_conn *c)
{
    if (c->ex)
        return true;
    if (set->pool.live >= SL_EXCHANGES_MAX)
        reclaim_exchange(set, c);
    c->ex = sl_exchange_get(&set->pool);
    if (!c->ex) {
        sl_conn_close(c);
        return false;
    }
    return true;
}

static void conn_read(struct sl_conn *c)
{
    struct sl_conn_set *set = set_of(c);
    if (!conn_take_exchange(set, c))
        return;
    struct sl_exchange *ex = c->ex;
    ssize_t n;
    do
        n = sl_sock_read(c->fd, ex->in + ex->in_len, sizeof(ex->in) - ex->in_len);
    while (n < 0 && errno == EINTR);
    if (n < 0 && errno == EAGAIN) {
        if (c->state == SL_CONN_IDLE && ex->in_len == 0)
            conn_release_exchange(set, c); /* woken without data: stay small */
        return;
    }
    if (n <= 0) {
        /* EOF or reset before a complete head: nothing to answer. */
        sl_conn_close(c);
        return;
    }
    bool first = c->state == SL_CONN_IDLE;
    c->state = SL_CONN_READING;
    ex->in_len += (size_t)n;
    if (conn_parse(c, (size_t)n))
        conn_respond(c);
    else if (first && c->state == SL_CONN_READING)
        list_enter(set, c, SL_LIST_HEAD); /* a head's first bytes start its deadline */
}

/* ---- sending ---- */

enum send_result {
    SEND_DONE,
    SEND_AGAIN,    /* wait for writable */
    SEND_FAILED,   /* close */
    SEND_FETCHING, /* wait for the next file bytes (body file, tar member) to be read in */
};

static bool seg_is_file(const struct sl_seg *s)
{
    return s->mem == NULL;
}

/* Sends consecutive memory segments with one sendmsg. MSG_MORE only when file bytes
 * follow: it holds a partial frame back for up to 200 ms, which is right when
 * sendfile's pages are about to fill it and wrong when nothing follows. */
static ssize_t send_memory(struct sl_conn *c, struct sl_exchange *ex)
{
    struct iovec iov[SL_SEGS_MAX];
    int n = 0;
    size_t total = 0;
    unsigned i = ex->seg;
    for (; i < ex->plan.nsegs && !seg_is_file(&ex->plan.segs[i]); i++, n++) {
        iov[n].iov_base = (void *)(ex->plan.segs[i].mem + ex->plan.segs[i].off);
        iov[n].iov_len = ex->plan.segs[i].len;
        total += iov[n].iov_len;
    }
    bool more = i < ex->plan.nsegs;
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)n};
    ssize_t sent;
    do
        sent = sl_sock_sendmsg(c->fd, &msg, MSG_NOSIGNAL | (more ? MSG_MORE : 0));
    while (sent < 0 && errno == EINTR);
    if (sent <= 0)
        return sent;
    if ((size_t)sent == total) {
        ex->seg = i; /* all of them: segments behind ex->seg are not looked at again */
        return sent;
    }
    /* Consume `sent` bytes from the segments. */
    size_t left = (size_t)sent;
    while (left > 0) {
        struct sl_seg *s = &ex->plan.segs[ex->seg];
        size_t take = left < s->len ? left : (size_t)s->len;
        s->off += take;
        s->len -= take;
        left -= take;
        if (s->len == 0)
            ex->seg++;
    }
    return sent;
}

/* How much the next sendfile call asks for: at most SENDFILE_CHUNK, and, when more
 * follows, so much that the response so far ends on a whole segment. Each call ends
 * with a push (TCP_NODELAY), so a chunk of 256 KiB would otherwise leave a runt packet
 * behind every call; rounding measured faster on a 1 GiB download (bench/RESULTS.md,
 * scenario c). The head, held back by MSG_MORE, shares the first segment, which is why
 * the count starts at the response's first byte. */
static size_t file_chunk(struct sl_conn *c, struct sl_exchange *ex, uint64_t left)
{
    if (left <= SENDFILE_CHUNK)
        return (size_t)left;
    if (ex->mss == 0) {
        int mss = 0;
        socklen_t len = sizeof(mss);
        if (getsockopt(c->fd, IPPROTO_TCP, TCP_MAXSEG, &mss, &len) != 0 || mss <= 0 ||
            (unsigned)mss > SENDFILE_CHUNK / 2)
            mss = 1; /* unknown or huge: no rounding */
        ex->mss = (unsigned)mss;
    }
    uint64_t end = (ex->sent + SENDFILE_CHUNK) / ex->mss * ex->mss;
    return (size_t)(end - ex->sent);
}

/* ---- bringing the body file in ---- */

static void fetch_work(uv_work_t *w)
{
    struct sl_exchange *ex = sl_container_of(w, struct sl_exchange, fetch);
    sl_resident_fetch(ex->fetch_fd, ex->fetch_off, ex->fetch_len, SL_RESIDENT_WINDOW);
}

static void fetch_done(uv_work_t *w, int status)
{
    struct sl_conn *c = w->data;
    c->flags &= (uint8_t)~SL_CONN_FETCHING;
    if (c->state == SL_CONN_CLOSED) {
        if (c->flags & SL_CONN_POLL_CLOSED)
            conn_free(c);
        else
            conn_release_exchange(set_of(c), c);
        return;
    }
    /* The disk, not the client, was slow: that is progress for the send timeout. */
    list_enter(set_of(c), c, SL_LIST_SEND);
    conn_continue(c);
}

/* Reads [off, off + len) of fd in from the thread pool, the connection parked
 * meanwhile. False when no work could be queued (then send as before). */
static bool conn_fetch(struct sl_conn *c, struct sl_exchange *ex, int fd, uint64_t off,
                       uint64_t len)
{
    ex->fetch_fd = fd;
    ex->fetch_off = off;
    ex->fetch_len = len;
    ex->fetch.data = c;
    if (uv_queue_work(set_of(c)->loop, &ex->fetch, fetch_work, fetch_done) != 0)
        return false;
    c->flags |= SL_CONN_FETCHING;
    conn_watch(c, 0);
    return true;
}

enum window { WINDOW_OUT, WINDOW_UNKNOWN, WINDOW_IN, WINDOW_FETCHING };

/* Probes the window of fd (size bytes) that sending from off needs, and reads it in off
 * the loop when it is not in memory. A file up to one window is probed (and read in)
 * whole, a small one with a peek rather than a mapping where the file system allows
 * (a tar of small files probes one per member); a larger one window by window from off,
 * at most `left` bytes. r->lo and r->hi then cover what is known, or being brought, in;
 * all of the file when it cannot be told (no mmap here either: send as before). */
static enum window probe_window(struct sl_conn *c, struct sl_exchange *ex, struct sl_resident *r,
                                int fd, uint64_t size, uint64_t off, uint64_t left)
{
    uint64_t lo = 0, hi = size;
    if (size > SL_RESIDENT_WINDOW) {
        lo = off;
        hi = lo + (left < SL_RESIDENT_WINDOW ? left : SL_RESIDENT_WINDOW);
    }
    int rc = size <= SL_RESIDENT_PEEK_MAX ? sl_resident_peek(fd, 0, (size_t)size) : -EOPNOTSUPP;
    if (rc < 0) /* large, or no RWF_NOWAIT here (tmpfs, NFS, FUSE): mincore over a mapping */
        rc = sl_resident_probe(r, fd, size, lo, hi - lo);
    if (rc < 0) {
        lo = 0;
        hi = UINT64_MAX;
    }
    r->lo = lo;
    r->hi = hi;
    if (rc > 0)
        return WINDOW_IN;
    if (rc == 0)
        return conn_fetch(c, ex, fd, lo, hi - lo) ? WINDOW_FETCHING : WINDOW_OUT;
    return WINDOW_UNKNOWN;
}

/* Before a sendfile of `chunk` bytes of segment s: 0 to send, 1 when the bytes are being
 * read in first (SEND_FETCHING), -1 when the file is no longer the version whose length
 * and validators went out in the head. A file rewritten in place mid-download (same
 * inode and size: cp, an editor's in-place save) would otherwise reach the client as a
 * complete-looking body of mixed bytes; closing instead leaves a short body that the
 * client knows to retry (If-Range then restarts it cleanly). The check is one fstat
 * per call after the first, so a body sent in one call costs nothing more. */
static int file_ready(struct sl_conn *c, struct sl_exchange *ex, const struct sl_seg *s,
                      size_t chunk)
{
    if (ex->file_calls > 0 && sl_exchange_file_changed(ex))
        return -1;
    if (s->off >= ex->resident.lo && s->off + chunk <= ex->resident.hi)
        return 0;
    uint64_t now = uv_now(set_of(c)->loop);
    uint64_t size = (uint64_t)ex->file_size;
    struct sl_cache_entry *e = ex->pinned && ex->pinned->fd == ex->file_fd ? ex->pinned : NULL;
    if (e && e->incore_at != 0 && now - e->incore_at < RESIDENT_TRUST_MS) {
        ex->resident.lo = 0;
        ex->resident.hi = size;
        return 0;
    }
    switch (probe_window(c, ex, &ex->resident, ex->file_fd, size, s->off, s->len)) {
    case WINDOW_FETCHING: return 1;
    case WINDOW_IN:
        if (e && ex->resident.lo == 0 && ex->resident.hi == size)
            e->incore_at = now; /* a cached file probed whole: trusted for a while */
        return 0;
    default: return 0;
    }
}

/* Before sending from a produced body: its next chunk, produced when the last one is out,
 * and, for a file range, the file's window in memory. 0 to send, 1 when the bytes are
 * being read in first, -1 when the producer ended early or failed (like a file that
 * shrank, closing is the only honest move left). */
static int produced_ready(struct sl_conn *c, struct sl_exchange *ex)
{
    struct sl_producer *p = ex->plan.producer;
    struct sl_chunk *k = &p->chunk;
    if (k->len == 0 && (p->produce(p, k) != 0 || k->len == 0))
        return -1;
    if (k->mem || (k->off >= p->resident.lo && k->off + k->len <= p->resident.hi))
        return 0;
    /* No further than the member, nor than the range being sent (a ranged request). */
    uint64_t left = k->size - k->off, seg_left = ex->plan.segs[ex->seg].len;
    enum window w = probe_window(c, ex, &p->resident, k->fd, k->size, k->off,
                                 left < seg_left ? left : seg_left);
    return w == WINDOW_FETCHING ? 1 : 0;
}

static ssize_t send_file_part(struct sl_conn *c, struct sl_exchange *ex, size_t chunk)
{
    struct sl_seg *s = &ex->plan.segs[ex->seg];
    off_t off = (off_t)s->off;
    ssize_t sent;
    ex->file_calls++;
    do
        sent = sendfile(c->fd, ex->file_fd, &off, chunk);
    while (sent < 0 && errno == EINTR);
    if (sent == 0) {
        /* The file shrank after we promised its length: the only honest move left
         * is to close, so the client sees a short body instead of a wrong one. */
        errno = EPIPE;
        return -1;
    }
    if (sent > 0) {
        s->off += (uint64_t)sent;
        s->len -= (uint64_t)sent;
        if (s->len == 0)
            ex->seg++;
    }
    return sent;
}

/* The next bytes of a produced body (plan.h): what is left of the producer's chunk
 * (produced_ready made one), never past the segment (the length promised). Chunks
 * leave without MSG_MORE: corked, every chunk waits to fill a segment, and on loopback
 * a segment (64 KiB) is as large as TCP_NOTSENT_LOWAT lets queue, so the socket stopped
 * being writable until the 200 ms cork timer fired (a 2.5 MB listing took 2 s instead
 * of 20 ms). The head before the first chunk still goes with MSG_MORE. */
static ssize_t send_produced(struct sl_conn *c, struct sl_exchange *ex)
{
    struct sl_seg *s = &ex->plan.segs[ex->seg];
    struct sl_chunk *k = &ex->plan.producer->chunk;
    size_t want = (size_t)(k->len < s->len ? k->len : s->len);
    ssize_t sent;
    if (k->mem) {
        do
            sent = send(c->fd, k->mem, want, MSG_NOSIGNAL);
        while (sent < 0 && errno == EINTR);
    } else {
        off_t off = (off_t)k->off;
        do
            sent = sendfile(c->fd, k->fd, &off, want < SENDFILE_CHUNK ? want : SENDFILE_CHUNK);
        while (sent < 0 && errno == EINTR);
        if (sent == 0) {
            errno = EPIPE; /* the file shrank under the producer */
            return -1;
        }
    }
    if (sent <= 0)
        return sent;
    if (k->mem)
        k->mem += sent;
    k->off += (uint64_t)sent;
    k->len -= (uint64_t)sent;
    s->off += (uint64_t)sent;
    s->len -= (uint64_t)sent;
    if (s->len == 0)
        ex->seg++;
    return sent;
}

/* A segment without memory reads from the body file, or from the producer when there
 * is one: files keep their path, a produced body costs one test per segment sent. */
static enum send_result send_some(struct sl_conn *c, struct sl_exchange *ex)
{
    size_t budget = SEND_BUDGET;
    while (ex->seg < ex->plan.nsegs) {
        if (ex->plan.segs[ex->seg].len == 0) {
            ex->seg++;
            continue;
        }
        struct sl_seg *s = &ex->plan.segs[ex->seg];
        ssize_t n;
        if (seg_is_file(s) && ex->plan.producer) {
            int ready = produced_ready(c, ex);
            if (ready != 0)
                return ready > 0 ? SEND_FETCHING : SEND_FAILED;
            n = send_produced(c, ex);
        } else if (seg_is_file(s)) {
            size_t chunk = file_chunk(c, ex, s->len);
            int ready = file_ready(c, ex, s, chunk);
            if (ready != 0)
                return ready > 0 ? SEND_FETCHING : SEND_FAILED;
            n = send_file_part(c, ex, chunk);
        } else {
            n = send_memory(c, ex);
        }
        if (n < 0)
            return errno == EAGAIN ? SEND_AGAIN : SEND_FAILED;
        ex->sent += (uint64_t)n;
        /* Less than half a chunk of budget left ends the turn: a sendfile call rounded
         * down to a whole segment falls a little short of the budget and must not be
         * followed by a second one. */
        if ((size_t)n + SENDFILE_CHUNK / 2 > budget)
            return ex->seg < ex->plan.nsegs ? SEND_AGAIN : SEND_DONE;
        budget -= (size_t)n;
    }
    return SEND_DONE;
}

/* Returns true when the whole response is out; false when the connection waits for
 * writable or has been closed. */
static bool conn_send(struct sl_conn *c)
{
    struct sl_exchange *ex = c->ex;
    uint64_t before = ex->sent;
    enum send_result r = send_some(c, ex);
    /* Progress pushes the send deadline on, and a response's first wait (nothing sent
     * before it) is when it enters the send list (see conn_start_response). */
    if ((r == SEND_AGAIN || r == SEND_FETCHING) && (ex->sent != before || before == 0))
        list_enter(set_of(c), c, SL_LIST_SEND);
    switch (r) {
    case SEND_DONE: return true;
    case SEND_FAILED:
        /* EPIPE, ECONNRESET, a shrunken file: the client cannot get a correct response
         * on this connection any more. */
        sl_conn_close(c);
        return false;
    case SEND_FETCHING:
        /* Resumed by fetch_done once the bytes are in. */
        return false;
    case SEND_AGAIN:
        /* Drain-driven resumption: wait for writable, resume at the saved offsets.
         * UV_DISCONNECT is not watched: it is level-triggered after a half-close and
         * would fire on every loop turn; a real abort surfaces as an error. */
        conn_watch(c, UV_WRITABLE);
        return false;
    }
    return false;
}

/* ---- events ---- */

static void on_poll(uv_poll_t *handle, int status, int events)
{
    struct sl_conn *c = (struct sl_conn *)handle;
    if (status < 0) {
        sl_conn_close(c); /* socket error: the peer is gone */
        return;
    }
    switch (c->state) {
    case SL_CONN_READING:
    case SL_CONN_IDLE:
        if (events & UV_READABLE)
            conn_read(c);
        break;
    case SL_CONN_SENDING:
        if (events & UV_WRITABLE)
            conn_continue(c); /* drained: resume at the saved offsets */
        break;
    case SL_CONN_LINGERING:
    case SL_CONN_STREAMING: linger_drain(c); break;
    default: break;
    }
}

void sl_conn_sweep(struct sl_conn_set *set, uint64_t now)
{
    for (int id = 0; id < SL_LIST_COUNT; id++) {
        struct sl_conn *c;
        while ((c = conn_of(sl_list_first(&set->lists[id]))) != NULL && c->deadline <= now)
            sl_conn_close(c);
    }
}

unsigned sl_conn_sending(const struct sl_conn_set *set)
{
    unsigned n = 0;
    const struct sl_link *head = &set->lists[SL_LIST_SEND];
    for (const struct sl_link *l = sl_list_first(head); l; l = sl_list_next(head, l))
        n++;
    return n;
}

static void close_list(struct sl_conn_set *set, enum sl_list_id id)
{
    struct sl_conn *c;
    while ((c = conn_of(sl_list_first(&set->lists[id]))) != NULL)
        sl_conn_close(c);
}

/* A graceful stop refuses no client that is already connected: under a service manager
 * that holds the listening socket, the next process takes the clients still queued, so a
 * restart loses none, and these are the ones already accepted. */
static void stop_gracefully(struct sl_conn_set *set)
{
    /* Sending its request head: the client gets a short while to finish it. Shortening
     * each deadline to at most now + grace keeps the list in deadline order. */
    uint64_t grace = uv_now(set->loop) + STOP_HEAD_GRACE_MS;
    struct sl_link *head = &set->lists[SL_LIST_HEAD];
    for (struct sl_link *l = sl_list_first(head); l; l = sl_list_next(head, l)) {
        struct sl_conn *c = conn_of(l);
        if (c->deadline > grace)
            c->deadline = grace;
    }
    if (set->timeout_ms[SL_LIST_HEAD] > STOP_HEAD_GRACE_MS)
        set->timeout_ms[SL_LIST_HEAD] = STOP_HEAD_GRACE_MS;
    /* Kept alive between requests: a request that has already arrived is answered (with
     * Connection: close), the others close now; a client must be ready to retry on a
     * kept-alive connection that closes (RFC 9112 §9.3.1). */
    struct sl_conn *c;
    while ((c = conn_of(sl_list_first(&set->lists[SL_LIST_IDLE]))) != NULL) {
        conn_read(c); /* moves c to another list, or leaves it idle when nothing came */
        if (c->state == SL_CONN_IDLE)
            sl_conn_close(c);
    }
    /* Responses in flight finish and lingering closes run their course (a close with
     * unread input would reset the response); the stop's deadline bounds them all. */
}

/* Event streams never end on their own: a stop closes them at once (their script
 * reconnects to the next server). */
static void close_streams(struct sl_conn_set *set)
{
    struct sl_conn *c;
    while ((c = conn_of(sl_list_first(&set->streams))) != NULL)
        sl_conn_close(c);
}

void sl_conn_stop_all(struct sl_conn_set *set, bool force)
{
    bool first = !set->stopping;
    set->stopping = true;
    close_streams(set);
    if (!force) {
        if (first)
            stop_gracefully(set);
        return;
    }
    for (int id = 0; id < SL_LIST_COUNT; id++)
        close_list(set, id);
}
