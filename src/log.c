/* Access log. Everything the client controls is escaped before it reaches the log, so
 * a request cannot forge log lines or smuggle terminal escapes. */
#include "sluice/log.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int sl_log_init(struct sl_log *log, int fd)
{
    *log = (struct sl_log){.fd = fd, .stamp_sec = -1};
    if (fd < 0)
        return 0;
    log->buf = malloc(SL_LOG_BUF);
    return log->buf ? 0 : -ENOMEM;
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
    size_t off = 0;
    while (off < log->len) {
        ssize_t n = write(log->fd, log->buf + off, whole_lines(log->buf + off, log->len - off));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* a full disk or closed pipe must not stop the server: drop the lines */
        off += (size_t)n;
    }
    log->len = 0;
}

void sl_log_free(struct sl_log *log)
{
    if (log->fd >= 0)
        sl_log_flush(log);
    free(log->buf);
    log->buf = NULL;
}

static void put(struct sl_log *log, const char *s, size_t n)
{
    if (n > SL_LOG_BUF - log->len)
        n = SL_LOG_BUF - log->len;
    memcpy(log->buf + log->len, s, n);
    log->len += n;
}

/* Copies a client-supplied string, \xHH-escaping quotes, backslashes and anything that
 * is not printable ASCII (as nginx does in its access log). */
static void put_escaped(struct sl_log *log, struct sl_str s)
{
    for (size_t i = 0; i < s.n; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if (sl_is_print_ascii(c) && c != '"' && c != '\\') {
            put(log, (const char *)&c, 1);
        } else {
            char esc[4] = {'\\', 'x'};
            sl_hex_byte(esc + 2, c, true);
            put(log, esc, 4);
        }
    }
}

/* A header field, or "-" when the request had none (Combined Log Format). */
static void put_field(struct sl_log *log, struct sl_str s, size_t limit)
{
    if (s.p == NULL) {
        put(log, "-", 1);
        return;
    }
    put_escaped(log, (struct sl_str){s.p, s.n > limit ? limit : s.n});
}

static void update_stamp(struct sl_log *log, time_t now)
{
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;
    gmtime_r(&now, &tm);
    snprintf(log->stamp, sizeof(log->stamp), "[%02d/%s/%04d:%02d:%02d:%02d +0000]", tm.tm_mday,
             months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    log->stamp_sec = now;
}

/* The longest line we write: escaping can quadruple the (cut) target and agents. */
#define LINE_MAX_BYTES (4 * 4096 + 2 * 4 * 1024 + 256)

void sl_log_request(struct sl_log *log, time_t now, const struct sl_log_entry *e)
{
    if (log->fd < 0)
        return;
    if (SL_LOG_BUF - log->len < LINE_MAX_BYTES)
        sl_log_flush(log);
    if (now != log->stamp_sec)
        update_stamp(log, now);
    char num[96];
    int n = snprintf(num, sizeof(num), "%s - - ", e->peer);
    put(log, num, (size_t)n);
    put(log, log->stamp, strlen(log->stamp));
    put(log, " \"", 2);
    put_escaped(log, e->method);
    put(log, " ", 1);
    put_field(log, e->target, 4096);
    n = snprintf(num, sizeof(num), " HTTP/%u.%u\" %d %llu \"", e->http_major, e->http_minor,
                 e->status, (unsigned long long)e->bytes);
    put(log, num, (size_t)n);
    put_field(log, e->referer, 1024);
    put(log, "\" \"", 3);
    put_field(log, e->user_agent, 1024);
    put(log, "\"\n", 2);
}
