/* Connection state machine on a non-blocking socket watched by one uv_poll_t.
 *
 *   IDLE --bytes--> READING --head complete--> SENDING --done--> READING (pipelined
 *   bytes buffered) | IDLE (keep-alive) | LINGERING (closing) --EOF/deadline--> CLOSED
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

static void on_closed(uv_handle_t *handle)
{
    struct sl_conn *c = (struct sl_conn *)handle;
    struct sl_conn_set *set = set_of(c);
    close(c->fd);
    free(c);
    set->count--;
    set->gone(set->gone_arg);
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
    conn_release_exchange(set, c);
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

static void conn_log(struct sl_conn *c, struct sl_exchange *ex)
{
    struct sl_conn_set *set = set_of(c);
    if (set->log->fd < 0)
        return;
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
    sl_exchange_end_response(c->ex, set->responder.cache);
    size_t left = sl_exchange_next_request(c->ex);
    if (left == 0) {
        conn_release_exchange(set, c);
        c->state = SL_CONN_IDLE;
        list_enter(set, c, SL_LIST_IDLE);
        conn_watch(c, UV_READABLE);
        return false;
    }
    c->state = SL_CONN_READING;
    list_enter(set, c, SL_LIST_HEAD);
    conn_watch(c, UV_READABLE);
    return conn_parse(c, left);
}

static void conn_start_response(struct sl_conn *c)
{
    c->state = SL_CONN_SENDING;
    c->ex->seg = 0;
    c->ex->sent = 0;
    c->ex->mss = 0;
    list_enter(set_of(c), c, SL_LIST_SEND);
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
        n = read(c->fd, ex->in + ex->in_len, sizeof(ex->in) - ex->in_len);
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
    if (c->state == SL_CONN_IDLE) {
        /* The first byte of a new request starts its head deadline. */
        c->state = SL_CONN_READING;
        list_enter(set, c, SL_LIST_HEAD);
    }
    ex->in_len += (size_t)n;
    if (conn_parse(c, (size_t)n))
        conn_respond(c);
}

/* ---- sending ---- */

enum send_result { SEND_DONE, SEND_AGAIN, SEND_FAILED };

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
    unsigned i = ex->seg;
    for (; i < ex->plan.nsegs && !seg_is_file(&ex->plan.segs[i]); i++, n++) {
        iov[n].iov_base = (void *)(ex->plan.segs[i].mem + ex->plan.segs[i].off);
        iov[n].iov_len = ex->plan.segs[i].len;
    }
    bool more = i < ex->plan.nsegs;
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)n};
    ssize_t sent;
    do
        sent = sendmsg(c->fd, &msg, MSG_NOSIGNAL | (more ? MSG_MORE : 0));
    while (sent < 0 && errno == EINTR);
    if (sent <= 0)
        return sent;
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

static ssize_t send_file_part(struct sl_conn *c, struct sl_exchange *ex)
{
    struct sl_seg *s = &ex->plan.segs[ex->seg];
    size_t chunk = file_chunk(c, ex, s->len);
    off_t off = (off_t)s->off;
    ssize_t sent;
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

/* The next bytes of a produced body (plan.h): what is left of the producer's last chunk,
 * or its next one, never past the segment (the length promised). A producer that ends
 * early or fails, like a file that shrank, leaves closing as the only honest move.
 * Chunks leave without MSG_MORE: corked, every chunk waits to fill a segment, and on
 * loopback a segment (64 KiB) is as large as TCP_NOTSENT_LOWAT lets queue, so the socket
 * stopped being writable until the 200 ms cork timer fired (a 2.5 MB listing took 2 s
 * instead of 20 ms). The head before the first chunk still goes with MSG_MORE. */
static ssize_t send_produced(struct sl_conn *c, struct sl_exchange *ex)
{
    struct sl_seg *s = &ex->plan.segs[ex->seg];
    struct sl_producer *p = ex->plan.producer;
    struct sl_chunk *k = &p->chunk;
    if (k->len == 0 && (p->produce(p, k) != 0 || k->len == 0)) {
        errno = EPIPE;
        return -1;
    }
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
static ssize_t send_body_part(struct sl_conn *c, struct sl_exchange *ex)
{
    return ex->plan.producer ? send_produced(c, ex) : send_file_part(c, ex);
}

static enum send_result send_some(struct sl_conn *c, struct sl_exchange *ex)
{
    size_t budget = SEND_BUDGET;
    while (ex->seg < ex->plan.nsegs) {
        if (ex->plan.segs[ex->seg].len == 0) {
            ex->seg++;
            continue;
        }
        ssize_t n =
            seg_is_file(&ex->plan.segs[ex->seg]) ? send_body_part(c, ex) : send_memory(c, ex);
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
    switch (send_some(c, ex)) {
    case SEND_DONE: return true;
    case SEND_FAILED:
        /* EPIPE, ECONNRESET, a shrunken file: the client cannot get a correct response
         * on this connection any more. */
        sl_conn_close(c);
        return false;
    case SEND_AGAIN:
        /* Drain-driven resumption: wait for writable, resume at the saved offsets.
         * UV_DISCONNECT is not watched: it is level-triggered after a half-close and
         * would fire on every loop turn; a real abort surfaces as an error. */
        if (ex->sent != before)
            list_enter(set_of(c), c, SL_LIST_SEND);
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
    case SL_CONN_LINGERING: linger_drain(c); break;
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

void sl_conn_stop_all(struct sl_conn_set *set, bool force)
{
    set->stopping = true;
    for (int id = 0; id < SL_LIST_COUNT; id++) {
        if (id == SL_LIST_SEND && !force)
            continue; /* responses in flight may finish; they close afterwards */
        struct sl_conn *c;
        while ((c = conn_of(sl_list_first(&set->lists[id]))) != NULL)
            sl_conn_close(c);
    }
}
