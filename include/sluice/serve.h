/* The planner: a pure function from (request, what was found, now, config) to a response
 * plan (status, head and body segments). No system calls: the router has opened and
 * described the file, the cache may have its bytes; conn.c sends the plan. Unit-tested
 * without a file system (test/unit/test_serve.c). */
#ifndef SLUICE_SERVE_H
#define SLUICE_SERVE_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "sluice/config.h"
#include "sluice/listing.h"
#include "sluice/path.h"
#include "sluice/plan.h"
#include "sluice/rep.h"
#include "sluice/request.h"
#include "sluice/response.h"

/* The read-only inputs of a plan besides the request. */
struct sl_plan_env {
    const struct sl_config *cfg;
    time_t now;        /* this second */
    const char *date;  /* `now` as an HTTP-date */
    uint64_t boundary; /* differs between responses: multipart boundaries */
    bool revalidate;   /* a fallback page (--spa): "no-cache" whatever --max-age says */
};

/* sl_serve_check's answer for the live-reload event stream (--live). */
#define SL_SERVE_EVENT_STREAM 1

/* The checks that come before any file: the method, the target's syntax, the event
 * stream's reserved path, hidden names. Returns 0 with *path filled,
 * SL_SERVE_EVENT_STREAM, 204 for an OPTIONS request under --cors (answer it with
 * sl_serve_options), or the status to answer with sl_serve_error. */
int sl_serve_check(const struct sl_plan_env *env, const struct sl_request *req,
                   struct sl_path *path);

/* A file (or precompressed variant) from its representation: preconditions, then
 * ranges, then the whole. File bytes are planned as segments of the body file unless
 * rep->data holds them, or as segments of a produced body (plan->produce) when
 * rep->produce names one: a tar archive is served this way, ranges and all. With --live
 * an HTML page (rep->inject_at) asked for without Range is its own representation: the
 * script before its </body>, the length that includes it, and an ETag of its own; a
 * Range request gets the file as it is. */
void sl_serve_file(const struct sl_plan_env *env, const struct sl_request *req,
                   const struct sl_path *path, const struct sl_file_rep *rep, struct sl_plan *plan);

/* OPTIONS under --cors: 204 with Allow and, for a CORS preflight, the methods and the
 * requested fields that sluice honours. */
void sl_serve_options(const struct sl_plan_env *env, const struct sl_request *req,
                      struct sl_plan *plan);

/* Room for a file's pre-rendered head: its status line, type, validators and policy, well
 * under this. */
#define SL_FIELDS_MAX 1024

/* Renders into out[0..cap) the head that sl_serve_file puts on a whole 200 for rep under
 * cfg, from the status line through Vary, its date a stand-in that each response
 * overwrites, and without what -H, --cors and Connection add; *validators is where its
 * ETag starts. Returns the length, or 0 when it does not fit. Kept as rep->fields, it is
 * copied instead of formatted whenever a response carries exactly these fields: a 200
 * or (from the ETag on) a 304 for rep, not a download, not a --spa fallback, no --live
 * script put in, and the file not stamped later than the response's Date. */
size_t sl_serve_fields(const struct sl_config *cfg, const struct sl_file_rep *rep, char *out,
                       size_t cap, size_t *validators);

/* A directory listing as HTML, or as JSON when the client asks for it, with a weak ETag
 * (list->etag) and Cache-Control: no-cache. If-None-Match with that tag is answered 304;
 * If-Match is compared strongly, so only "*" passes it. The body is planned as one
 * segment of a produced body (plan->produce) of its exact length, rendered later by the
 * producer respond.c attaches; list must be measured (sl_listing_measure). */
void sl_serve_listing(const struct sl_plan_env *env, const struct sl_request *req,
                      const struct sl_path *path, const struct sl_listing *list,
                      struct sl_plan *plan);

/* A listing that is not given: 403 for a directory with more entries than
 * --listing-max-entries (too_many; the page names the limit), else 503 with Retry-After
 * (the directory cache's bound is taken by listings in use). */
void sl_serve_listing_refused(const struct sl_plan_env *env, const struct sl_request *req,
                              bool too_many, struct sl_plan *plan);

/* A tar archive that is not given: 403 for a tree with more members than
 * --tar-max-entries (too_many; the page names the limit), else 503 with Retry-After (the
 * tar cache's bound is taken by archives being sent). An archive that is given is a file
 * representation whose bytes a producer makes (sl_serve_file with rep->produce). */
void sl_serve_tar_refused(const struct sl_plan_env *env, const struct sl_request *req,
                          bool too_many, struct sl_plan *plan);

/* 301 to the directory's address with its final slash. */
void sl_serve_redirect(const struct sl_plan_env *env, const struct sl_request *req,
                       const struct sl_path *path, struct sl_plan *plan);

/* An error status answered with a page of the site's own (404.html): its bytes, type and
 * length, "no-cache", and no validators or ranges (they describe the page, not the
 * missing resource). */
void sl_serve_error_file(const struct sl_plan_env *env, const struct sl_request *req, int status,
                         const struct sl_file_rep *rep, struct sl_plan *plan);

/* The live-reload event stream's head and first event, "hello" with `boot` (which
 * tells one run of sluice from the next); the connection then stays open for the
 * notices (plan->stream). A HEAD gets the head alone. */
void sl_serve_event_stream(const struct sl_plan_env *env, const struct sl_request *req,
                           uint32_t boot, struct sl_plan *plan);

/* 503 with Retry-After: the served directory is missing (being rebuilt). With --live the
 * page carries the script, which reloads it when the directory is back. */
void sl_serve_root_missing(const struct sl_plan_env *env, const struct sl_request *req,
                           struct sl_plan *plan);

/* A built-in page as sl_serve_error sends it (not for 503 or 416, whose heads have
 * more fields), for a caller that keeps the page from sl_built_in_page. */
void sl_serve_built_in(const struct sl_plan_env *env, const struct sl_request *req,
                       const struct sl_built_in_page *page, struct sl_plan *plan);

/* An error page for `status`; the connection closes after it when `must_close` is set
 * (malformed requests: RFC 9112 §9.6 leaves no safe way to find the next request). */
void sl_serve_error(const struct sl_plan_env *env, const struct sl_request *req, int status,
                    bool must_close, struct sl_plan *plan);

#endif
