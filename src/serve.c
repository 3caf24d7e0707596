/* Request to response plan: method and target checks, routing, validators and
 * conditional requests, ranges, precompressed variants, listings and error pages.
 * The plan is a response head in ex->out plus body segments (memory or file ranges)
 * that conn.c sends. */
#include "sluice/serve.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sluice/cond.h"
#include "sluice/encode.h"
#include "sluice/filecache.h"
#include "sluice/listing.h"
#include "sluice/mime.h"
#include "sluice/negotiate.h"
#include "sluice/path.h"
#include "sluice/range.h"
#include "sluice/response.h"
#include "sluice/router.h"

/* ---- plan helpers ---- */

static void plan_mem(struct sl_exchange *ex, const char *p, size_t len)
{
    ex->segs[ex->nsegs++] = (struct sl_seg){.mem = p, .off = 0, .len = len};
}

static void plan_file(struct sl_exchange *ex, uint64_t off, uint64_t len)
{
    ex->segs[ex->nsegs++] = (struct sl_seg){.mem = NULL, .off = off, .len = len};
}

/* Body bytes from the representation: cached contents, or the open file. */
static void plan_body(struct sl_exchange *ex, const struct sl_file_rep *rep, uint64_t off,
                      uint64_t len)
{
    if (rep->data)
        plan_mem(ex, rep->data + off, (size_t)len);
    else
        plan_file(ex, off, len);
}

static bool is_http10(const struct sl_exchange *ex)
{
    return ex->req.http_major == 1 && ex->req.http_minor == 0;
}

/* Starts a response head in ex->out with the fields every response carries. */
static struct sl_buf head_begin(struct sl_worker *w, struct sl_exchange *ex, int status)
{
    struct sl_buf b = sl_buf_make(ex->out, sizeof(ex->out));
    ex->status = status;
    ex->nsegs = 0;
    ex->body_bytes = 0;
    ex->overflow = false;
    sl_head_begin(&b, status, sl_worker_date(w));
    return b;
}

/* Ends the head and plans it as the first segment. */
static void head_end(struct sl_exchange *ex, struct sl_buf *b)
{
    sl_head_end(b, ex->keep_alive, is_http10(ex));
    plan_mem(ex, b->p, b->len);
    ex->head_len = b->len;
    ex->overflow |= b->overflow;
}

/* Appends a small body after the head in ex->out and plans it (not for HEAD). */
static void plan_body_after_head(struct sl_exchange *ex, struct sl_buf *b, const char *body,
                                 size_t len)
{
    size_t at = b->len;
    sl_buf_append(b, body, len);
    ex->overflow |= b->overflow;
    if (b->overflow || ex->head_only)
        return;
    plan_mem(ex, ex->out + at, len);
    ex->body_bytes = len;
}

void sl_serve_error(struct sl_worker *w, struct sl_exchange *ex, int status, bool must_close)
{
    sl_exchange_drop_file(ex);
    if (must_close)
        ex->keep_alive = false;
    ex->head_only = ex->req.method_known && ex->req.method == HTTP_HEAD;
    char page[1024];
    struct sl_buf body = sl_buf_make(page, sizeof(page));
    sl_error_page(&body, status);
    struct sl_buf b = head_begin(w, ex, status);
    sl_head_field(&b, "Content-Type", SL_STR("text/html; charset=utf-8"));
    sl_head_field_u64(&b, "Content-Length", body.len);
    if (status == 405)
        sl_head_field(&b, "Allow", SL_STR("GET, HEAD"));
    head_end(ex, &b);
    plan_body_after_head(ex, &b, page, body.len);
}

static void serve_redirect(struct sl_worker *w, struct sl_exchange *ex, const struct sl_path *path)
{
    char location[SL_URL_MAX + 8];
    size_t len = sl_redirect_location(location, sizeof(location), path);
    if (len == 0) {
        sl_serve_error(w, ex, 414, false);
        return;
    }
    static const char body[] = "<!DOCTYPE html>\n<title>301 Moved Permanently</title>"
                               "<p>This directory lives at its address with a final slash.</p>\n";
    struct sl_buf b = head_begin(w, ex, 301);
    sl_head_field(&b, "Location", sl_str_make(location, len));
    sl_head_field(&b, "Content-Type", SL_STR("text/html; charset=utf-8"));
    sl_head_field_u64(&b, "Content-Length", sizeof(body) - 1);
    head_end(ex, &b);
    plan_body_after_head(ex, &b, body, sizeof(body) - 1);
}

static void add_cache_control(struct sl_worker *w, struct sl_buf *b)
{
    long max_age = w->cfg->max_age;
    if (max_age < 0) {
        /* Revalidate every time: an edited page is never shown stale, and the 304 that
         * answers an unchanged one costs almost nothing. */
        sl_head_field(b, "Cache-Control", SL_STR("no-cache"));
        return;
    }
    sl_buf_puts(b, "Cache-Control: public, max-age=");
    sl_buf_put_u64(b, (uint64_t)max_age);
    sl_buf_puts(b, "\r\n");
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

static void serve_listing(struct sl_worker *w, struct sl_exchange *ex, const struct sl_path *path,
                          int dirfd)
{
    struct sl_listing list;
    int rc = sl_listing_read(dirfd, w->cfg->root_fd, path->rel, w->cfg->dotfiles, &list);
    close(dirfd);
    if (rc < 0) {
        sl_serve_error(w, ex, sl_status_for_errno(-rc), false);
        return;
    }
    char url_path[SL_PATH_MAX + 2];
    snprintf(url_path, sizeof(url_path), "/%s%s", path->rel, path->len ? "/" : "");
    bool json = wants_json(&ex->req);
    size_t len = 0;
    char *body =
        json ? sl_listing_json(&list, url_path, &len) : sl_listing_html(&list, url_path, &len);
    sl_listing_free(&list);
    if (!body) {
        sl_serve_error(w, ex, 500, false);
        return;
    }
    ex->heap = body;
    struct sl_buf b = head_begin(w, ex, 200);
    sl_head_field(&b, "Content-Type",
                  json ? SL_STR("application/json; charset=utf-8")
                       : SL_STR("text/html; charset=utf-8"));
    sl_head_field_u64(&b, "Content-Length", len);
    sl_head_field(&b, "Cache-Control", SL_STR("no-cache"));
    sl_head_field(&b, "Vary", SL_STR("Accept"));
    head_end(ex, &b);
    if (!ex->head_only) {
        plan_mem(ex, body, len);
        ex->body_bytes = len;
    }
}

/* ---- files ---- */

/* Opens name.br / name.zst / name.gz when the client accepts it, it is a regular file
 * and at least as new as the original. Returns its descriptor and stat, or -1. */
static int open_variant(struct sl_worker *w, const struct sl_exchange *ex,
                        const struct sl_path *path, const struct sl_route *route,
                        struct sl_file_rep *rep, struct stat *vst)
{
    static const int order[] = {SL_ENC_BR, SL_ENC_ZSTD, SL_ENC_GZIP};
    const struct stat *orig = &route->st;
    int fds[3] = {-1, -1, -1};
    struct stat sts[3];
    unsigned available = 0;
    /* A directory's index is the file "<dir>/index.html", whose variants lie beside it. */
    const char *sep = route->is_index && path->len ? "/" : "";
    const char *index = route->is_index ? "index.html" : "";
    char name[SL_PATH_MAX + 32];
    for (int i = 0; i < 3; i++) {
        int n = snprintf(name, sizeof(name), "%s%s%s%s", path->rel, sep, index,
                         sl_encoding_suffix(order[i]));
        if (n < 0 || (size_t)n >= sizeof(name))
            continue;
        int fd = sl_open_beneath(w->cfg->root_fd, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0)
            continue;
        if (fstat(fd, &sts[i]) == 0 && S_ISREG(sts[i].st_mode) &&
            (sts[i].st_mtim.tv_sec > orig->st_mtim.tv_sec ||
             (sts[i].st_mtim.tv_sec == orig->st_mtim.tv_sec &&
              sts[i].st_mtim.tv_nsec >= orig->st_mtim.tv_nsec))) {
            fds[i] = fd;
            available |= (unsigned)order[i];
        } else {
            close(fd);
        }
    }
    rep->has_variants = available != 0;
    int chosen = -1;
    if (available) {
        int enc =
            sl_negotiate_encoding(ex->req.accept_encoding.p, ex->req.accept_encoding.n, available);
        for (int i = 0; i < 3; i++) {
            if (enc == order[i] && fds[i] >= 0)
                chosen = i;
        }
    }
    for (int i = 0; i < 3; i++) {
        if (i != chosen && fds[i] >= 0)
            close(fds[i]);
    }
    if (chosen < 0)
        return -1;
    rep->encoding = order[chosen];
    *vst = sts[chosen];
    return fds[chosen];
}

/* Whether the query asks for a download: "download" as a parameter name. */
static bool query_wants_download(const struct sl_path *path)
{
    const char *p = path->raw_query;
    if (!p)
        return false;
    const char *end = p + path->raw_query_len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        size_t n = (size_t)(stop - p);
        const char *eq = memchr(p, '=', n);
        size_t name_len = eq ? (size_t)(eq - p) : n;
        if (name_len == 8 && memcmp(p, "download", 8) == 0)
            return true;
        p = stop + 1;
    }
    return false;
}

/* Head fields shared by 200, 206 and 304 for a file (RFC 9110 §15.4.5: a 304 carries
 * the validators and Cache-Control/Vary a 200 would have). */
static void add_validators(struct sl_worker *w, struct sl_buf *b, const struct sl_file_rep *rep)
{
    sl_head_field(b, "ETag", sl_str_make(rep->etag, rep->etag_len));
    /* Never a Last-Modified later than the Date of the same response (RFC 9110
     * §8.8.2.1): a file stamped in the future is sent as modified now. head_begin has
     * just brought w->date to this second. */
    const char *lm = rep->st.st_mtim.tv_sec > w->date_sec ? w->date : rep->last_modified;
    sl_head_field(b, "Last-Modified", sl_str_make(lm, SL_HTTPDATE_LEN));
    add_cache_control(w, b);
    if (rep->has_variants)
        sl_head_field(b, "Vary", SL_STR("Accept-Encoding"));
}

static void add_representation(struct sl_buf *b, const struct sl_file_rep *rep,
                               const struct sl_path *path)
{
    sl_head_field(b, "Content-Type", sl_str_cstr(rep->mime));
    const char *coding = sl_encoding_name(rep->encoding);
    if (coding)
        sl_head_field(b, "Content-Encoding", sl_str_cstr(coding));
    if (query_wants_download(path)) {
        char value[3 * 255 * 2 + 128];
        size_t n = sl_content_disposition(value, sizeof(value), rep->name, rep->name_len);
        if (n < sizeof(value))
            sl_head_field(b, "Content-Disposition", sl_str_make(value, n));
    }
}

static void serve_not_modified(struct sl_worker *w, struct sl_exchange *ex,
                               const struct sl_file_rep *rep, int status)
{
    sl_exchange_drop_file(ex);
    if (status == 412) {
        sl_serve_error(w, ex, 412, false);
        return;
    }
    struct sl_buf b = head_begin(w, ex, 304);
    add_validators(w, &b, rep);
    head_end(ex, &b);
}

static void serve_unsatisfiable(struct sl_worker *w, struct sl_exchange *ex,
                                const struct sl_file_rep *rep)
{
    sl_exchange_drop_file(ex);
    char page[1024];
    struct sl_buf body = sl_buf_make(page, sizeof(page));
    sl_error_page(&body, 416);
    struct sl_buf b = head_begin(w, ex, 416);
    sl_buf_puts(&b, "Content-Range: bytes */");
    sl_buf_put_u64(&b, (uint64_t)rep->st.st_size);
    sl_buf_puts(&b, "\r\n");
    sl_head_field(&b, "Content-Type", SL_STR("text/html; charset=utf-8"));
    sl_head_field_u64(&b, "Content-Length", body.len);
    head_end(ex, &b);
    plan_body_after_head(ex, &b, page, body.len);
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

static void serve_single_range(struct sl_worker *w, struct sl_exchange *ex,
                               const struct sl_file_rep *rep, const struct sl_path *path,
                               const struct sl_range *r)
{
    uint64_t len = r->last - r->first + 1;
    struct sl_buf b = head_begin(w, ex, 206);
    add_representation(&b, rep, path);
    sl_head_field_u64(&b, "Content-Length", len);
    sl_buf_puts(&b, "Content-Range: ");
    put_content_range(&b, r, (uint64_t)rep->st.st_size);
    sl_buf_puts(&b, "\r\n");
    sl_head_field(&b, "Accept-Ranges", SL_STR("bytes"));
    add_validators(w, &b, rep);
    head_end(ex, &b);
    if (!ex->head_only) {
        plan_body(ex, rep, r->first, len);
        ex->body_bytes = len;
    }
}

/* multipart/byteranges (RFC 9110 §14.6): each part's head lives in ex->out after the
 * response head; the bytes come from the file by sendfile like any other body. */
static void serve_multi_range(struct sl_worker *w, struct sl_exchange *ex,
                              const struct sl_file_rep *rep, const struct sl_range *r, size_t count)
{
    char boundary[40];
    snprintf(boundary, sizeof(boundary), "sluice-%08x%016llx", w->index,
             (unsigned long long)(uv_hrtime() ^ (uint64_t)(uintptr_t)ex));
    uint64_t size = (uint64_t)rep->st.st_size;
    /* Part heads first, into a scratch area, to know the total length. */
    char parts[SL_OUT_MAX / 2];
    size_t part_end[SL_RANGE_MAX];
    struct sl_buf pb = sl_buf_make(parts, sizeof(parts));
    uint64_t total = 0;
    for (size_t i = 0; i < count; i++) {
        sl_buf_puts(&pb, "\r\n--");
        sl_buf_puts(&pb, boundary);
        sl_buf_puts(&pb, "\r\nContent-Type: ");
        sl_buf_puts(&pb, rep->mime);
        sl_buf_puts(&pb, "\r\nContent-Range: ");
        put_content_range(&pb, &r[i], size);
        sl_buf_puts(&pb, "\r\n\r\n");
        part_end[i] = pb.len;
        total += r[i].last - r[i].first + 1;
    }
    size_t tail_start = pb.len;
    sl_buf_puts(&pb, "\r\n--");
    sl_buf_puts(&pb, boundary);
    sl_buf_puts(&pb, "--\r\n");
    total += pb.len;

    struct sl_buf b = head_begin(w, ex, 206);
    sl_buf_puts(&b, "Content-Type: multipart/byteranges; boundary=");
    sl_buf_puts(&b, boundary);
    sl_buf_puts(&b, "\r\n");
    const char *coding = sl_encoding_name(rep->encoding);
    if (coding)
        sl_head_field(&b, "Content-Encoding", sl_str_cstr(coding));
    sl_head_field_u64(&b, "Content-Length", total);
    sl_head_field(&b, "Accept-Ranges", SL_STR("bytes"));
    add_validators(w, &b, rep);
    head_end(ex, &b);
    size_t base = b.len;
    sl_buf_append(&b, parts, pb.len);
    if (pb.overflow || b.overflow) {
        sl_serve_error(w, ex, 500, false);
        return;
    }
    if (ex->head_only)
        return;
    ex->body_bytes = total;
    size_t start = 0;
    for (size_t i = 0; i < count; i++) {
        plan_mem(ex, ex->out + base + start, part_end[i] - start);
        plan_body(ex, rep, r[i].first, r[i].last - r[i].first + 1);
        start = part_end[i];
    }
    plan_mem(ex, ex->out + base + tail_start, pb.len - tail_start);
}

static void serve_whole(struct sl_worker *w, struct sl_exchange *ex, const struct sl_file_rep *rep,
                        const struct sl_path *path)
{
    uint64_t size = (uint64_t)rep->st.st_size;
    struct sl_buf b = head_begin(w, ex, 200);
    add_representation(&b, rep, path);
    sl_head_field_u64(&b, "Content-Length", size);
    sl_head_field(&b, "Accept-Ranges", SL_STR("bytes"));
    add_validators(w, &b, rep);
    head_end(ex, &b);
    if (!ex->head_only && size > 0) {
        plan_body(ex, rep, 0, size);
        ex->body_bytes = size;
    }
}

/* If-Range with a date only holds when that date is a strong validator: a
 * modification time less than a second before now could hide a second change within
 * the same second (RFC 9110 §8.8.2.2, §13.1.5). */
static bool if_range_ok(struct sl_worker *w, const struct sl_exchange *ex,
                        const struct sl_validators *v)
{
    struct sl_str f = sl_str_trim(ex->req.cond.if_range);
    bool is_date = f.p && f.n > 0 && f.p[0] != '"' && !(f.n > 1 && f.p[0] == 'W' && f.p[1] == '/');
    sl_worker_date(w); /* brings date_sec to now */
    if (is_date && v->last_modified + 1 > w->date_sec)
        return false;
    return sl_cond_if_range_ok(ex->req.cond.if_range, v);
}

/* Answers from a representation: preconditions, then ranges, then the whole. */
static void serve_rep(struct sl_worker *w, struct sl_exchange *ex, const struct sl_file_rep *rep,
                      const struct sl_path *path)
{
    struct sl_validators v = {sl_str_make(rep->etag, rep->etag_len), rep->st.st_mtim.tv_sec};
    int cond = sl_cond_evaluate(&ex->req.cond, &v);
    if (cond != 0) {
        serve_not_modified(w, ex, rep, cond);
        return;
    }
    if (!ex->req.range.p || !if_range_ok(w, ex, &v)) {
        serve_whole(w, ex, rep, path);
        return;
    }
    struct sl_range ranges[SL_RANGE_MAX];
    size_t count = 0;
    switch (sl_range_parse(ex->req.range.p, ex->req.range.n, (uint64_t)rep->st.st_size, ranges,
                           &count)) {
    case SL_RANGE_SATISFIABLE:
        if (count == 1)
            serve_single_range(w, ex, rep, path, &ranges[0]);
        else
            serve_multi_range(w, ex, rep, ranges, count);
        break;
    case SL_RANGE_UNSATISFIABLE: serve_unsatisfiable(w, ex, rep); break;
    case SL_RANGE_IGNORE: serve_whole(w, ex, rep, path); break;
    }
}

/* Describes the opened file (or its precompressed variant) for the response. */
static void describe_file(struct sl_worker *w, struct sl_exchange *ex, const struct sl_path *path,
                          const struct sl_route *route, struct sl_file_rep *rep)
{
    *rep = (struct sl_file_rep){.st = route->st, .encoding = SL_ENC_IDENTITY};
    rep->mime = sl_mime_type(route->name, route->name_len);
    rep->name = route->name;
    rep->name_len = route->name_len;
    ex->file_fd = route->fd;
    /* Looked for even without Accept-Encoding: the identity response of a file that
     * has variants must say Vary too. */
    struct stat vst;
    int vfd = open_variant(w, ex, path, route, rep, &vst);
    if (vfd >= 0) {
        close(ex->file_fd);
        ex->file_fd = vfd;
        rep->st = vst;
    }
    /* Validators of the representation actually sent: each encoding has its own. */
    rep->etag_len = sl_etag_format(rep->etag, (uint64_t)rep->st.st_size, rep->st.st_mtim.tv_sec,
                                   rep->st.st_mtim.tv_nsec, sl_encoding_name(rep->encoding));
    sl_httpdate_format(rep->st.st_mtim.tv_sec, rep->last_modified);
}

/* Answers from the pinned cache entry: remembered 404, contents, or its descriptor. */
static void serve_cached(struct sl_worker *w, struct sl_exchange *ex, const struct sl_path *path)
{
    struct sl_cache_entry *e = ex->pinned;
    if (e->status != 0) {
        sl_serve_error(w, ex, e->status, false);
        return;
    }
    sl_exchange_drop_file(ex);
    if (e->fd >= 0) {
        ex->file_fd = e->fd;
        ex->file_borrowed = true;
    }
    serve_rep(w, ex, &e->rep, path);
    if (ex->nsegs == 1)
        sl_exchange_drop_file(ex);
}

/* The cache key: the clean path, plus '/' when the directory form was asked for (that
 * form names the directory's index.html). */
static size_t cache_key(const struct sl_path *path, char *key, size_t cap)
{
    if (path->len + 1 >= cap)
        return 0;
    memcpy(key, path->rel, path->len);
    size_t n = path->len;
    if (path->trailing_slash)
        key[n++] = '/';
    return n;
}

static void serve_file(struct sl_worker *w, struct sl_exchange *ex, const struct sl_path *path,
                       const struct sl_route *route, const char *key, size_t key_len)
{
    struct sl_file_rep rep;
    describe_file(w, ex, path, route, &rep);
    /* Identity files without variants are cached for the next requests (a file with
     * variants is negotiated afresh each time). */
    if (key_len > 0 && rep.encoding == SL_ENC_IDENTITY && !rep.has_variants) {
        ex->pinned = sl_cache_put(&w->cache, key, key_len, uv_now(&w->loop), &rep, &ex->file_fd);
        if (ex->pinned) {
            serve_cached(w, ex, path);
            return;
        }
    }
    serve_rep(w, ex, &rep, path);
    if (ex->nsegs == 1)
        sl_exchange_drop_file(ex); /* nothing to send from it (HEAD, 304, empty file) */
}

/* ---- entry ---- */

static void plan_response(struct sl_worker *w, struct sl_exchange *ex)
{
    struct sl_request *req = &ex->req;
    /* A request with a body ends the connection: its body is never parsed as a request. */
    ex->keep_alive = req->keep_alive && !req->has_body;
    ex->head_only = req->method == HTTP_HEAD;
    if (req->method != HTTP_GET && req->method != HTTP_HEAD) {
        sl_serve_error(w, ex, 405, false);
        return;
    }
    struct sl_path path;
    int rc = sl_path_resolve(req->target.p, req->target.n, &path);
    if (rc != 0) {
        sl_serve_error(w, ex, rc, rc == 400);
        return;
    }
    if (!w->cfg->dotfiles && sl_path_has_hidden_segment(path.rel, path.len)) {
        sl_serve_error(w, ex, 404, false);
        return;
    }
    char key[SL_PATH_MAX + 1];
    size_t key_len = cache_key(&path, key, sizeof(key));
    ex->pinned = key_len ? sl_cache_get(&w->cache, key, key_len, uv_now(&w->loop)) : NULL;
    if (ex->pinned) {
        serve_cached(w, ex, &path);
        return;
    }
    struct sl_route route;
    sl_router_resolve(w->cfg, &path, &route);
    if (route.kind == SL_ROUTE_ERROR && route.status == 404 && key_len > 0)
        sl_cache_put_missing(&w->cache, key, key_len, uv_now(&w->loop));
    switch (route.kind) {
    case SL_ROUTE_ERROR: sl_serve_error(w, ex, route.status, false); return;
    case SL_ROUTE_REDIRECT: serve_redirect(w, ex, &path); return;
    case SL_ROUTE_LISTING: serve_listing(w, ex, &path, route.fd); return;
    case SL_ROUTE_FILE: serve_file(w, ex, &path, &route, key, key_len); return;
    }
}

void sl_serve(struct sl_worker *w, struct sl_exchange *ex)
{
    plan_response(w, ex);
    /* A head that did not fit (a long Location or Content-Disposition) must never go out
     * cut short: answer with an error page instead, which always fits. */
    if (ex->overflow) {
        ex->overflow = false;
        sl_serve_error(w, ex, 500, false);
    }
}
