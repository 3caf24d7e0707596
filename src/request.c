/* llhttp glue. Spans are recorded where they lie in the caller's buffer: llhttp may
 * deliver one field in several callbacks when bytes arrive in pieces, and because the
 * buffer is contiguous and never moves during a request, each piece extends the last. */
#include "sluice/request.h"

#include <string.h>

#include "sluice/str.h"

static struct sl_request *request_of(llhttp_t *p)
{
    return p->data;
}

/* Grows span s by the piece at `at`, which directly follows it in the buffer. */
static void span_extend(struct sl_str *s, const char *at, size_t len)
{
    if (s->p == NULL)
        s->p = at;
    s->n += len;
}

/* Any non-zero return stops llhttp with an error; error_status says which answer. */
static int reject(llhttp_t *p, int status)
{
    request_of(p)->error_status = (uint16_t)status;
    return -1;
}

/* Known early, so even a request rejected later (bad target, bad header) that was a
 * HEAD gets its error without a body. */
static int on_method_complete(llhttp_t *p)
{
    struct sl_request *req = request_of(p);
    req->method = p->method;
    req->method_known = true;
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
    struct sl_request *req = request_of(p);
    span_extend(&req->target, at, len);
    if (req->target.n > SL_URL_MAX)
        return reject(p, 414);
    return 0;
}

static int on_url_complete(llhttp_t *p)
{
    request_of(p)->url_done = true;
    return 0;
}

static int on_version(llhttp_t *p, const char *at, size_t len)
{
    span_extend(&request_of(p)->version, at, len);
    return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
    span_extend(&request_of(p)->field, at, len);
    return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
    span_extend(&request_of(p)->value, at, len);
    return 0;
}

/* The header fields we act on; everything else is parsed (and so validated) but not kept. */
static struct sl_str *field_slot(struct sl_request *req, struct sl_str name)
{
    static const struct {
        struct sl_str name;
        size_t offset;
    } fields[] = {
        {SL_STR_INIT("range"), offsetof(struct sl_request, range)},
        {SL_STR_INIT("accept"), offsetof(struct sl_request, accept)},
        {SL_STR_INIT("accept-encoding"), offsetof(struct sl_request, accept_encoding)},
        {SL_STR_INIT("user-agent"), offsetof(struct sl_request, user_agent)},
        {SL_STR_INIT("referer"), offsetof(struct sl_request, referer)},
        {SL_STR_INIT("if-match"), offsetof(struct sl_request, cond.if_match)},
        {SL_STR_INIT("if-none-match"), offsetof(struct sl_request, cond.if_none_match)},
        {SL_STR_INIT("if-modified-since"), offsetof(struct sl_request, cond.if_modified_since)},
        {SL_STR_INIT("if-unmodified-since"), offsetof(struct sl_request, cond.if_unmodified_since)},
        {SL_STR_INIT("if-range"), offsetof(struct sl_request, cond.if_range)},
    };
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        if (sl_str_caseeq(name, fields[i].name))
            return (struct sl_str *)((char *)req + fields[i].offset);
    }
    return NULL;
}

static int on_header_value_complete(llhttp_t *p)
{
    struct sl_request *req = request_of(p);
    struct sl_str value = sl_str_trim(req->value);
    if (value.p == NULL)
        value.p = ""; /* an empty field is present, not absent */
    if (++req->header_count > SL_HEADERS_MAX)
        return reject(p, 431);
    if (sl_str_caseeq(req->field, SL_STR("host"))) {
        req->host = value;
        req->host_count++;
    } else {
        struct sl_str *slot = field_slot(req, req->field);
        /* The first occurrence wins; these fields are not lists we need to merge
         * (a second If-None-Match line is rare enough to ignore safely). */
        if (slot != NULL && slot->p == NULL)
            *slot = value;
    }
    req->field = (struct sl_str){NULL, 0};
    req->value = (struct sl_str){NULL, 0};
    return 0;
}

static int on_headers_complete(llhttp_t *p)
{
    struct sl_request *req = request_of(p);
    req->complete = true;
    req->method = p->method;
    req->http_major = p->http_major;
    req->http_minor = p->http_minor;
    if (req->version.n == 0)
        return reject(p, 400); /* "GET /" with no version: HTTP/0.9 is not served */
    if (p->http_major != 1 || p->http_minor > 1)
        return reject(p, 505);
    /* RFC 9112 §3.2: a 1.1 request must carry exactly one Host field. */
    if (req->host_count > 1 || (p->http_minor == 1 && req->host_count == 0))
        return reject(p, 400);
    /* After a CONNECT the client may start tunnelling at once (RFC 9110 §9.3.6): bytes
     * that follow are not requests, so a refused CONNECT ends the connection. */
    req->keep_alive = llhttp_should_keep_alive(p) && p->method != HTTP_CONNECT;
    req->has_body = (p->flags & F_CHUNKED) || p->content_length > 0;
    /* A request with a body stops here: the answer does not depend on the body, and the
     * connection closes after it, so the body is never read as the next request. */
    return req->has_body ? HPE_PAUSED : 0;
}

/* Bodyless requests stop at their end, leaving pipelined bytes unparsed in the buffer. */
static int on_message_complete(llhttp_t *p)
{
    return HPE_PAUSED;
}

/* Read-only and shared by every parser on every thread; unset callbacks are NULL, as
 * llhttp_settings_init would leave them. */
static const llhttp_settings_t settings = {
    .on_method_complete = on_method_complete,
    .on_url = on_url,
    .on_url_complete = on_url_complete,
    .on_version = on_version,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_message_complete = on_message_complete,
};

void sl_request_init(llhttp_t *parser, struct sl_request *req)
{
    *req = (struct sl_request){0};
    llhttp_init(parser, HTTP_REQUEST, &settings);
    parser->data = req;
}

/* The status for a parser error llhttp found on its own. A well-formed version other
 * than 1.0/1.1 ("HTTP/1.2", "HTTP/3.0") is 505 (RFC 9110 §15.6.6); anything else
 * malformed, including junk after a valid version, is 400. */
static int status_for_error(const llhttp_t *p, const struct sl_request *req)
{
    struct sl_str v = req->version;
    bool well_formed = v.n == 3 && sl_is_digit((unsigned char)v.p[0]) && v.p[1] == '.' &&
                       sl_is_digit((unsigned char)v.p[2]);
    bool supported = well_formed && v.p[0] == '1' && v.p[2] <= '1';
    if (llhttp_get_errno(p) == HPE_INVALID_VERSION && well_formed && !supported)
        return 505;
    return 400;
}

/* An HTTP/0.9 request line ("GET /x" and a line end, no version): llhttp takes it as
 * 0.9 and waits for header lines that such a client never sends, so the client would
 * hear nothing until the head timeout. A line end in the bytes after the target while
 * no version has been seen is that line: it is answered 400 at once, like a 0.9 line
 * followed by more bytes already is (on_headers_complete). */
static bool request_line_lacks_version(const struct sl_request *req, const char *data, size_t len)
{
    if (req->target.n == 0 || req->version.n > 0)
        return false;
    const char *from = req->target.p + req->target.n;
    const char *end = data + len;
    if (from < data || from > end)
        from = data;
    return memchr(from, '\n', (size_t)(end - from)) != NULL;
}

int sl_request_feed(llhttp_t *parser, struct sl_request *req, const char *data, size_t len,
                    size_t *consumed)
{
    llhttp_errno_t err = llhttp_execute(parser, data, len);
    if (err == HPE_OK) {
        if (request_line_lacks_version(req, data, len))
            return 400;
        *consumed = len;
        return SL_PARSE_MORE;
    }
    if (err == HPE_PAUSED) {
        *consumed = (size_t)(llhttp_get_error_pos(parser) - data);
        return SL_PARSE_READY;
    }
    if (req->error_status != 0)
        return req->error_status;
    return status_for_error(parser, req);
}

int sl_request_overflow_status(const struct sl_request *req)
{
    return req->url_done ? 431 : 414;
}
