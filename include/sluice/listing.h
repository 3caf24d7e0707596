/* Directory listings: read a directory, sort it (directories first, then by name) and
 * render it as an HTML5 page or as JSON. Reading is I/O (listing.c); rendering is pure
 * and takes the entries as data. */
#ifndef SLUICE_LISTING_H
#define SLUICE_LISTING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct sl_listing_entry {
    char *name; /* as on disk (bytes, usually UTF-8) */
    size_t name_len;
    bool is_dir;
    uint64_t size;
    time_t mtime;
};

struct sl_listing {
    struct sl_listing_entry *entries;
    size_t count;
    char *names; /* one allocation holding every name */
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
 * by sl_listing_name_cmp. Returns 0 or a negative errno. */
int sl_listing_read(int dirfd, int root_fd, const char *rel, bool show_dotfiles,
                    struct sl_listing *out);
void sl_listing_free(struct sl_listing *l);

/* Renders the listing of the directory at URL path `url_path` (the decoded, normalised
 * path with leading and trailing '/', e.g. "/docs/"; shown HTML-escaped in the title
 * and heading) as a complete HTML5 page: parent link (except at "/"), one row per entry
 * with a percent-encoded relative link (directories end in '/'), human-readable size
 * (files) and modification time (UTC, "2026-11-23 18:52", in a <time> element with
 * the RFC 3339 instant; the column heading says "Modified (UTC)"). A little CSS, no
 * JavaScript, works on a phone. Returns a malloc'd NUL-terminated body and its length in
 * *len, or NULL when out of memory. */
char *sl_listing_html(const struct sl_listing *l, const char *url_path, size_t *len);

/* The same listing as JSON: {"path":"/docs/","entries":[{"name":"a.txt","type":"file",
 * "size":123,"mtime":"2026-11-23T18:52:40Z"},{"name":"sub","type":"directory",...}]}
 * (directories carry their own st_size).
 * Returns a malloc'd body or NULL. */
char *sl_listing_json(const struct sl_listing *l, const char *url_path, size_t *len);

/* Room for sl_listing_etag's tag and its NUL: W/"<16 hex digits>-html". */
#define SL_LISTING_ETAG_MAX 32

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
