/* Directory listings (see listing.h): sl_listing_read does the I/O, reading one directory
 * into a sorted array whose names share one allocation; the renderers are pure and write
 * HTML or JSON into a growing sl_buf. */

#include "sluice/listing.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sluice/beneath.h"
#include "sluice/buf.h"
#include "sluice/encode.h"
#include "sluice/hash.h"
#include "sluice/httpdate.h"
#include "sluice/path.h"
#include "sluice/response.h"
#include "sluice/str.h"

/* ---- natural order ---- */

/* ASCII letters fold to lower case, so '_' sorts before letters as it does in most file
 * managers; other bytes, UTF-8 included, stay as they are (no locale, no tables). */
static unsigned char fold(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

static size_t digits_end(const char *s, size_t n, size_t i)
{
    while (i < n && sl_is_digit((unsigned char)s[i]))
        i++;
    return i;
}

static int sign(int v)
{
    return (v > 0) - (v < 0);
}

/* Compares two runs of digits by value, on the digits themselves, so a run of any length
 * compares right without converting it to a number that could overflow. */
static int digits_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    while (an > 0 && *a == '0') {
        a++;
        an--;
    }
    while (bn > 0 && *b == '0') {
        b++;
        bn--;
    }
    if (an != bn)
        return an < bn ? -1 : 1;
    return an > 0 ? sign(memcmp(a, b, an)) : 0;
}

/* The order before ties: digit runs by value, other bytes folded. *zeros records the first
 * pair of equal-valued runs of different lengths (the shorter first), for the caller to
 * apply only when nothing else differs, as it applies case. */
static int natural_cmp(const char *a, size_t an, const char *b, size_t bn, int *zeros)
{
    size_t i = 0;
    size_t j = 0;
    while (i < an && j < bn) {
        unsigned char x = (unsigned char)a[i];
        unsigned char y = (unsigned char)b[j];
        if (sl_is_digit(x) && sl_is_digit(y)) {
            size_t ie = digits_end(a, an, i);
            size_t je = digits_end(b, bn, j);
            int c = digits_cmp(a + i, ie - i, b + j, je - j);
            if (c != 0)
                return c;
            if (*zeros == 0 && ie - i != je - j)
                *zeros = ie - i < je - j ? -1 : 1;
            i = ie;
            j = je;
        } else if (fold(x) != fold(y)) {
            return fold(x) < fold(y) ? -1 : 1;
        } else {
            i++;
            j++;
        }
    }
    return (i < an) - (j < bn); /* a name before another that goes on */
}

int sl_listing_name_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    int zeros = 0;
    int c = natural_cmp(a, an, b, bn, &zeros);
    if (c != 0)
        return c;
    if (zeros != 0)
        return zeros;
    /* Names that differ only in case: byte order, so the order is total. */
    c = memcmp(a, b, an < bn ? an : bn);
    if (c != 0)
        return sign(c);
    return (an > bn) - (an < bn);
}

/* ---- reading ---- */

/* Entries and names as they accumulate. The names buffer moves when it grows, so while
 * reading an entry's `name` stays NULL; names are stored back to back, each followed by a
 * NUL, in entry order, and read_finish points each entry at its name in one pass. */
struct reader {
    struct sl_listing_entry *entries;
    size_t count;
    size_t entries_cap;
    struct sl_buf names; /* growing */
};

/* Makes room for one more entry, doubling so that n additions cost O(n) copying. */
static int grow_entries(struct reader *r)
{
    if (r->count < r->entries_cap)
        return 0;
    size_t n = r->entries_cap > 0 ? r->entries_cap * 2 : 64;
    if (n > SIZE_MAX / sizeof(*r->entries))
        return -ENOMEM;
    struct sl_listing_entry *p = realloc(r->entries, n * sizeof(*r->entries));
    if (!p)
        return -ENOMEM;
    r->entries = p;
    r->entries_cap = n;
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
    sl_buf_append(&r->names, name, len + 1); /* with its NUL */
    if (r->names.overflow || grow_entries(r) != 0)
        return -ENOMEM;
    r->entries[r->count++] = (struct sl_listing_entry){
        .name = NULL,
        .name_len = len,
        .is_dir = S_ISDIR(st->st_mode),
        .size = st->st_size > 0 ? (uint64_t)st->st_size : 0,
        .mtime = st->st_mtim.tv_sec,
    };
    return 0;
}

/* Directories first, then in natural order: people look for "chapter10" after
 * "chapter9" and "README" among the r's. The order is total, so qsort, which is not
 * stable, still gives one listing for one directory. */
static int entry_cmp(const void *a, const void *b)
{
    const struct sl_listing_entry *x = a;
    const struct sl_listing_entry *y = b;
    if (x->is_dir != y->is_dir)
        return x->is_dir ? -1 : 1;
    return sl_listing_name_cmp(x->name, x->name_len, y->name, y->name_len);
}

/* The arrays grew by doubling; a list may be kept for a while and shared, so it gives
 * back what it does not use (up to half of it). */
static void *shrink(void *p, size_t n)
{
    void *q = realloc(p, n > 0 ? n : 1);
    return q ? q : p;
}

static void read_finish(struct reader *r, struct sl_listing *out)
{
    size_t names_len;
    char *names = sl_buf_take(&r->names, &names_len);
    names = shrink(names, names_len + 1);
    if (r->entries)
        r->entries = shrink(r->entries, r->count * sizeof(*r->entries));
    char *p = names;
    for (size_t i = 0; i < r->count; i++) {
        r->entries[i].name = p;
        p += r->entries[i].name_len + 1;
    }
    if (r->count > 1)
        qsort(r->entries, r->count, sizeof(*r->entries), entry_cmp);
    *out = (struct sl_listing){.entries = r->entries, .count = r->count, .names = names};
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
    char path[SL_PATH_MAX + 1 + NAME_MAX + 1]; /* rel, '/', name, NUL */
    if (sl_path_join(path, sizeof(path), rel, strlen(rel), name, strlen(name)) == 0)
        return false;
    int fd = sl_open_beneath(root_fd, path, O_PATH | O_CLOEXEC);
    if (fd < 0)
        return false;
    bool ok = fstat(fd, st) == 0;
    close(fd);
    return ok;
}

/* Following symlinks shows what a client would get; a name that vanished since readdir, a
 * dangling link or one we may not stat is simply left out (false). */
static bool stat_entry(int fd, const struct dirent *de, int root_fd, const char *rel,
                       struct stat *st)
{
    if (de->d_type == DT_LNK || de->d_type == DT_UNKNOWN)
        return stat_link_beneath(fd, de->d_name, root_fd, rel, st);
    return fstatat(fd, de->d_name, st, 0) == 0;
}

/* Adds every entry of dir that is listed to r, stopping with -EFBIG past max_entries.
 * Returns 0 or a negative errno. */
static int read_entries(struct reader *r, DIR *dir, int root_fd, const char *rel,
                        bool show_dotfiles, size_t max_entries)
{
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(dir);
        if (!de)
            return -errno; /* 0 at the end of the directory */
        struct stat st;
        if (skip_name(de->d_name, show_dotfiles) || !stat_entry(dirfd(dir), de, root_fd, rel, &st))
            continue;
        if (max_entries > 0 && r->count >= max_entries)
            return -EFBIG;
        int err = read_add(r, de->d_name, &st);
        if (err)
            return err;
    }
}

int sl_listing_read_owned(int dirfd, int root_fd, const char *rel, bool show_dotfiles,
                          size_t max_entries, struct sl_listing *out)
{
    *out = (struct sl_listing){0};
    DIR *dir = fdopendir(dirfd);
    if (!dir) {
        int err = -errno;
        close(dirfd);
        return err;
    }
    /* The descriptor may have been read before (or share its offset with one that was). */
    rewinddir(dir);

    struct reader r = {0};
    sl_buf_init_growing(&r.names, 4096);
    int err = r.names.overflow ? -ENOMEM
                               : read_entries(&r, dir, root_fd, rel, show_dotfiles, max_entries);
    closedir(dir);
    if (err) {
        free(r.entries);
        sl_buf_free(&r.names);
        return err;
    }
    read_finish(&r, out);
    sl_listing_measure(out);
    return 0;
}

int sl_listing_read(int dirfd, int root_fd, const char *rel, bool show_dotfiles, size_t max_entries,
                    struct sl_listing *out)
{
    /* closedir closes the descriptor fdopendir was given, and the caller keeps dirfd, so
     * the DIR gets a duplicate of its own. */
    int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {
        *out = (struct sl_listing){0};
        return -errno;
    }
    return sl_listing_read_owned(fd, root_fd, rel, show_dotfiles, max_entries, out);
}

void sl_listing_free(struct sl_listing *l)
{
    free(l->entries);
    free(l->names);
    *l = (struct sl_listing){0};
}

/* ---- validator ---- */

/* Every field has a fixed width or a length before it, so two different listings never
 * feed the hash the same bytes ("ab","c" against "a","bc"). The version goes in too: a
 * new release may render the same entries differently. */
size_t sl_listing_etag(const struct sl_listing *l, bool json, char *out, size_t cap)
{
    uint64_t h = sl_fnv1a(SL_FNV_OFFSET, SLUICE_VERSION, sizeof(SLUICE_VERSION));
    h = sl_fnv1a_u64(h, l->count);
    for (size_t i = 0; i < l->count; i++) {
        const struct sl_listing_entry *e = &l->entries[i];
        h = sl_fnv1a_u64(h, e->name_len);
        h = sl_fnv1a(h, e->name, e->name_len);
        h = sl_fnv1a_u64(h, e->is_dir);
        h = sl_fnv1a_u64(h, e->size);
        h = sl_fnv1a_u64(h, (uint64_t)(int64_t)e->mtime);
    }
    int n = snprintf(out, cap, "W/\"%016" PRIx64 "-%s\"", h, json ? "json" : "html");
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
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

/* The shared look (SL_PAGE_STYLE) plus the table; names may be long, so they wrap anywhere
 * instead of pushing the size and date off a phone screen. */
static const char html_style[] = SL_PAGE_STYLE
    "table{width:100%;border-collapse:collapse}\n"
    "th,td{padding:.4rem .5rem;border-bottom:1px solid var(--line);text-align:left;"
    "vertical-align:top}\n"
    "th{font-weight:600;color:var(--muted)}\n"
    "td.name{overflow-wrap:anywhere}\n"
    ".size,.time{white-space:nowrap;color:var(--muted);font-variant-numeric:tabular-nums}\n"
    ".size{text-align:right}\n"
    "tbody tr:hover{background:var(--hover)}\n"
    "tr.dir a{font-weight:600}\n"
    "p.tar{margin:-.5rem 0 1rem}\n"
    "@media (max-width:30rem){th,td{padding:.35rem .25rem}}\n";

/* U+2014 EM DASH, the size shown for directories. */
static const char em_dash[] = "\xe2\x80\x94";

static bool is_root(const char *url_path)
{
    return url_path[0] == '\0' || strcmp(url_path, "/") == 0;
}

static void html_start(struct sl_buf *b, const char *url_path, bool tar)
{
    sl_buf_puts(b, SL_PAGE_HEAD "Index of ");
    sl_html_escape_buf(b, url_path, strlen(url_path));
    sl_buf_puts(b, "</title>\n<style>\n");
    sl_buf_append(b, html_style, sizeof(html_style) - 1);
    sl_buf_puts(b, "</style>\n</head>\n<body>\n<main>\n<h1>Index of ");
    sl_html_escape_buf(b, url_path, strlen(url_path));
    sl_buf_puts(b, "</h1>\n");
    /* The whole tree as one file, resumable like any download (respond.c, ?tar). */
    if (tar)
        sl_buf_puts(b, "<p class=\"tar\"><a href=\"./?tar\" download>Download as .tar</a></p>\n");
    /* Times are UTC (the server's zone means nothing to a visitor), and the column says so
     * once rather than on every row. */
    sl_buf_puts(b, "<table>\n<thead><tr><th>Name</th><th class=\"size\">Size</th>"
                   "<th class=\"time\">Modified (UTC)</th></tr></thead>\n<tbody>\n");
    if (!is_root(url_path))
        sl_buf_puts(b, "<tr class=\"up\"><td class=\"name\" colspan=\"3\">"
                       "<a href=\"../\">Parent directory</a></td></tr>\n");
}

/* Links are relative so they work behind any path prefix, and start with "./" so that a
 * name such as "javascript:alert(1)" (':' is legal in a segment and kept unencoded) is a
 * path, never a URL scheme (RFC 3986 §4.2). */
static void html_row(struct sl_buf *b, const struct sl_listing_entry *e)
{
    char size[16];
    char iso[SL_RFC3339_LEN + 1];
    char shown[SL_LISTINGDATE_LEN + 1];
    sl_buf_puts(b, e->is_dir ? "<tr class=\"dir\"><td class=\"name\"><a href=\"./"
                             : "<tr><td class=\"name\"><a href=\"./");
    sl_pct_encode_segment_buf(b, e->name, e->name_len);
    sl_buf_puts(b, e->is_dir ? "/\">" : "\">");
    sl_html_escape_buf(b, e->name, e->name_len);
    sl_buf_puts(b, e->is_dir ? "/</a></td>" : "</a></td>");

    if (e->is_dir) {
        sl_buf_puts(b, "<td class=\"size\">");
        sl_buf_puts(b, em_dash);
    } else {
        sl_buf_puts(b, "<td class=\"size\" title=\"");
        sl_buf_put_u64(b, e->size);
        sl_buf_puts(b, " bytes\">");
        sl_human_size(e->size, size);
        sl_buf_puts(b, size);
    }
    sl_buf_puts(b, "</td><td class=\"time\">");
    if (sl_rfc3339_format(e->mtime, iso) && sl_listingdate_format(e->mtime, shown)) {
        sl_buf_puts(b, "<time datetime=\"");
        sl_buf_puts(b, iso);
        sl_buf_puts(b, "\">");
        sl_buf_puts(b, shown);
        sl_buf_puts(b, "</time>");
    }
    sl_buf_puts(b, "</td></tr>\n");
}

static void html_end(struct sl_buf *b, size_t count)
{
    if (count == 0)
        sl_buf_puts(b, "<tr><td colspan=\"3\">This directory is empty.</td></tr>\n");
    sl_buf_puts(b, "</tbody>\n</table>\n<footer>" SL_SERVER_NAME
                   "</footer>\n</main>\n</body>\n</html>\n");
}

/* url_path as a URL path: each segment percent-encoded (which leaves nothing a JSON
 * string must escape), the slashes kept. */
static void put_url_path(struct sl_buf *b, const char *url_path)
{
    const char *p = url_path;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        sl_pct_encode_segment_buf(b, p, n);
        if (!slash)
            return;
        sl_buf_putc(b, '/');
        p = slash + 1;
    }
}

static void json_start(struct sl_buf *b, const char *url_path, bool tar)
{
    sl_buf_puts(b, "{\"path\":\"");
    sl_json_escape_buf(b, url_path, strlen(url_path));
    if (tar) {
        sl_buf_puts(b, "\",\"tar\":\"");
        put_url_path(b, url_path);
        sl_buf_puts(b, "?tar");
    }
    sl_buf_puts(b, "\",\"entries\":[");
}

/* Every entry after the first carries the comma that separates it from the one before,
 * so each row is a piece of its own. */
static void json_row(struct sl_buf *b, const struct sl_listing_entry *e, bool first)
{
    char iso[SL_RFC3339_LEN + 1];
    sl_buf_puts(b, first ? "{\"name\":\"" : ",{\"name\":\"");
    sl_json_escape_buf(b, e->name, e->name_len);
    sl_buf_puts(b, e->is_dir ? "\",\"type\":\"directory\",\"size\":"
                             : "\",\"type\":\"file\",\"size\":");
    sl_buf_put_u64(b, e->size);
    sl_buf_puts(b, ",\"mtime\":");
    if (sl_rfc3339_format(e->mtime, iso)) {
        sl_buf_puts(b, "\"");
        sl_buf_puts(b, iso);
        sl_buf_puts(b, "\"}");
    } else {
        sl_buf_puts(b, "null}"); /* outside years 0000-9999: no valid RFC 3339 form */
    }
}

static void render_row(struct sl_buf *b, const struct sl_listing *l, enum sl_listing_format f,
                       size_t i)
{
    if (f == SL_LISTING_JSON)
        json_row(b, &l->entries[i], i == 0);
    else
        html_row(b, &l->entries[i]);
}

size_t sl_listing_pieces(const struct sl_listing *l)
{
    return l->count + 2;
}

void sl_listing_render_piece(const struct sl_listing *l, enum sl_listing_format f,
                             const char *url_path, size_t piece, struct sl_buf *b)
{
    if (piece == 0) {
        if (f == SL_LISTING_JSON)
            json_start(b, url_path, l->tar);
        else
            html_start(b, url_path, l->tar);
    } else if (piece <= l->count) {
        render_row(b, l, f, piece - 1);
    } else if (f == SL_LISTING_JSON) {
        sl_buf_puts(b, "]}");
    } else {
        html_end(b, l->count);
    }
}

/* A piece's length, rendered into a counting buffer: nothing is kept, but `need` adds up
 * every append, so the length comes from the very code that renders the piece. */
static uint64_t piece_len(const struct sl_listing *l, enum sl_listing_format f,
                          const char *url_path, size_t piece)
{
    char none[1]; /* not NULL: a zero-length append still copies into it */
    struct sl_buf b = sl_buf_make(none, 0);
    sl_listing_render_piece(l, f, url_path, piece, &b);
    return b.need;
}

uint64_t sl_listing_body_len(const struct sl_listing *l, enum sl_listing_format f,
                             const char *url_path)
{
    return piece_len(l, f, url_path, 0) + l->rows_len[f] + piece_len(l, f, url_path, l->count + 1);
}

/* Rows are rendered into a stack buffer rather than counted: the inline append path is
 * several times faster than the counting one, and a row always fits (a name is at most
 * NAME_MAX bytes, 6 bytes each when escaped). */
static uint64_t rows_len(const struct sl_listing *l, enum sl_listing_format f)
{
    char scratch[8192];
    uint64_t total = 0;
    for (size_t i = 0; i < l->count; i++) {
        struct sl_buf b = sl_buf_make(scratch, sizeof(scratch));
        render_row(&b, l, f, i);
        total += b.need;
    }
    return total;
}

void sl_listing_measure(struct sl_listing *l)
{
    for (int f = 0; f < SL_LISTING_FORMATS; f++) {
        l->rows_len[f] = rows_len(l, (enum sl_listing_format)f);
        l->etag_len[f] = sl_listing_etag(l, f == SL_LISTING_JSON, l->etag[f], SL_LISTING_ETAG_MAX);
    }
}

/* The whole body into one growing buffer: the same pieces a streamed body is made of. */
static char *render_all(const struct sl_listing *l, enum sl_listing_format f, const char *url_path,
                        size_t *len)
{
    struct sl_buf b;
    sl_buf_init_growing(&b, 4096 + (l->count < 65536 ? l->count : 65536) * 256);
    for (size_t piece = 0; piece < sl_listing_pieces(l); piece++)
        sl_listing_render_piece(l, f, url_path, piece, &b);
    return sl_buf_take(&b, len);
}

char *sl_listing_html(const struct sl_listing *l, const char *url_path, size_t *len)
{
    return render_all(l, SL_LISTING_HTML, url_path, len);
}

char *sl_listing_json(const struct sl_listing *l, const char *url_path, size_t *len)
{
    return render_all(l, SL_LISTING_JSON, url_path, len);
}

size_t sl_listing_url_path(const char *rel, size_t len, char *out, size_t cap)
{
    struct sl_buf b = sl_buf_make(out, cap > 0 ? cap - 1 : 0);
    sl_buf_append(&b, "/", 1);
    sl_buf_append(&b, rel, len);
    if (len > 0)
        sl_buf_append(&b, "/", 1);
    if (b.overflow || cap == 0)
        return 0;
    out[b.len] = '\0';
    return b.len;
}
