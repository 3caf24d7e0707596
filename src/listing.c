/* Directory listings (see listing.h): sl_listing_read does the I/O, reading one directory
 * into a sorted array whose names share one allocation; the renderers are pure and write
 * HTML or JSON into a growing buffer. */

#include "sluice/listing.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sluice/beneath.h"
#include "sluice/encode.h"

/* ---- reading ---- */

/* Entries and names as they accumulate. The names buffer moves when it grows, so while
 * reading an entry's `name` stays NULL; names are stored back to back, each followed by a
 * NUL, in entry order, and read_finish points each entry at its name in one pass. */
struct reader {
    struct sl_listing_entry *entries;
    size_t count;
    size_t entries_cap;
    char *names;
    size_t names_len;
    size_t names_cap;
};

/* Grows *p (holding elements of `size` bytes, capacity *cap) to hold at least `need`,
 * doubling so that n additions cost O(n) copying in total. */
static int grow(void **p, size_t *cap, size_t need, size_t size, size_t initial)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap > 0 ? *cap : initial;
    while (n < need) {
        if (n > SIZE_MAX / 2)
            return -ENOMEM;
        n *= 2;
    }
    if (n > SIZE_MAX / size)
        return -ENOMEM;
    void *q = realloc(*p, n * size);
    if (!q)
        return -ENOMEM;
    *p = q;
    *cap = n;
    return 0;
}

static bool skip_name(const char *name, bool show_dotfiles)
{
    if (name[0] != '.')
        return false;
    if (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'))
        return true;
    return !show_dotfiles;
}

static int read_add(struct reader *r, const char *name, const struct stat *st)
{
    size_t len = strlen(name);
    void *entries = r->entries;
    void *names = r->names;
    int err = grow(&entries, &r->entries_cap, r->count + 1, sizeof(*r->entries), 64);
    r->entries = entries;
    if (err == 0)
        err = grow(&names, &r->names_cap, r->names_len + len + 1, 1, 4096);
    r->names = names;
    if (err)
        return err;

    memcpy(r->names + r->names_len, name, len + 1);
    r->names_len += len + 1;
    r->entries[r->count++] = (struct sl_listing_entry){
        .name = NULL,
        .name_len = len,
        .is_dir = S_ISDIR(st->st_mode),
        .size = st->st_size > 0 ? (uint64_t)st->st_size : 0,
        .mtime = st->st_mtim.tv_sec,
    };
    return 0;
}

/* Directories first, then byte-wise: strcmp compares as unsigned char, and names hold no
 * NUL, so this is the byte order whatever the locale. */
static int entry_cmp(const void *a, const void *b)
{
    const struct sl_listing_entry *x = a;
    const struct sl_listing_entry *y = b;
    if (x->is_dir != y->is_dir)
        return x->is_dir ? -1 : 1;
    return strcmp(x->name, y->name);
}

static void read_finish(struct reader *r, struct sl_listing *out)
{
    char *p = r->names;
    for (size_t i = 0; i < r->count; i++) {
        r->entries[i].name = p;
        p += r->entries[i].name_len + 1;
    }
    if (r->count > 1)
        qsort(r->entries, r->count, sizeof(*r->entries), entry_cmp);
    *out = (struct sl_listing){.entries = r->entries, .count = r->count, .names = r->names};
}

/* A symlink is listed only when the router would serve it: resolved beneath the root,
 * so a link leading outside neither shows its target's size and time nor appears as a
 * dead link. */
static bool stat_link_beneath(int dirfd, const char *name, int root_fd, const char *rel,
                              struct stat *st)
{
    if (fstatat(dirfd, name, st, AT_SYMLINK_NOFOLLOW) != 0)
        return false;
    if (!S_ISLNK(st->st_mode))
        return true;
    if (root_fd < 0)
        return fstatat(dirfd, name, st, 0) == 0;
    char path[4096 + 256 + 2];
    int n = snprintf(path, sizeof(path), "%s%s%s", rel, rel[0] ? "/" : "", name);
    if (n < 0 || (size_t)n >= sizeof(path))
        return false;
    int fd = sl_open_beneath(root_fd, path, O_PATH | O_CLOEXEC);
    if (fd < 0)
        return false;
    bool ok = fstat(fd, st) == 0;
    close(fd);
    return ok;
}

int sl_listing_read(int dirfd, int root_fd, const char *rel, bool show_dotfiles,
                    struct sl_listing *out)
{
    *out = (struct sl_listing){0};

    /* closedir closes the descriptor fdopendir was given, and the caller keeps dirfd, so
     * the DIR gets a duplicate of its own. */
    int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    DIR *dir = fdopendir(fd);
    if (!dir) {
        int err = -errno;
        close(fd);
        return err;
    }
    /* A dup shares the file offset with dirfd, which may have been read before. */
    rewinddir(dir);

    struct reader r = {0};
    int err = 0;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(dir);
        if (!de) {
            err = -errno; /* 0 at the end of the directory */
            break;
        }
        if (skip_name(de->d_name, show_dotfiles))
            continue;
        /* Following symlinks shows what a client would get; a name that vanished since
         * readdir, a dangling link or one we may not stat is simply left out. */
        struct stat st;
        if (de->d_type == DT_LNK || de->d_type == DT_UNKNOWN) {
            if (!stat_link_beneath(fd, de->d_name, root_fd, rel, &st))
                continue;
        } else if (fstatat(fd, de->d_name, &st, 0) != 0) {
            continue;
        }
        err = read_add(&r, de->d_name, &st);
        if (err)
            break;
    }
    closedir(dir);

    if (err) {
        free(r.entries);
        free(r.names);
        return err;
    }
    read_finish(&r, out);
    return 0;
}

void sl_listing_free(struct sl_listing *l)
{
    free(l->entries);
    free(l->names);
    *l = (struct sl_listing){0};
}

/* ---- human-readable sizes ---- */

void sl_human_size(uint64_t bytes, char out[16])
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    const size_t last = sizeof(units) / sizeof(units[0]) - 1;

    if (bytes < 1024) {
        snprintf(out, 16, "%u B", (unsigned)bytes);
        return;
    }
    size_t u = 1;
    uint64_t d = 1024;
    while (u < last && bytes / d >= 1024) {
        d *= 1024;
        u++;
    }
    /* Integer arithmetic throughout: no floating-point rounding surprises, and no
     * overflow (rem * 10 < 10 * 2^60 < 2^64). */
    uint64_t whole = bytes / d;
    uint64_t rem = bytes % d;
    if (whole < 10) {
        uint64_t tenths = whole * 10 + (rem * 10 + d / 2) / d;
        if (tenths < 100) {
            snprintf(out, 16, "%u.%u %s", (unsigned)(tenths / 10), (unsigned)(tenths % 10),
                     units[u]);
            return;
        }
        /* 9.95 and up rounds to 10: shown without a decimal below. */
    }
    whole += rem >= d - rem; /* round half up without overflowing */
    if (whole >= 1024 && u < last) {
        snprintf(out, 16, "1.0 %s", units[u + 1]); /* 1023.5 KiB and up is 1.0 MiB */
        return;
    }
    snprintf(out, 16, "%u %s", (unsigned)whole, units[u]);
}

/* ---- rendering ---- */

/* A growing output buffer. It always has room for a NUL; after a failed allocation it
 * ignores further output and buf_take returns NULL, so renderers check once, at the end. */
struct buf {
    char *p;
    size_t len;
    size_t cap;
    bool oom;
};

typedef size_t (*escape_fn)(char *out, size_t cap, const char *s, size_t len);

static void buf_init(struct buf *b, size_t cap)
{
    *b = (struct buf){.p = malloc(cap), .cap = cap};
    b->oom = b->p == NULL;
}

/* Makes room for n more bytes plus the NUL. */
static bool buf_reserve(struct buf *b, size_t n)
{
    if (b->oom)
        return false;
    if (n < b->cap - b->len)
        return true;
    if (n > SIZE_MAX / 4 - b->len) {
        b->oom = true;
        return false;
    }
    size_t cap = b->cap;
    while (cap - b->len <= n)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = true;
        return false;
    }
    b->p = p;
    b->cap = cap;
    return true;
}

static void buf_put(struct buf *b, const char *s, size_t n)
{
    if (!buf_reserve(b, n))
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void buf_puts(struct buf *b, const char *s)
{
    buf_put(b, s, strlen(s));
}

/* Escapes straight into the free space; only when that is too small (the escape
 * reports the length it needed, like snprintf) grows and escapes again. */
static void buf_escape(struct buf *b, escape_fn escape, const char *s, size_t n)
{
    if (b->oom)
        return;
    size_t room = b->cap - b->len;
    size_t need = escape(b->p + b->len, room, s, n);
    if (need >= room) {
        if (!buf_reserve(b, need))
            return;
        escape(b->p + b->len, b->cap - b->len, s, n);
    }
    b->len += need;
}

/* An initial capacity guess that cannot overflow; bigger listings grow by doubling. */
static size_t size_hint(size_t count)
{
    return count < 65536 ? count : 65536;
}

static char *buf_take(struct buf *b, size_t *len)
{
    if (b->oom) {
        free(b->p);
        return NULL;
    }
    b->p[b->len] = '\0';
    *len = b->len;
    return b->p;
}

/* Formats t in UTC as "2026-11-23 18:52" (html) or "2026-11-23T18:52:40Z" (RFC 3339).
 * Returns false when the year does not fit in four digits, which RFC 3339 requires. */
static bool format_time(time_t t, bool rfc3339, char out[64])
{
    struct tm tm;
    if (!gmtime_r(&t, &tm) || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900)
        return false;
    if (rfc3339)
        snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    else
        snprintf(out, 64, "%04d-%02d-%02d %02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                 tm.tm_hour, tm.tm_min);
    return true;
}

/* System fonts and colours from the browser's own palette for both schemes; names may be
 * long, so they wrap anywhere instead of pushing the size and date off a phone screen. */
static const char html_style[] =
    ":root{color-scheme:light dark;--fg:#1f2328;--bg:#fff;--muted:#59636e;--line:#d1d9e0;"
    "--link:#0969da;--hover:#f6f8fa}\n"
    "@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--bg:#0d1117;--muted:#9198a1;"
    "--line:#3d444d;--link:#4493f8;--hover:#151b23}}\n"
    "*{box-sizing:border-box}\n"
    "body{margin:0;color:var(--fg);background:var(--bg);"
    "font:15px/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif}\n"
    "main{max-width:60rem;margin:0 auto;padding:1rem}\n"
    "h1{font-size:1.25rem;font-weight:600;margin:.5rem 0 1rem;overflow-wrap:anywhere}\n"
    "table{width:100%;border-collapse:collapse}\n"
    "th,td{padding:.4rem .5rem;border-bottom:1px solid var(--line);text-align:left;"
    "vertical-align:top}\n"
    "th{font-weight:600;color:var(--muted)}\n"
    "td.name{overflow-wrap:anywhere}\n"
    ".size,.time{white-space:nowrap;color:var(--muted);font-variant-numeric:tabular-nums}\n"
    ".size{text-align:right}\n"
    "tbody tr:hover{background:var(--hover)}\n"
    "a{color:var(--link);text-decoration:none}\n"
    "a:hover{text-decoration:underline}\n"
    "tr.dir a{font-weight:600}\n"
    "footer{margin-top:1rem;font-size:.8rem;color:var(--muted)}\n"
    "@media (max-width:30rem){body{font-size:14px}main{padding:.5rem}"
    "th,td{padding:.35rem .25rem}}\n";

/* U+2014 EM DASH, the size shown for directories. */
static const char em_dash[] = "\xe2\x80\x94";

static bool is_root(const char *url_path)
{
    return url_path[0] == '\0' || strcmp(url_path, "/") == 0;
}

static void html_head(struct buf *b, const char *url_path)
{
    buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                "<meta name=\"color-scheme\" content=\"light dark\">\n<title>Index of ");
    buf_escape(b, sl_html_escape, url_path, strlen(url_path));
    buf_puts(b, "</title>\n<style>\n");
    buf_put(b, html_style, sizeof(html_style) - 1);
    buf_puts(b, "</style>\n</head>\n<body>\n<main>\n<h1>Index of ");
    buf_escape(b, sl_html_escape, url_path, strlen(url_path));
    buf_puts(b, "</h1>\n<table>\n<thead><tr><th>Name</th><th class=\"size\">Size</th>"
                "<th class=\"time\">Modified</th></tr></thead>\n<tbody>\n");
}

/* Links are relative so they work behind any path prefix, and start with "./" so that a
 * name such as "javascript:alert(1)" (':' is legal in a segment and kept unencoded) is a
 * path, never a URL scheme (RFC 3986 §4.2). */
static void html_row(struct buf *b, const struct sl_listing_entry *e)
{
    char text[64];
    buf_puts(b, e->is_dir ? "<tr class=\"dir\"><td class=\"name\"><a href=\"./"
                          : "<tr><td class=\"name\"><a href=\"./");
    buf_escape(b, sl_pct_encode_segment, e->name, e->name_len);
    buf_puts(b, e->is_dir ? "/\">" : "\">");
    buf_escape(b, sl_html_escape, e->name, e->name_len);
    buf_puts(b, e->is_dir ? "/</a></td>" : "</a></td>");

    if (e->is_dir) {
        buf_puts(b, "<td class=\"size\">");
        buf_puts(b, em_dash);
    } else {
        snprintf(text, sizeof(text), "<td class=\"size\" title=\"%" PRIu64 " bytes\">", e->size);
        buf_puts(b, text);
        sl_human_size(e->size, text);
        buf_puts(b, text);
    }
    buf_puts(b, "</td><td class=\"time\">");
    if (format_time(e->mtime, true, text)) {
        buf_puts(b, "<time datetime=\"");
        buf_puts(b, text);
        buf_puts(b, "\">");
        format_time(e->mtime, false, text);
        buf_puts(b, text);
        buf_puts(b, "</time>");
    }
    buf_puts(b, "</td></tr>\n");
}

char *sl_listing_html(const struct sl_listing *l, const char *url_path, size_t *len)
{
    struct buf b;
    /* About 250 bytes a row: most listings render without growing the buffer. */
    buf_init(&b, 4096 + size_hint(l->count) * 256);
    html_head(&b, url_path);
    if (!is_root(url_path))
        buf_puts(&b, "<tr class=\"up\"><td class=\"name\" colspan=\"3\">"
                     "<a href=\"../\">Parent directory</a></td></tr>\n");
    for (size_t i = 0; i < l->count; i++)
        html_row(&b, &l->entries[i]);
    if (l->count == 0)
        buf_puts(&b, "<tr><td colspan=\"3\">This directory is empty.</td></tr>\n");
    buf_puts(&b, "</tbody>\n</table>\n<footer>sluice</footer>\n</main>\n</body>\n</html>\n");
    return buf_take(&b, len);
}

static void json_entry(struct buf *b, const struct sl_listing_entry *e)
{
    char text[96];
    buf_puts(b, "{\"name\":\"");
    buf_escape(b, sl_json_escape, e->name, e->name_len);
    snprintf(text, sizeof(text),
             "\",\"type\":\"%s\",\"size\":%" PRIu64 ",\"mtime\":", e->is_dir ? "directory" : "file",
             e->size);
    buf_puts(b, text);
    if (format_time(e->mtime, true, text)) {
        buf_puts(b, "\"");
        buf_puts(b, text);
        buf_puts(b, "\"}");
    } else {
        buf_puts(b, "null}"); /* outside years 0000-9999: no valid RFC 3339 form */
    }
}

char *sl_listing_json(const struct sl_listing *l, const char *url_path, size_t *len)
{
    struct buf b;
    buf_init(&b, 256 + size_hint(l->count) * 128);
    buf_puts(&b, "{\"path\":\"");
    buf_escape(&b, sl_json_escape, url_path, strlen(url_path));
    buf_puts(&b, "\",\"entries\":[");
    for (size_t i = 0; i < l->count; i++) {
        if (i > 0)
            buf_puts(&b, ",");
        json_entry(&b, &l->entries[i]);
    }
    buf_puts(&b, "]}");
    return buf_take(&b, len);
}
