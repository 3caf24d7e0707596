/* The planner: method and target checks, validators and conditional requests, ranges,
 * listings, redirects and error pages, as a response head in plan->out plus body
 * segments (memory or ranges of the body file). Pure: everything it needs arrives as
 * data, so every rule is tested without a socket or a file system. */
#include "sluice/serve.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "sluice/cond.h"
#include "sluice/encode.h"
#include "sluice/inject.h"
#include "sluice/negotiate.h"
#include "sluice/range.h"
#include "sluice/response.h"

/* ---- plan helpers ---- */

static void plan_mem(struct sl_plan *plan, const char *p, size_t len)
{
    plan->segs[plan->nsegs++] = (struct sl_seg){.mem = p, .off = 0, .len = len};
}

/* Body bytes from the representation: its bytes in memory, the body file, or its
 * producer. */
static void plan_body(struct sl_plan *plan, const struct sl_file_rep *rep, uint64_t off,
                      uint64_t len)
{
    if (rep->data) {
        plan_mem(plan, rep->data + off, (size_t)len);
        return;
    }
    plan->segs[plan->nsegs++] = (struct sl_seg){.mem = NULL, .off = off, .len = len};
    if (rep->produce != SL_PRODUCE_NONE)
        plan->produce = (uint8_t)rep->produce; /* a tar archive: slices of a produced body */
    else
        plan->uses_file = true;
}

/* Sets plan up for a response with `status`, its head to be written in plan->out. A
 * request with a body ends the connection: its body is never parsed as a request. */
static struct sl_buf plan_begin(const struct sl_request *req, int status, struct sl_plan *plan)
{
    plan->status = status;
    plan->keep_alive = req->keep_alive && !req->has_body;
    plan->head_only = req->method_known && req->method == HTTP_HEAD;
    plan->nsegs = 0;
    plan->body_bytes = 0;
    plan->overflow = false;
    plan->uses_file = false;
    plan->stream = false;
    plan->produce = SL_PRODUCE_NONE;
    return sl_buf_make(plan->out, sizeof(plan->out));
}

/* Starts a response head in plan->out with the fields every response carries. */
static struct sl_buf head_begin(const struct sl_plan_env *env, const struct sl_request *req,
                                int status, struct sl_plan *plan)
{
    struct sl_buf b = plan_begin(req, status, plan);
    sl_head_begin(&b, status, env->date);
    return b;
}

/* Ends the head, with the fields -H and --cors add to every response, and plans it as
 * the first segment. */
static void head_end(const struct sl_plan_env *env, const struct sl_request *req,
                     struct sl_plan *plan, struct sl_buf *b)
{
    if (env->cfg->extra_headers_len)
        sl_buf_append(b, env->cfg->extra_headers, env->cfg->extra_headers_len);
    sl_head_end(b, plan->keep_alive, req->http_major == 1 && req->http_minor == 0);
    plan_mem(plan, b->p, b->len);
    plan->head_len = b->len;
    plan->overflow |= b->overflow;
}

/* A 304's head around the validators of a file's pre-rendered head (sl_serve_fields):
 * the same bytes as head_begin, the fields and head_end write, the first three pieces and
 * the fields in one reservation, so that only the date and the Connection field are per
 * response. */
static void head_around(const struct sl_plan_env *env, const struct sl_request *req, int status,
                        struct sl_str fields, struct sl_plan *plan)
{
    static const char server[] = SL_HEAD_AFTER_DATE;
    struct sl_buf b = plan_begin(req, status, plan);
    struct sl_str line = sl_status_line(status);
    char *w = sl_buf_reserve(&b, line.n + 6 + SL_HTTPDATE_LEN + sizeof(server) - 1 + fields.n);
    if (w) {
        memcpy(w, line.p, line.n);
        w += line.n;
        memcpy(w, "Date: ", 6);
        memcpy(w + 6, env->date, SL_HTTPDATE_LEN);
        w += 6 + SL_HTTPDATE_LEN;
        memcpy(w, server, sizeof(server) - 1);
        memcpy(w + sizeof(server) - 1, fields.p, fields.n);
    }
    head_end(env, req, plan, &b);
}

/* Where a 200's date goes in its head. */
#define DATE_AT_200 (sizeof("HTTP/1.1 200 OK\r\nDate: ") - 1)

/* A whole 200's head for a file, copied as sl_serve_fields rendered it, its date put in. */
static void copy_whole_head(const struct sl_plan_env *env, const struct sl_request *req,
                            const struct sl_file_rep *rep, struct sl_plan *plan)
{
    struct sl_buf b = plan_begin(req, 200, plan);
    char *w = sl_buf_reserve(&b, rep->fields_len);
    if (w) {
        memcpy(w, rep->fields, rep->fields_len);
        memcpy(w + DATE_AT_200, env->date, SL_HTTPDATE_LEN);
    }
    head_end(env, req, plan, &b);
}

/* The bytes the --live script adds to an HTML body (0 when it is not put in). */
static size_t script_len(bool inject)
{
    return inject ? sl_inject_script().n : 0;
}

/* Plans an HTML body held in memory, with the --live script before its </body> when
 * `inject`. */
static void plan_html(struct sl_plan *plan, const char *body, size_t len, bool inject)
{
    plan->body_bytes = len + script_len(inject);
    if (!inject) {
        plan_mem(plan, body, len);
        return;
    }
    size_t at = sl_inject_find(body, len);
    struct sl_str script = sl_inject_script();
    plan_mem(plan, body, at);
    plan_mem(plan, script.p, script.n);
    if (at < len) /* the same memory, from `at` on */
        plan->segs[plan->nsegs++] = (struct sl_seg){.mem = body, .off = at, .len = len - at};
}

/* Appends a small body after the head in plan->out and plans it (not for HEAD), with
 * the --live script in it when `inject`. */
static void plan_body_after_head(struct sl_plan *plan, struct sl_buf *b, const char *body,
                                 size_t len, bool inject)
{
    size_t at = b->len;
    sl_buf_append(b, body, len);
    plan->overflow |= b->overflow;
    if (b->overflow || plan->head_only)
        return;
    plan_html(plan, plan->out + at, len, inject);
}

/* An error head holds only fixed fields and numbers (no name, no Location), well under
 * 1 KiB, and the configured extra fields, so head and page always fit in plan->out
 * together; so does a redirect's head with the longest Location. */
_Static_assert(1024 + SL_EXTRA_HEADERS_MAX + SL_ERROR_PAGE_MAX <= SL_OUT_MAX,
               "an error head and page fit in out");
_Static_assert(SL_URL_MAX + 1024 + SL_EXTRA_HEADERS_MAX <= SL_OUT_MAX,
               "a redirect head fits in out");

/* OPTIONS is allowed only to answer CORS preflights. */
static struct sl_str allowed_methods(const struct sl_plan_env *env)
{
    return env->cfg->cors ? SL_STR("GET, HEAD, OPTIONS") : SL_STR("GET, HEAD");
}

/* A built-in page as rendered: its head copied, the date put in, and its body sent from
 * where it was rendered. */
static void plan_built_in(const struct sl_plan_env *env, const struct sl_request *req,
                          const struct sl_built_in_page *page, bool must_close,
                          struct sl_plan *plan)
{
    int status = page->status;
    struct sl_buf b = plan_begin(req, status, plan);
    char *w = sl_buf_reserve(&b, page->head.n);
    if (w) {
        memcpy(w, page->head.p, page->head.n);
        memcpy(w + page->date_at, env->date, SL_HTTPDATE_LEN);
    }
    if (must_close)
        plan->keep_alive = false;
    if (status == 405)
        sl_head_field(&b, "Allow", allowed_methods(env));
    head_end(env, req, plan, &b);
    if (!plan->head_only) {
        plan->body_bytes = page->body.n;
        plan_mem(plan, page->body.p, page->body.n);
    }
}

/* An error page's head up to its extra fields, formatted. */
static struct sl_buf begin_error_head(const struct sl_plan_env *env, const struct sl_request *req,
                                      int status, uint64_t unsatisfied_size, size_t body_len,
                                      struct sl_plan *plan)
{
    struct sl_buf b = head_begin(env, req, status, plan);
    if (status == 503)
        sl_head_field(&b, "Retry-After", SL_STR("1"));
    if (status == 416) {
        sl_buf_puts(&b, "Content-Range: bytes */");
        sl_buf_put_u64(&b, unsatisfied_size);
        sl_buf_puts(&b, "\r\n");
    }
    sl_head_field(&b, "Content-Type", SL_STR("text/html; charset=utf-8"));
    sl_head_field_u64(&b, "Content-Length", body_len);
    return b;
}

/* An error page, with Content-Range for 416 (RFC 9110 §15.5.17), Retry-After for 503,
 * and the --live script when `inject`; its explanation, or the built-in one. */
static void plan_error_text(const struct sl_plan_env *env, const struct sl_request *req, int status,
                            bool must_close, uint64_t unsatisfied_size, const char *explanation,
                            bool inject, struct sl_plan *plan)
{
    char page[SL_ERROR_PAGE_MAX];
    const struct sl_built_in_page *built_in = explanation ? NULL : sl_built_in_page(status);
    struct sl_str body = built_in ? built_in->body : sl_str_make(NULL, 0);
    if (!body.p) {
        struct sl_buf pb = sl_buf_make(page, sizeof(page));
        if (explanation)
            sl_error_page_text(&pb, status, explanation);
        else
            sl_error_page(&pb, status);
        body = sl_str_make(page, pb.len);
    }
    struct sl_buf b =
        begin_error_head(env, req, status, unsatisfied_size, body.n + script_len(inject), plan);
    if (must_close)
        plan->keep_alive = false;
    if (status == 405)
        sl_head_field(&b, "Allow", allowed_methods(env));
    head_end(env, req, plan, &b);
    if (body.p == page)
        plan_body_after_head(plan, &b, page, body.n, inject);
    else if (!plan->head_only)
        plan_html(plan, body.p, body.n, inject); /* the page rendered once: nothing to copy */
}

/* The built-in page for status, as rendered when it can be (its head's fields come
 * first: not for the fields 503 and 416 put before them). */
static void plan_error(const struct sl_plan_env *env, const struct sl_request *req, int status,
                       bool must_close, uint64_t unsatisfied_size, struct sl_plan *plan)
{
    const struct sl_built_in_page *built_in = sl_built_in_page(status);
    if (built_in && status != 503 && status != 416)
        plan_built_in(env, req, built_in, must_close, plan);
    else
        plan_error_text(env, req, status, must_close, unsatisfied_size, NULL, false, plan);
}

/* A head that did not fit (a long Location or Content-Disposition) must never go out
 * cut short: answer with an error page instead, which always fits. */
static void plan_done(const struct sl_plan_env *env, const struct sl_request *req,
                      struct sl_plan *plan)
{
    if (plan->overflow)
        plan_error(env, req, 500, false, 0, plan);
}

void sl_serve_error(const struct sl_plan_env *env, const struct sl_request *req, int status,
                    bool must_close, struct sl_plan *plan)
{
    plan_error(env, req, status, must_close, 0, plan);
}

void sl_serve_built_in(const struct sl_plan_env *env, const struct sl_request *req,
                       const struct sl_built_in_page *page, struct sl_plan *plan)
{
    plan_built_in(env, req, page, false, plan);
}

void sl_serve_root_missing(const struct sl_plan_env *env, const struct sl_request *req,
                           struct sl_plan *plan)
{
    plan_error_text(env, req, 503, false, 0,
                    "The directory this server serves is missing right now, perhaps being "
                    "rebuilt. Try again in a moment.",
                    env->cfg->live, plan);
}

void sl_serve_event_stream(const struct sl_plan_env *env, const struct sl_request *req,
                           uint32_t boot, struct sl_plan *plan)
{
    struct sl_buf b = head_begin(env, req, 200, plan);
    /* No length: the body ends when the connection does (RFC 9112 §6.3). */
    plan->keep_alive = false;
    sl_head_field(&b, "Content-Type", SL_STR("text/event-stream"));
    sl_head_field(&b, "Cache-Control", SL_STR("no-cache"));
    head_end(env, req, plan, &b);
    /* retry: how soon the browser reconnects when the stream ends (sluice restarting). */
    char hello[64];
    int n =
        snprintf(hello, sizeof(hello), "retry: 500\nevent: hello\ndata: %08x\n\n", (unsigned)boot);
    plan_body_after_head(plan, &b, hello, (size_t)n, false);
    plan->stream = !plan->head_only && !plan->overflow;
    plan_done(env, req, plan);
}

int sl_serve_check(const struct sl_plan_env *env, const struct sl_request *req,
                   struct sl_path *path)
{
    if (req->method != HTTP_GET && req->method != HTTP_HEAD)
        return req->method == HTTP_OPTIONS && env->cfg->cors ? 204 : 405;
    int rc = sl_path_resolve(req->target.p, req->target.n, path);
    if (rc != 0)
        return rc;
    if (env->cfg->live && sl_inject_is_stream(path->rel, path->len))
        return SL_SERVE_EVENT_STREAM;
    if (!env->cfg->dotfiles && path->hidden)
        return 404;
    return 0;
}

/* ---- CORS preflight ---- */

/* Request fields sluice acts on, which a page may send from another origin once a
 * preflight allows them (Range beyond one simple range, the conditionals). */
static bool is_honoured_field(struct sl_str name)
{
    return sl_str_list_has(SL_STR("Range, If-Range, If-Match, If-None-Match, If-Modified-Since, "
                                  "If-Unmodified-Since, Accept, Accept-Encoding"),
                           name);
}

/* The names of Access-Control-Request-Headers that sluice honours, comma-separated as
 * the client spelled them; any other is left out, so the browser refuses the request
 * rather than send a field that would be ignored. */
static void put_allowed_fields(struct sl_buf *b, struct sl_str asked)
{
    bool first = true;
    struct sl_str name;
    while (sl_str_list_next(&asked, &name)) {
        if (is_honoured_field(name)) {
            if (!first)
                sl_buf_append(b, ", ", 2);
            sl_buf_append(b, name.p, name.n);
            first = false;
        }
    }
}

void sl_serve_options(const struct sl_plan_env *env, const struct sl_request *req,
                      struct sl_plan *plan)
{
    struct sl_buf b = head_begin(env, req, 204, plan);
    plan->head_only = true; /* 204: no body, no Content-Length (RFC 9110 §8.6) */
    sl_head_field(&b, "Allow", allowed_methods(env));
    if (req->cors_method.p) {
        /* Fetch §4.8: the method must be listed (GET and HEAD are also safelisted) and
         * every non-safelisted field named. */
        sl_head_field(&b, "Access-Control-Allow-Methods", SL_STR("GET, HEAD"));
        size_t at = b.len;
        sl_buf_puts(&b, "Access-Control-Allow-Headers: ");
        size_t names = b.len;
        if (req->cors_headers.p)
            put_allowed_fields(&b, req->cors_headers);
        if (b.len == names)
            sl_buf_truncate(&b, at); /* none to allow: no empty field */
        else
            sl_buf_puts(&b, "\r\n");
        /* Chromium keeps a preflight at most 2 hours, Firefox 24: ask for 2. */
        sl_head_field(&b, "Access-Control-Max-Age", SL_STR("7200"));
    }
    head_end(env, req, plan, &b);
    plan_done(env, req, plan);
}

/* ---- redirects ---- */

static void add_cache_control(const struct sl_plan_env *env, struct sl_buf *b);

/* The Location for a directory redirect: the client's own encoded path with one '/'
 * added, its query kept, and any run of leading slashes folded into one so the result
 * can never be read as a network-path reference ("//host/...", CVE-2021-28861).
 * Browsers read "\" as "/" in http URLs, so "/\host" would be one too: each backslash
 * is escaped, which names the same file here (decoded once). Returns the length, or 0
 * when it does not fit in cap. */
static size_t redirect_location(char *out, size_t cap, const struct sl_path *path)
{
    const char *p = path->raw_path;
    const char *end = p + path->raw_path_len;
    while (p + 1 < end && p[1] == '/')
        p++;
    struct sl_buf b = sl_buf_make(out, cap - 1);
    for (; p < end; p++) {
        if (*p == '\\')
            sl_buf_append(&b, "%5C", 3);
        else
            sl_buf_append(&b, p, 1);
    }
    sl_buf_append(&b, "/", 1);
    if (path->raw_query) {
        sl_buf_append(&b, "?", 1);
        sl_buf_append(&b, path->raw_query, path->raw_query_len);
    }
    if (b.overflow)
        return 0;
    out[b.len] = '\0';
    return b.len;
}

void sl_serve_redirect(const struct sl_plan_env *env, const struct sl_request *req,
                       const struct sl_path *path, struct sl_plan *plan)
{
    char location[SL_URL_MAX + 8];
    size_t len = redirect_location(location, sizeof(location), path);
    if (len == 0) {
        plan_error(env, req, 414, false, 0, plan);
        return;
    }
    static const char body[] = "<!DOCTYPE html>\n<title>301 Moved Permanently</title>"
                               "<p>This directory lives at its address with a final slash.</p>\n";
    struct sl_buf b = head_begin(env, req, 301, plan);
    sl_head_field(&b, "Location", sl_str_make(location, len));
    sl_head_field(&b, "Content-Type", SL_STR("text/html; charset=utf-8"));
    sl_head_field_u64(&b, "Content-Length", sizeof(body) - 1);
    /* As the files: browsers keep a 301 without Cache-Control for as long as they like
     * (RFC 9110 §15.4.2: heuristically cacheable), so a directory that later becomes a
     * file would stay redirected; with the files' policy they revalidate it the same. */
    add_cache_control(env, &b);
    head_end(env, req, plan, &b);
    plan_body_after_head(plan, &b, body, sizeof(body) - 1, false);
    plan_done(env, req, plan);
}

/* ---- listings ---- */

static bool wants_json(const struct sl_request *req)
{
    /* Enough for scripts: JSON when asked for by name and HTML not preferred first. */
    if (req->accept.p == NULL)
        return false;
    const char *end = req->accept.p + req->accept.n;
    for (const char *p = req->accept.p; p + 16 <= end; p++) {
        if (strncasecmp(p, "application/json", 16) == 0)
            return true;
        if (strncasecmp(p, "text/html", 9) == 0)
            return false;
    }
    return false;
}

/* The fields a listing's 200 and 304 share (RFC 9110 §15.4.5: a 304 carries the ETag,
 * Cache-Control and Vary the 200 would have). */
static void add_listing_validators(struct sl_buf *b, struct sl_str etag)
{
    sl_head_field(b, "ETag", etag);
    sl_head_field(b, "Cache-Control", SL_STR("no-cache"));
    sl_head_field(b, "Vary", SL_STR("Accept"));
}

/* A listing sends no Last-Modified (a directory's mtime misses an entry's new size or
 * time), so the date preconditions are ignored, as RFC 9110 §13.1.3-4 require when there
 * is no modification date; only the entity-tag ones are evaluated. */
static int listing_preconditions(const struct sl_request *req, struct sl_str etag)
{
    struct sl_cond_fields f = {.if_match = req->cond.if_match,
                               .if_none_match = req->cond.if_none_match};
    struct sl_validators v = {etag, 0};
    return sl_cond_evaluate(&f, &v);
}

/* The body is planned, not rendered: its exact length from the measured entries, and one
 * segment over the produced body, which respond.c attaches a producer to. So a listing
 * of any size costs its reader a chunk at a time, and HEAD renders nothing. */
static void serve_listing_body(const struct sl_plan_env *env, const struct sl_request *req,
                               const struct sl_path *path, const struct sl_listing *list,
                               enum sl_listing_format f, struct sl_plan *plan)
{
    char url_path[SL_LISTING_URL_MAX];
    if (sl_listing_url_path(path->rel, path->len, url_path, sizeof(url_path)) == 0) {
        plan_error(env, req, 414, false, 0, plan);
        return;
    }
    uint64_t len = sl_listing_body_len(list, f, url_path);
    struct sl_buf b = head_begin(env, req, 200, plan);
    /* JSON has no charset parameter (RFC 8259 §11): it is UTF-8 by definition. */
    sl_head_field(&b, "Content-Type",
                  f == SL_LISTING_JSON ? SL_STR("application/json")
                                       : SL_STR("text/html; charset=utf-8"));
    sl_head_field_u64(&b, "Content-Length", len);
    add_listing_validators(&b, sl_str_make(list->etag[f], list->etag_len[f]));
    head_end(env, req, plan, &b);
    if (!plan->head_only && len > 0) {
        plan->segs[plan->nsegs++] = (struct sl_seg){.mem = NULL, .off = 0, .len = len};
        plan->produce = f == SL_LISTING_JSON ? SL_PRODUCE_LISTING_JSON : SL_PRODUCE_LISTING_HTML;
        plan->body_bytes = len;
    }
}

/* A listing or an archive refused: a 403 page naming the limit the directory is over
 * (before, the limit, after), or a 503 while others' work takes the bound on memory. */
struct refusal {
    const char *before;
    const char *after;
    const char *busy;
};

static void serve_refused(const struct sl_plan_env *env, const struct sl_request *req,
                          bool too_many, unsigned limit, const struct refusal *r,
                          struct sl_plan *plan)
{
    char text[256];
    struct sl_buf b = sl_buf_make(text, sizeof(text) - 1);
    sl_buf_puts(&b, r->before);
    sl_buf_put_u64(&b, limit);
    sl_buf_puts(&b, r->after);
    text[b.len] = '\0';
    plan_error_text(env, req, too_many ? 403 : 503, false, 0, too_many ? text : r->busy, false,
                    plan);
}

void sl_serve_listing_refused(const struct sl_plan_env *env, const struct sl_request *req,
                              bool too_many, struct sl_plan *plan)
{
    static const struct refusal r = {
        "This directory has more than ",
        " entries, more than this server lists (--listing-max-entries).",
        "This server is busy listing other large directories. Try again in a moment.",
    };
    serve_refused(env, req, too_many, env->cfg->listing_max_entries, &r, plan);
}

void sl_serve_tar_refused(const struct sl_plan_env *env, const struct sl_request *req,
                          bool too_many, struct sl_plan *plan)
{
    static const struct refusal r = {
        "This directory holds more than ",
        " files and directories, more than this server puts in one archive "
        "(--tar-max-entries).",
        "This server is busy with other large archives. Try again in a moment.",
    };
    serve_refused(env, req, too_many, env->cfg->tar_max_entries, &r, plan);
}

/* The tag was worked out from the entries when they were read (sl_listing_measure), so a
 * revalidation that ends in 304 costs nothing here, not a page. */
void sl_serve_listing(const struct sl_plan_env *env, const struct sl_request *req,
                      const struct sl_path *path, const struct sl_listing *list,
                      struct sl_plan *plan)
{
    bool json = wants_json(req);
    enum sl_listing_format f = json ? SL_LISTING_JSON : SL_LISTING_HTML;
    struct sl_str etag = sl_str_make(list->etag[f], list->etag_len[f]);
    int cond = listing_preconditions(req, etag);
    if (cond == 412) {
        plan_error(env, req, 412, false, 0, plan);
    } else if (cond == 304) {
        struct sl_buf b = head_begin(env, req, 304, plan);
        add_listing_validators(&b, etag);
        head_end(env, req, plan, &b);
    } else {
        serve_listing_body(env, req, path, list, f, plan);
    }
    plan_done(env, req, plan);
}

/* ---- files ---- */

static void add_cache_control(const struct sl_plan_env *env, struct sl_buf *b)
{
    long max_age = env->cfg->max_age;
    if (max_age < 0 || env->revalidate) {
        /* Revalidate every time: an edited page is never shown stale, and the 304 that
         * answers an unchanged one costs almost nothing. */
        sl_head_field(b, "Cache-Control", SL_STR("no-cache"));
        return;
    }
    sl_buf_puts(b, "Cache-Control: public, max-age=");
    sl_buf_put_u64(b, (uint64_t)max_age);
    sl_buf_puts(b, "\r\n");
}

/* Whether the request asks for a download (path NULL: no). Most have no query at all,
 * which is found out without a call. */
static bool wants_download(const struct sl_path *path)
{
    return path && path->raw_query && sl_path_query_has(path, "download");
}

/* Head fields shared by 200, 206 and 304 for a file (RFC 9110 §15.4.5: a 304 carries
 * the validators and Cache-Control/Vary a 200 would have). */
static void add_validators(const struct sl_plan_env *env, struct sl_buf *b,
                           const struct sl_file_rep *rep)
{
    sl_head_field(b, "ETag", sl_str_make(rep->etag, rep->etag_len));
    /* Never a Last-Modified later than the Date of the same response (RFC 9110
     * §8.8.2.1): a file stamped in the future is sent as modified now. */
    const char *lm = rep->st.st_mtim.tv_sec > env->now ? env->date : rep->last_modified;
    sl_head_field(b, "Last-Modified", sl_str_make(lm, SL_HTTPDATE_LEN));
    add_cache_control(env, b);
    if (rep->variants)
        sl_head_field(b, "Vary", SL_STR("Accept-Encoding"));
}

/* The type, with the charset an HTML page declares itself when that is not utf-8. */
static void put_content_type(struct sl_buf *b, const struct sl_file_rep *rep)
{
    sl_buf_puts(b, rep->mime);
    if (rep->charset) {
        sl_buf_puts(b, "; charset=");
        sl_buf_puts(b, rep->charset);
    }
}

static void add_content_type(struct sl_buf *b, const struct sl_file_rep *rep)
{
    sl_buf_puts(b, "Content-Type: ");
    put_content_type(b, rep);
    sl_buf_puts(b, "\r\n");
}

static void add_content_encoding(struct sl_buf *b, const struct sl_file_rep *rep)
{
    const char *coding = sl_encoding_name(rep->encoding);
    if (coding)
        sl_head_field(b, "Content-Encoding", sl_str_cstr(coding));
}

/* path NULL: no download asked for. */
static void add_representation(struct sl_buf *b, const struct sl_file_rep *rep,
                               const struct sl_path *path)
{
    add_content_type(b, rep);
    add_content_encoding(b, rep);
    if (rep->attachment || wants_download(path)) {
        char value[3 * 255 * 2 + 128];
        size_t n = sl_content_disposition(value, sizeof(value), rep->name, rep->name_len);
        if (n < sizeof(value))
            sl_head_field(b, "Content-Disposition", sl_str_make(value, n));
    }
}

/* The fields of a whole file, Content-Type through Vary; path NULL: no download asked
 * for. Returns where the validators start. */
static size_t add_whole_fields(const struct sl_plan_env *env, struct sl_buf *b,
                               const struct sl_file_rep *rep, const struct sl_path *path,
                               uint64_t length)
{
    add_representation(b, rep, path);
    sl_head_field_u64(b, "Content-Length", length);
    sl_head_field(b, "Accept-Ranges", SL_STR("bytes"));
    size_t validators = b->len;
    add_validators(env, b, rep);
    return validators;
}

size_t sl_serve_fields(const struct sl_config *cfg, const struct sl_file_rep *rep, char *out,
                       size_t cap, size_t *validators)
{
    /* As of the file's own mtime, so its Last-Modified is its own: a response that
     * would clamp it (a file stamped later than its Date) formats its fields instead. */
    struct sl_plan_env env = {
        .cfg = cfg, .now = rep->st.st_mtim.tv_sec, .date = rep->last_modified};
    struct sl_buf b = sl_buf_make(out, cap);
    sl_head_begin(&b, 200, env.date); /* a stand-in date, of the right length */
    assert(b.overflow || memcmp(out + DATE_AT_200, env.date, SL_HTTPDATE_LEN) == 0);
    *validators = add_whole_fields(&env, &b, rep, NULL, (uint64_t)rep->st.st_size);
    return b.overflow ? 0 : b.len;
}

/* Whether rep's pre-rendered fields are what this response's validators would be: they
 * assume the configured Cache-Control and the file's own Last-Modified. A formatted head
 * and a copied one are the same bytes (test_serve.c checks). */
static bool fields_apply(const struct sl_plan_env *env, const struct sl_file_rep *rep)
{
    return rep->fields && !env->revalidate && rep->st.st_mtim.tv_sec <= env->now;
}

static void serve_not_modified(const struct sl_plan_env *env, const struct sl_request *req,
                               const struct sl_file_rep *rep, struct sl_plan *plan)
{
    if (fields_apply(env, rep)) {
        head_around(env, req, 304,
                    sl_str_make(rep->fields + rep->fields_validators,
                                rep->fields_len - rep->fields_validators),
                    plan);
        return;
    }
    struct sl_buf b = head_begin(env, req, 304, plan);
    add_validators(env, &b, rep);
    head_end(env, req, plan, &b);
}

static void put_content_range(struct sl_buf *b, const struct sl_range *r, uint64_t size)
{
    sl_buf_puts(b, "bytes ");
    sl_buf_put_u64(b, r->first);
    sl_buf_puts(b, "-");
    sl_buf_put_u64(b, r->last);
    sl_buf_puts(b, "/");
    sl_buf_put_u64(b, size);
}

static void serve_single_range(const struct sl_plan_env *env, const struct sl_request *req,
                               const struct sl_file_rep *rep, const struct sl_path *path,
                               const struct sl_range *r, struct sl_plan *plan)
{
    uint64_t len = r->last - r->first + 1;
    struct sl_buf b = head_begin(env, req, 206, plan);
    add_representation(&b, rep, path);
    sl_head_field_u64(&b, "Content-Length", len);
    sl_buf_puts(&b, "Content-Range: ");
    put_content_range(&b, r, (uint64_t)rep->st.st_size);
    sl_buf_puts(&b, "\r\n");
    sl_head_field(&b, "Accept-Ranges", SL_STR("bytes"));
    add_validators(env, &b, rep);
    head_end(env, req, plan, &b);
    if (!plan->head_only) {
        plan_body(plan, rep, r->first, len);
        plan->body_bytes = len;
    }
}

/* The part heads of multipart/byteranges (RFC 9110 §14.6) and the closing delimiter,
 * into pb; part_end[i] marks where part i's head ends. Returns the body's length. */
static uint64_t multipart_heads(struct sl_buf *pb, const char *boundary,
                                const struct sl_file_rep *rep, const struct sl_range *r,
                                size_t count, size_t part_end[])
{
    uint64_t total = 0;
    for (size_t i = 0; i < count; i++) {
        sl_buf_puts(pb, "\r\n--");
        sl_buf_puts(pb, boundary);
        sl_buf_puts(pb, "\r\nContent-Type: ");
        put_content_type(pb, rep);
        sl_buf_puts(pb, "\r\nContent-Range: ");
        put_content_range(pb, &r[i], (uint64_t)rep->st.st_size);
        sl_buf_puts(pb, "\r\n\r\n");
        part_end[i] = pb->len;
        total += r[i].last - r[i].first + 1;
    }
    sl_buf_puts(pb, "\r\n--");
    sl_buf_puts(pb, boundary);
    sl_buf_puts(pb, "--\r\n");
    return total + pb->len;
}

/* Plans the multipart body: each part's head from `parts` (copied after the response
 * head), then its bytes from the representation, then the closing delimiter. */
static void plan_multipart_body(struct sl_plan *plan, const struct sl_file_rep *rep,
                                const struct sl_range *r, size_t count, const char *parts,
                                const size_t part_end[], size_t tail_end)
{
    size_t start = 0;
    for (size_t i = 0; i < count; i++) {
        plan_mem(plan, parts + start, part_end[i] - start);
        plan_body(plan, rep, r[i].first, r[i].last - r[i].first + 1);
        start = part_end[i];
    }
    plan_mem(plan, parts + start, tail_end - start);
}

static void serve_multi_range(const struct sl_plan_env *env, const struct sl_request *req,
                              const struct sl_file_rep *rep, const struct sl_range *r, size_t count,
                              struct sl_plan *plan)
{
    char boundary[40];
    snprintf(boundary, sizeof(boundary), "sluice-%016llx", (unsigned long long)env->boundary);
    char parts[SL_OUT_MAX / 2];
    size_t part_end[SL_RANGE_MAX];
    struct sl_buf pb = sl_buf_make(parts, sizeof(parts));
    uint64_t total = multipart_heads(&pb, boundary, rep, r, count, part_end);

    struct sl_buf b = head_begin(env, req, 206, plan);
    sl_buf_puts(&b, "Content-Type: multipart/byteranges; boundary=");
    sl_buf_puts(&b, boundary);
    sl_buf_puts(&b, "\r\n");
    add_content_encoding(&b, rep);
    sl_head_field_u64(&b, "Content-Length", total);
    sl_head_field(&b, "Accept-Ranges", SL_STR("bytes"));
    add_validators(env, &b, rep);
    head_end(env, req, plan, &b);
    size_t base = b.len;
    sl_buf_append(&b, parts, pb.len);
    if (pb.overflow || b.overflow) {
        plan_error(env, req, 500, false, 0, plan);
        return;
    }
    if (plan->head_only)
        return;
    plan->body_bytes = total;
    plan_multipart_body(plan, rep, r, count, plan->out + base, part_end, pb.len);
}

/* The whole file, or with inject_at != SL_INJECT_NONE the page with the --live script
 * put in there: file[0, at) + script + file[at, end), never a byte read to do it. */
static void serve_whole(const struct sl_plan_env *env, const struct sl_request *req,
                        const struct sl_file_rep *rep, const struct sl_path *path,
                        uint64_t inject_at, struct sl_plan *plan)
{
    uint64_t size = (uint64_t)rep->st.st_size;
    bool inject = inject_at != SL_INJECT_NONE;
    uint64_t at = inject && inject_at < size ? inject_at : size;
    uint64_t length = size + script_len(inject);
    if (!inject && fields_apply(env, rep) && !wants_download(path)) {
        copy_whole_head(env, req, rep, plan);
    } else {
        struct sl_buf b = head_begin(env, req, 200, plan);
        add_whole_fields(env, &b, rep, path, length);
        head_end(env, req, plan, &b);
    }
    if (plan->head_only || length == 0)
        return;
    if (at > 0)
        plan_body(plan, rep, 0, at);
    if (inject) {
        struct sl_str script = sl_inject_script();
        plan_mem(plan, script.p, script.n);
    }
    if (at < size)
        plan_body(plan, rep, at, size - at);
    plan->body_bytes = length;
}

/* If-Range with a date only holds when that date is a strong validator: a
 * modification time less than a second before now could hide a second change within
 * the same second (RFC 9110 §8.8.2.2, §13.1.5). */
static bool if_range_ok(const struct sl_plan_env *env, const struct sl_request *req,
                        const struct sl_validators *v)
{
    struct sl_str f = sl_str_trim(req->cond.if_range);
    bool is_date = f.p && f.n > 0 && f.p[0] != '"' && !(f.n > 1 && f.p[0] == 'W' && f.p[1] == '/');
    if (is_date && v->last_modified + 1 > env->now)
        return false;
    return sl_cond_if_range_ok(req->cond.if_range, v);
}

static void serve_ranges(const struct sl_plan_env *env, const struct sl_request *req,
                         const struct sl_path *path, const struct sl_file_rep *rep,
                         struct sl_plan *plan)
{
    struct sl_range ranges[SL_RANGE_MAX];
    size_t count = 0;
    uint64_t size = (uint64_t)rep->st.st_size;
    switch (sl_range_parse(req->range.p, req->range.n, size, ranges, &count)) {
    case SL_RANGE_SATISFIABLE:
        if (count == 1)
            serve_single_range(env, req, rep, path, &ranges[0], plan);
        else
            serve_multi_range(env, req, rep, ranges, count, plan);
        break;
    case SL_RANGE_UNSATISFIABLE: plan_error(env, req, 416, false, size, plan); break;
    case SL_RANGE_IGNORE: serve_whole(env, req, rep, path, SL_INJECT_NONE, plan); break;
    }
}

void sl_serve_file(const struct sl_plan_env *env, const struct sl_request *req,
                   const struct sl_path *path, const struct sl_file_rep *rep, struct sl_plan *plan)
{
    /* --live: the page with the script is a representation of its own, with its own
     * ETag, so that no cache mixes it with the file's bytes (which a Range request
     * gets, byte for byte as without --live). */
    struct sl_file_rep injected;
    uint64_t inject_at = SL_INJECT_NONE;
    if (env->cfg->live && rep->inject_at != SL_INJECT_NONE && !req->range.p) {
        injected = *rep;
        injected.fields = NULL; /* they carry the file's own ETag and length */
        injected.etag_len = sl_inject_etag(injected.etag, rep->etag, rep->etag_len);
        if (injected.etag_len > 0) {
            rep = &injected;
            inject_at = rep->inject_at;
        }
    }
    struct sl_validators v = {sl_str_make(rep->etag, rep->etag_len), rep->st.st_mtim.tv_sec};
    int cond = sl_cond_present(&req->cond) ? sl_cond_evaluate(&req->cond, &v) : 0;
    if (cond == 412)
        plan_error(env, req, 412, false, 0, plan);
    else if (cond != 0)
        serve_not_modified(env, req, rep, plan);
    else if (!req->range.p || !if_range_ok(env, req, &v))
        serve_whole(env, req, rep, path, inject_at, plan);
    else
        serve_ranges(env, req, path, rep, plan);
    plan_done(env, req, plan);
}

void sl_serve_error_file(const struct sl_plan_env *env, const struct sl_request *req, int status,
                         const struct sl_file_rep *rep, struct sl_plan *plan)
{
    uint64_t size = (uint64_t)rep->st.st_size;
    struct sl_buf b = head_begin(env, req, status, plan);
    add_content_type(&b, rep);
    add_content_encoding(&b, rep);
    if (rep->variants)
        sl_head_field(&b, "Vary", SL_STR("Accept-Encoding"));
    sl_head_field_u64(&b, "Content-Length", size);
    sl_head_field(&b, "Cache-Control", SL_STR("no-cache"));
    head_end(env, req, plan, &b);
    if (!plan->head_only && size > 0) {
        plan_body(plan, rep, 0, size);
        plan->body_bytes = size;
    }
    plan_done(env, req, plan);
}
