/* What --live adds to pages, as pure data and functions: the event stream's reserved
 * path, the script put into HTML pages, where in a page it goes, and the ETag suffix
 * that keeps injected and plain bodies apart in every cache. No I/O. */
#ifndef SLUICE_INJECT_H
#define SLUICE_INJECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice/cond.h"
#include "sluice/str.h"

/* The event stream, root-relative as sl_path_resolve gives it ("/.sluice/live"). With
 * --live it is answered before the router, which never maps it to a file. */
#define SL_LIVE_PATH ".sluice/live"

/* How much of a page's end is searched for its </body> end tag: read once per cache
 * entry, when the router opens the page. */
#define SL_INJECT_TAIL 4096

/* A page the script is not put into (struct sl_file_rep's inject_at). */
#define SL_INJECT_NONE UINT64_MAX

/* The script: an inline <script> element of a few hundred bytes. */
struct sl_str sl_inject_script(void);

/* Whether a root-relative path names the event stream. */
bool sl_inject_is_stream(const char *rel, size_t len);

/* Where the script goes in a page whose last n bytes are `tail`: the offset in tail of
 * its last </body> end tag (any case, as an HTML tokenizer ends that tag), or n (the
 * end of the page) when there is none. */
size_t sl_inject_find(const char *tail, size_t n);

/* The ETag of the injected page: the file's quoted tag with "-live" added inside the
 * quotes. Returns the length written (without NUL), or 0 when it does not fit. */
size_t sl_inject_etag(char out[SL_ETAG_MAX], const char *etag, size_t len);

#endif
