/* Request-target to root-relative path: the pure half of the router. Decodes
 * percent-escapes once, removes dot segments, and refuses anything that could name
 * a file outside the root. No I/O. */
#ifndef SLUICE_PATH_H
#define SLUICE_PATH_H

#include <stdbool.h>
#include <stddef.h>

/* Longest decoded path accepted (also bounds the buffer the caller provides). */
#define SL_PATH_MAX 4096

struct sl_path {
    /* Root-relative, NUL-terminated, no leading '/', no empty, "." or ".." segments;
     * "" for the root itself. */
    char rel[SL_PATH_MAX];
    size_t len;
    bool trailing_slash; /* the decoded path ended in '/' (or was "/") */
    bool hidden;         /* sl_path_has_hidden_segment(rel, len), worked out once */
    /* The raw (still percent-encoded) path and query of the target, for building
     * redirects that keep the client's encoding. Point into the caller's target. */
    const char *raw_path;
    size_t raw_path_len;
    const char *raw_query; /* after '?', NULL if none */
    size_t raw_query_len;
};

/* Resolves an origin-form ("/a/b?q") or absolute-form ("http://host/a/b") target.
 * Query and fragment are set aside. `+` stays a plus. Returns 0, or an HTTP status:
 * 400 for invalid escapes, NUL, an encoded '/', a path that climbs above the root,
 * a target that is not origin- or absolute-form, or an authority that is not a valid
 * host and port (userinfo included); 414 when the decoded path does not
 * fit in SL_PATH_MAX. */
int sl_path_resolve(const char *target, size_t len, struct sl_path *out);

/* Whether s[0..n) is `uri-host [ ":" port ]` (RFC 3986 §3.2.2, §3.2.3): what a Host
 * field holds (RFC 9110 §7.2) and an http URI's authority without userinfo. An IP
 * literal in brackets, or a reg-name (unreserved, sub-delims, pct-encoded; empty
 * allowed), then optionally ':' and digits (possibly none). No spaces, '/', '@'. */
bool sl_host_valid(const char *s, size_t n);

/* True when a segment of `rel` starts with '.' (a dotfile or dot-directory), except a
 * leading ".well-known" segment, which is always served. */
bool sl_path_has_hidden_segment(const char *rel, size_t len);

/* Whether the query has a parameter called `name` (matched exactly, before any '=':
 * "download", "tar=1"). */
bool sl_path_query_has(const struct sl_path *path, const char *name);

/* Writes "dir/name", or "name" alone when dir is empty, plus a NUL into out[0..cap).
 * Returns the joined length, or 0, with out holding "", when it does not fit. */
size_t sl_path_join(char *out, size_t cap, const char *dir, size_t dir_len, const char *name,
                    size_t name_len);

#endif
