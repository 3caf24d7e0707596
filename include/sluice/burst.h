/* Coalescing file events into live-reload notices. A docs build writes hundreds of
 * files in a second: one notice goes out once the burst settles (SL_BURST_QUIET_MS
 * without events, or at the latest SL_BURST_MAX_MS after its first), saying whether
 * pages must reload or only stylesheets changed, and which. Pure: the caller brings the
 * time, so the rules are unit-tested without a clock or a file system. */
#ifndef SLUICE_BURST_H
#define SLUICE_BURST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SL_BURST_QUIET_MS 100
#define SL_BURST_MAX_MS 1000
#define SL_BURST_CSS_MAX 1024 /* stylesheet paths named, as JSON; beyond this: "all" */
#define SL_BURST_MSG_MAX (SL_BURST_CSS_MAX + 64)
#define SL_BURST_NONE UINT64_MAX

struct sl_burst {
    bool pending;
    bool reload;  /* something other than a stylesheet changed */
    bool css_all; /* more stylesheets changed than css[] can name */
    uint64_t first_ms;
    uint64_t last_ms;
    size_t css_len; /* JSON strings of "/path" stylesheet paths, comma-separated */
    char css[SL_BURST_CSS_MAX];
};

void sl_burst_init(struct sl_burst *b);

/* A file at root-relative `rel` changed (written, created, removed or renamed) at now.
 * A name ending in '~' (an editor's backup) is left out; one ending in ".css" only
 * needs its stylesheets swapped; anything else reloads. */
void sl_burst_add(struct sl_burst *b, uint64_t now, const char *rel, size_t len);

/* A change that reloads pages whatever changed: the root went or came back. */
void sl_burst_add_reload(struct sl_burst *b, uint64_t now);

/* When the burst in progress settles, or SL_BURST_NONE when none is. */
uint64_t sl_burst_due(const struct sl_burst *b);

/* Once the burst has settled (now >= sl_burst_due): writes its notice, a Server-Sent
 * Events message ("event: reload" or "event: css" with a JSON array of the stylesheets'
 * paths, empty for all of them), into out and starts afresh. Returns the notice's
 * length, or 0 when nothing is due (or cap, at least SL_BURST_MSG_MAX, is too small). */
size_t sl_burst_take(struct sl_burst *b, uint64_t now, char *out, size_t cap);

#endif
