/* Access log, in Combined Log Format or as JSON lines. Everything the client controls is
 * escaped before it reaches the log, so a request cannot forge log lines or smuggle
 * terminal escapes. */
#include "sluice/log.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include "sluice/encode.h"

int sl_log_init(struct sl_log *log, int fd, bool json)
{
    *log = (struct sl_log){.fd = fd, .json = json, .stamp_sec = -1};
    if (fd < 0)
        return 0;
    log->buf = sl_buf_make(malloc(SL_LOG_BUF), SL_LOG_BUF);
    return log->buf.p ? 0 : -ENOMEM;
}

/* The longest run of whole lines from `p` that fits in PIPE_BUF bytes (or one line, if
 * longer): a write of at most PIPE_BUF bytes to a pipe is atomic, so lines from several
 * loops sharing stdout never interleave mid-line. */
static size_t whole_lines(const char *p, size_t len)
{
    if (len <= PIPE_BUF)
        return len;
    for (size_t n = PIPE_BUF; n > 0; n--) {
        if (p[n - 1] == '\n')
            return n;
    }
    const char *nl = memchr(p, '\n', len);
    return nl ? (size_t)(nl - p) + 1 : len;
}

void sl_log_flush(struct sl_log *log)
{
    const char *p = log->buf.p;
    size_t off = 0;
    while (off < log->buf.len) {
        ssize_t n = write(log->fd, p + off, whole_lines(p + off, log->buf.len - off));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* a full disk or closed pipe must not stop the server: drop the lines */
        off += (size_t)n;
    }
    sl_buf_truncate(&log->buf, 0);
}

void sl_log_free(struct sl_log *log)
{
    if (log->fd >= 0)
        sl_log_flush(log);
    free(log->buf.p);
    log->buf = sl_buf_make(NULL, 0);
}

/* Copies a client-supplied string, \\xHH-escaping quotes, backslashes and anything that
 * is not printable ASCII (as nginx does in its access log). */
static void put_escaped(struct sl_buf *b, struct sl_str s)
{
    for (size_t i = 0; i < s.n; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if (sl_is_print_ascii(c) && c != '"' && c != '\\') {
            sl_buf_putc(b, (char)c);
        } else {
            char esc[4] = {'\\', 'x'};
            sl_hex_byte(esc + 2, c, true);
            sl_buf_append(b, esc, 4);
        }
    }
}

/* The first `limit` bytes of s at most. */
static struct sl_str cut(struct sl_str s, size_t limit)
{
    return (struct sl_str){s.p, s.n > limit ? limit : s.n};
}

/* A header field, or "-" when the request had none (Combined Log Format). */
static void put_field(struct sl_buf *b, struct sl_str s, size_t limit)
{
    if (s.p == NULL) {
        sl_buf_putc(b, '-');
        return;
    }
    put_escaped(b, cut(s, limit));
}

/* " HTTP/1.1\" 200 1234 \"" */
static void put_version_status_bytes(struct sl_buf *b, const struct sl_log_entry *e)
{
    sl_buf_puts(b, " HTTP/");
    sl_buf_put_u64(b, e->http_major);
    sl_buf_putc(b, '.');
    sl_buf_put_u64(b, e->http_minor);
    sl_buf_puts(b, "\" ");
    sl_buf_put_u64(b, (uint64_t)e->status); /* an HTTP status: never negative */
    sl_buf_putc(b, ' ');
    sl_buf_put_u64(b, e->bytes);
    sl_buf_puts(b, " \"");
}

/* Longest value kept of each client-supplied field (a longer one is cut). */
#define TARGET_KEPT 4096
#define HEADER_KEPT 1024
/* The longest line we write: escaping can make one byte six (a control character as
 * \u00XX in JSON; \xHH is four in the Combined Log Format), plus the fixed parts. */
#define LINE_MAX_BYTES (6 * (TARGET_KEPT + 2 * HEADER_KEPT) + 512)

/* host - - [day/Mon/year:hh:mm:ss +0000] "GET /x HTTP/1.1" 200 1234 "referer" "agent" */
static void put_combined(struct sl_buf *b, const char *stamp, const struct sl_log_entry *e)
{
    sl_buf_puts(b, e->peer);
    sl_buf_puts(b, " - - [");
    sl_buf_append(b, stamp, SL_LOGDATE_LEN);
    sl_buf_puts(b, "] \"");
    put_escaped(b, e->method);
    sl_buf_putc(b, ' ');
    put_field(b, e->target, TARGET_KEPT);
    put_version_status_bytes(b, e);
    put_field(b, e->referer, HEADER_KEPT);
    sl_buf_puts(b, "\" \"");
    put_field(b, e->user_agent, HEADER_KEPT);
    sl_buf_puts(b, "\"\n");
}

/* ,"name":"value" (RFC 8259 escaping), or ,"name":null for an absent field. */
static void put_json_member(struct sl_buf *b, const char *name, struct sl_str s, size_t limit)
{
    sl_buf_puts(b, ",\"");
    sl_buf_puts(b, name);
    if (s.p == NULL) {
        sl_buf_puts(b, "\":null");
        return;
    }
    sl_buf_puts(b, "\":\"");
    s = cut(s, limit);
    sl_json_escape_buf(b, s.p, s.n);
    sl_buf_putc(b, '"');
}

/* The same fields as one JSON object a line, for log pipelines; the time in RFC 3339. */
static void put_json(struct sl_buf *b, const char *stamp, const struct sl_log_entry *e)
{
    sl_buf_puts(b, "{\"time\":\"");
    sl_buf_puts(b, stamp);
    sl_buf_putc(b, '"');
    put_json_member(b, "remote_addr", sl_str_cstr(e->peer), SIZE_MAX);
    put_json_member(b, "method", e->method, SIZE_MAX);
    put_json_member(b, "target", e->target, TARGET_KEPT);
    sl_buf_puts(b, ",\"protocol\":\"HTTP/");
    sl_buf_put_u64(b, e->http_major);
    sl_buf_putc(b, '.');
    sl_buf_put_u64(b, e->http_minor);
    sl_buf_puts(b, "\",\"status\":");
    sl_buf_put_u64(b, (uint64_t)e->status);
    sl_buf_puts(b, ",\"bytes\":");
    sl_buf_put_u64(b, e->bytes);
    put_json_member(b, "referer", e->referer, HEADER_KEPT);
    put_json_member(b, "user_agent", e->user_agent, HEADER_KEPT);
    sl_buf_puts(b, "}\n");
}

_Static_assert(SL_RFC3339_LEN <= SL_LOGDATE_LEN, "both stamps fit in sl_log.stamp");

/* The time stamp of this second, formatted once a second in the log's format. */
static const char *stamp(struct sl_log *log, time_t now)
{
    if (now != log->stamp_sec) {
        if (!log->json)
            sl_logdate_format(now, log->stamp);
        else if (!sl_rfc3339_format(now, log->stamp))
            memcpy(log->stamp, "0000-00-00T00:00:00Z", SL_RFC3339_LEN + 1);
        log->stamp_sec = now;
    }
    return log->stamp;
}

void sl_log_request(struct sl_log *log, time_t now, const struct sl_log_entry *e)
{
    if (log->fd < 0)
        return;
    if (SL_LOG_BUF - log->buf.len < LINE_MAX_BYTES)
        sl_log_flush(log);
    struct sl_buf *b = &log->buf;
    size_t start = b->len;
    if (log->json)
        put_json(b, stamp(log, now), e);
    else
        put_combined(b, stamp(log, now), e);
    /* Cannot happen while LINE_MAX_BYTES bounds a line; if it did, a cut line would run
     * into the next one, so the whole line is dropped instead. */
    if (b->overflow)
        sl_buf_truncate(b, start);
}
