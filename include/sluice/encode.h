/* Escaping for what we put into responses: HTML text, URL path segments, and the
 * Content-Disposition filename parameters of RFC 6266 / RFC 8187. Pure. */
#ifndef SLUICE_ENCODE_H
#define SLUICE_ENCODE_H

#include <stdbool.h>
#include <stddef.h>

#include "sluice/buf.h"

/* Each escaper comes in two forms. The _buf form appends to b one whole escape at a time,
 * so a fixed buffer that overflows holds a prefix that never ends inside an escape. The
 * array form writes at most cap - 1 bytes plus a NUL and returns the length the full
 * result needs (excluding NUL), like snprintf: a return >= cap means it was truncated. */

/* Escapes & < > " ' for use in HTML text and attribute values; invalid UTF-8 becomes
 * U+FFFD so a page declared UTF-8 stays valid whatever the file names are. */
size_t sl_html_escape(char *out, size_t cap, const char *s, size_t len);
void sl_html_escape_buf(struct sl_buf *b, const char *s, size_t len);

/* Percent-encodes one path segment: keeps RFC 3986 unreserved characters and
 * sub-delims that are safe in a path segment (!$&'()*+,;=:@ except & ' which are
 * encoded too, to stay safe in HTML attributes), encodes everything else, including
 * '/', '?', '#', '%' and every byte >= 0x80, as %XX (upper-case hex). */
size_t sl_pct_encode_segment(char *out, size_t cap, const char *s, size_t len);
void sl_pct_encode_segment_buf(struct sl_buf *b, const char *s, size_t len);

/* Escapes a string for a JSON string literal (without the surrounding quotes, RFC 8259
 * §7): " \ and control characters (C0, DEL and C1, so no terminal acts on them); other
 * bytes >= 0x80 pass through (names are assumed UTF-8; invalid UTF-8 is replaced by
 * U+FFFD so the output is always valid JSON). */
size_t sl_json_escape(char *out, size_t cap, const char *s, size_t len);
void sl_json_escape_buf(struct sl_buf *b, const char *s, size_t len);

/* The value of a Content-Disposition header for an attachment named `name` (a file
 * name in UTF-8, no directory): `attachment; filename="<ascii fallback>";
 * filename*=UTF-8''<pct-encoded>`. The fallback writes one '_' for each non-ASCII UTF-8
 * character, each byte of ill-formed UTF-8, and each '"', '\\', '%' and control
 * character; filename* keeps the exact name. */
size_t sl_content_disposition(char *out, size_t cap, const char *name, size_t len);
void sl_content_disposition_buf(struct sl_buf *b, const char *name, size_t len);

/* Whether s[0..len) is well-formed UTF-8 (Unicode §3.9: no overlongs, no surrogates,
 * nothing above U+10FFFF). */
bool sl_utf8_valid(const char *s, size_t len);

#endif
