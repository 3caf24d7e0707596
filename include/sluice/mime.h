/* Media types from file name extensions: sluice's built-in table, plus the long tail
 * from a mime.types file loaded once at start-up. Lookups are pure and read-only. */
#ifndef SLUICE_MIME_H
#define SLUICE_MIME_H

#include <stddef.h>

/* Debian's media-types package installs it; absent, the built-in table is all there is. */
#define SL_MIME_TYPES_PATH "/etc/mime.types"

struct sl_mime_entry {
    const char *ext; /* lower case, no dot */
    const char *type;
};

/* Extensions from a mime.types file, sorted for bsearch. Filled once by sl_mime_load
 * before any thread starts, then only read (it hangs off struct sl_config), so every
 * event loop shares it without locks. All zero: empty. */
struct sl_mime_table {
    struct sl_mime_entry *entries;
    size_t count;
    char *text;  /* the file's bytes, tokenised in place: what ext points into */
    char *types; /* each line's type, with "; charset=utf-8" where it is textual */
};

/* The Content-Type for a file name (or path) from the built-in table alone, chosen by
 * its last extension, case-insensitively. Text types carry "; charset=utf-8". Unknown
 * or missing extension: "application/octet-stream". Never NULL; the string is static. */
const char *sl_mime_type(const char *name, size_t len);

/* As sl_mime_type, but an extension the built-in table lacks is looked up in table
 * (which may be NULL). The built-in entries win: they are chosen so that browsers
 * display text and play media, where mime.types names e.g. application/toml (which
 * Chromium downloads) or gives .rs and .ts to unrelated formats. */
const char *sl_mime_lookup(const struct sl_mime_table *table, const char *name, size_t len);

/* The Content-Encoding a file's name implies for its bytes: "gzip" for .svgz (served as
 * image/svg+xml, which browsers only render once they gunzip it), else NULL. */
const char *sl_mime_encoding(const char *name, size_t len);

/* Parses the text of a mime.types file ("type ext ext ..." per line, '#' comments) into
 * table, which it first empties; table keeps a copy of the text. Extensions are folded
 * to lower case; a later line wins over an earlier one for the same extension, as in
 * Apache, Python and Go; a line with bytes that cannot be a media type or an extension
 * is skipped whole. Text types get "; charset=utf-8". Pure: returns 0, or -ENOMEM with
 * the table left empty (still valid for lookups). */
int sl_mime_parse(struct sl_mime_table *table, const char *text, size_t len);

/* Reads the file at path (a regular file of at most 4 MiB) and parses it as
 * sl_mime_parse does. Returns 0 or a negative errno (-ENOENT: no such file); on error
 * the table is left empty. */
int sl_mime_load(struct sl_mime_table *table, const char *path);

/* Frees what sl_mime_load allocated and empties the table. */
void sl_mime_free(struct sl_mime_table *table);

#endif
