/* Directory listings: read a directory, sort it (directories first, then by name) and
 * render it as an HTML5 page or as JSON. Reading is I/O (listing.c, run in the thread
 * pool by dircache.c); rendering is pure and takes the entries as data, one piece (the
 * page's start, a row, the end) at a time, so a body of any size is rendered a few KiB
 * at a time as the socket drains, with its exact length known before the first byte. */
#ifndef SLUICE_LISTING_H
#define SLUICE_LISTING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "sluice/buf.h"
#include "sluice/path.h"

struct sl_listing_entry {
    char *name; /* as on disk (bytes, usually UTF-8) */
    size_t name_len;
    bool is_dir;
    uint64_t size;
    time_t mtime;
};

enum sl_listing_format { SL_LISTING_HTML, SL_LISTING_JSON, SL_LISTING_FORMATS };

/* Room for sl_listing_etag's tag and its NUL: W/"<16 hex digits>-html". */
#define SL_LISTING_ETAG_MAX 32

/* Room for sl_listing_url_path's result: '/', a path, '/', NUL. */
#define SL_LISTING_URL_MAX (SL_PATH_MAX + 3)

struct sl_listing {
    struct sl_listing_entry *entries;
    size_t count;
    char *names; /* one allocation holding every name */
    /* The start offers the directory's tree as one .tar (a link to "./?tar" in HTML, a
     * "tar" URL in JSON): set by the reader's caller when --no-tar is not given. */
    bool tar;
    /* Per format, from sl_listing_measure (sl_listing_read calls it): the rows' total
     * length, which with the start and end pieces gives the exact Content-Length, and
     * the weak ETag, so neither a HEAD nor a 304 renders anything. */
    uint64_t rows_len[SL_LISTING_FORMATS];
    size_t etag_len[SL_LISTING_FORMATS];
    char etag[SL_LISTING_FORMATS][SL_LISTING_ETAG_MAX];
};

/* Natural order of two names, as strcmp returns it: runs of digits compare by value
 * ("chapter2" < "chapter10"), other ASCII bytes case-insensitively ("apple" < "README" <
 * "zebra"), any other byte by its value. Ties then go to the shorter of two equal-valued
 * digit runs ("1" < "01"), then to the raw bytes ("README" < "readme"), so the order is
 * total: 0 only for identical names. Pure. */
int sl_listing_name_cmp(const char *a, size_t an, const char *b, size_t bn);

/* Reads the directory open at dirfd (the caller keeps dirfd), which is `rel` beneath
 * root_fd. Skips "." and "..", and names starting with '.' unless show_dotfiles.
 * Entries whose stat fails are skipped. Symlinks are described by what they point to,
 * resolved beneath root_fd as the router would (root_fd < 0: followed freely); dangling
 * links and links leading outside the root are skipped. Sorted: directories first, then
 * by sl_listing_name_cmp; then measured (sl_listing_measure). More than max_entries
 * entries listed (0: no limit) stops the read with -EFBIG. Returns 0 or a negative
 * errno. Touches nothing but its arguments: safe on any thread. */
int sl_listing_read(int dirfd, int root_fd, const char *rel, bool show_dotfiles, size_t max_entries,
                    struct sl_listing *out);
/* The same, taking dirfd over (it is closed): no duplicate descriptor is needed. */
int sl_listing_read_owned(int dirfd, int root_fd, const char *rel, bool show_dotfiles,
                          size_t max_entries, struct sl_listing *out);
void sl_listing_free(struct sl_listing *l);

/* ---- rendering, piece by piece ----
 * A body is sl_listing_pieces(l) pieces: piece 0 is the start (the page's head, title
 * and heading naming url_path, or the JSON object's start), piece i in 1..count is the
 * row of entry i-1, the last piece is the end. Pieces are rendered into a fixed sl_buf:
 * a piece that overflows it is taken back with sl_buf_truncate and rendered again into
 * the next buffer. url_path is read for piece 0 only. Pure. */
size_t sl_listing_pieces(const struct sl_listing *l);
void sl_listing_render_piece(const struct sl_listing *l, enum sl_listing_format f,
                             const char *url_path, size_t piece, struct sl_buf *b);

/* Fills l->rows_len and l->etag for both formats: one pass over the rows per format,
 * each row rendered and counted (so the length cannot disagree with the renderer). */
void sl_listing_measure(struct sl_listing *l);

/* The exact length of the body in format f for url_path (l measured): the start and
 * end pieces counted now, the rows from l->rows_len. Pure. */
uint64_t sl_listing_body_len(const struct sl_listing *l, enum sl_listing_format f,
                             const char *url_path);

/* The URL path a listing names: "/" for the root (rel ""), else "/rel/". Writes it and a
 * NUL to out; returns its length, or 0 when it does not fit in cap (SL_LISTING_URL_MAX
 * always suffices for a rel of at most SL_PATH_MAX bytes). */
size_t sl_listing_url_path(const char *rel, size_t len, char *out, size_t cap);

/* Renders the listing of the directory at URL path `url_path` (the decoded, normalised
 * path with leading and trailing '/', e.g. "/docs/"; shown HTML-escaped in the title
 * and heading) as a complete HTML5 page, all pieces at once: parent link (except at "/"), one row
 * per entry with a percent-encoded relative link (directories end in '/'), human-readable size
 * (files) and modification time (UTC, "2026-11-23 18:52", in a <time> element with
 * the RFC 3339 instant; the column heading says "Modified (UTC)"). A little CSS, no
 * JavaScript, works on a phone; under the heading a "Download as .tar" link when l->tar.
 * Returns a malloc'd NUL-terminated body and its length in
 * *len, or NULL when out of memory. */
char *sl_listing_html(const struct sl_listing *l, const char *url_path, size_t *len);

/* The same listing as JSON: {"path":"/docs/","entries":[{"name":"a.txt","type":"file",
 * "size":123,"mtime":"2026-11-23T18:52:40Z"},{"name":"sub","type":"directory",...}]}
 * (directories carry their own st_size), with "tar":"/docs/?tar" (percent-encoded)
 * after the path when l->tar. Returns a malloc'd body or NULL. */
char *sl_listing_json(const struct sl_listing *l, const char *url_path, size_t *len);

/* A weak entity-tag (RFC 9110 §8.8.3) for the listing as rendered: a 64-bit FNV-1a hash
 * of every entry's name, type, size and mtime, in order, then "-json" or "-html", since
 * the two forms are different representations that must never match each other:
 * W/"1b2c...e0-html". Weak because it is computed from what the listing shows, not from
 * the bytes sent, so it promises an equivalent page rather than identical bytes (RFC 9110
 * §8.8.1). Writes it and a NUL to out; returns its length, or 0 when cap is too small
 * (SL_LISTING_ETAG_MAX always suffices). Pure. */
size_t sl_listing_etag(const struct sl_listing *l, bool json, char *out, size_t cap);

/* "1.5 KiB", "12 MiB", "512 B": at most one decimal, binary units. Pure. */
void sl_human_size(uint64_t bytes, char out[16]);

#endif
