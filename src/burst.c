/* Burst coalescing for live reload (see burst.h). Pure. */
#include "sluice/burst.h"

#include <string.h>
#include <strings.h>

#include "sluice/buf.h"
#include "sluice/encode.h"

void sl_burst_init(struct sl_burst *b)
{
    b->pending = false;
    b->reload = false;
    b->css_all = false;
    b->first_ms = b->last_ms = 0;
    b->css_len = 0;
}

static void note(struct sl_burst *b, uint64_t now)
{
    if (!b->pending) {
        b->pending = true;
        b->first_ms = now;
    }
    b->last_ms = now;
}

static bool has_suffix(const char *s, size_t len, const char *suffix)
{
    size_t n = strlen(suffix);
    return len >= n && strncasecmp(s + len - n, suffix, n) == 0;
}

/* Adds "/rel" to the stylesheets named, once; past the room, "all of them". */
static void add_css(struct sl_burst *b, const char *rel, size_t len)
{
    char one[SL_BURST_CSS_MAX];
    struct sl_buf e = sl_buf_make(one, sizeof(one));
    sl_buf_puts(&e, "\"/");
    sl_json_escape_buf(&e, rel, len);
    sl_buf_puts(&e, "\"");
    if (e.overflow) {
        b->css_all = true;
        return;
    }
    if (memmem(b->css, b->css_len, one, e.len))
        return;
    size_t need = e.len + (b->css_len ? 1 : 0);
    if (b->css_len + need > sizeof(b->css)) {
        b->css_all = true;
        return;
    }
    if (b->css_len)
        b->css[b->css_len++] = ',';
    memcpy(b->css + b->css_len, one, e.len);
    b->css_len += e.len;
}

void sl_burst_add(struct sl_burst *b, uint64_t now, const char *rel, size_t len)
{
    if (len == 0 || rel[len - 1] == '~')
        return;
    note(b, now);
    if (b->reload)
        return;
    if (has_suffix(rel, len, ".css"))
        add_css(b, rel, len);
    else
        b->reload = true;
}

void sl_burst_add_reload(struct sl_burst *b, uint64_t now)
{
    note(b, now);
    b->reload = true;
}

uint64_t sl_burst_due(const struct sl_burst *b)
{
    if (!b->pending)
        return SL_BURST_NONE;
    uint64_t quiet = b->last_ms + SL_BURST_QUIET_MS;
    uint64_t latest = b->first_ms + SL_BURST_MAX_MS;
    return quiet < latest ? quiet : latest;
}

size_t sl_burst_take(struct sl_burst *b, uint64_t now, char *out, size_t cap)
{
    if (!b->pending || now < sl_burst_due(b) || cap < SL_BURST_MSG_MAX)
        return 0;
    /* SSE (HTML §9.2): an event needs a data line to be dispatched at all. */
    struct sl_buf m = sl_buf_make(out, cap);
    if (b->reload) {
        sl_buf_puts(&m, "event: reload\ndata: 1\n\n");
    } else {
        sl_buf_puts(&m, "event: css\ndata: [");
        if (!b->css_all)
            sl_buf_append(&m, b->css, b->css_len);
        sl_buf_puts(&m, "]\n\n");
    }
    sl_burst_init(b);
    return m.overflow ? 0 : m.len;
}
