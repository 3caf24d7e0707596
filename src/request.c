/* llhttp glue. Spans are recorded where they lie in the caller's buffer: llhttp may
 * deliver one field in several callbacks when bytes arrive in pieces, and because the
 * buffer is contiguous and never moves during a request, each piece extends the last. */
#include "sluice/request.h"

#include <string.h>

#include "sluice/path.h"
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

/* Whether field name `name` (any case) is `lower`, a name written in lower case: each byte
 * equal, or the upper-case form of a letter. One side to fold, not two: the names of
 * every header line are compared. */
static bool field_name_is(struct sl_str name, struct sl_str lower)
{
    if (name.n != lower.n)
        return false;
    for (size_t i = 0; i < name.n; i++) {
        unsigned char c = (unsigned char)name.p[i];
        unsigned char l = (unsigned char)lower.p[i];
        if (c != l && !(l >= 'a' && l <= 'z' && c == l - ('a' - 'A')))
            return false;
    }
    return true;
}

/* A field we act on: where its value goes, and whether it is a list (RFC 9110 §5.6.1)
 * whose lines are combined. */
struct field_spec {
    struct sl_str name;
    size_t offset;
    bool list;
};

/* The header fields we act on; everything else is parsed (and so validated) but not kept. */
static const struct field_spec *field_spec(struct sl_str name)
{
    static const struct field_spec fields[] = {
        {SL_STR_INIT("range"), offsetof(struct sl_request, range), false},
        {SL_STR_INIT("accept"), offsetof(struct sl_request, accept), false},
        {SL_STR_INIT("accept-encoding"), offsetof(struct sl_request, accept_encoding), true},
        {SL_STR_INIT("user-agent"), offsetof(struct sl_request, user_agent), false},
        {SL_STR_INIT("referer"), offsetof(struct sl_request, referer), false},
        {SL_STR_INIT("if-match"), offsetof(struct sl_request, cond.if_match), true},
        {SL_STR_INIT("if-none-match"), offsetof(struct sl_request, cond.if_none_match), true},
        {SL_STR_INIT("if-modified-since"), offsetof(struct sl_request, cond.if_modified_since),
         false},
        {SL_STR_INIT("if-unmodified-since"), offsetof(struct sl_request, cond.if_unmodified_since),
         false},
        {SL_STR_INIT("if-range"), offsetof(struct sl_request, cond.if_range), false},
        {SL_STR_INIT("access-control-request-method"), offsetof(struct sl_request, cors_method),
         false},
        {SL_STR_INIT("access-control-request-headers"), offsetof(struct sl_request, cors_headers),
         false},
    };
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        if (field_name_is(name, fields[i].name))
            return &fields[i];
    }
    return NULL;
}

/* RFC 9110 §5.3: a list field sent on several lines means one value, the lines joined
 * in order with commas. The first line stays a span into the head buffer; from the
 * second on, the joined value is written to req->joined, so cond.c and negotiate.c see
 * one list as if it had come on one line. A value already at the end of `joined` grows
 * in place; another one is copied after it (fields may interleave). False when the
 * joined values do not fit. */
static bool join_line(struct sl_request *req, struct sl_str *slot, struct sl_str line)
{
    bool at_end = slot->p + slot->n == req->joined + req->joined_len && slot->n > 0 &&
                  req->joined_len >= slot->n;
    size_t need = (at_end ? 0 : slot->n) + 2 + line.n;
    if (need > sizeof(req->joined) - req->joined_len)
        return false;
    char *start = at_end ? req->joined + req->joined_len - slot->n : req->joined + req->joined_len;
    char *w = req->joined + req->joined_len;
    if (!at_end) {
        memcpy(w, slot->p, slot->n);
        w += slot->n;
    }
    memcpy(w, ", ", 2);
    memcpy(w + 2, line.p, line.n);
    w += 2 + line.n;
    req->joined_len = (size_t)(w - req->joined);
    *slot = sl_str_make(start, (size_t)(w - start));
    return true;
}

static int on_header_value_complete(llhttp_t *p)
{
    struct sl_request *req = request_of(p);
    struct sl_str value = sl_str_trim(req->value);
    if (value.p == NULL)
        value.p = ""; /* an empty field is present, not absent */
    if (++req->header_count > SL_HEADERS_MAX)
        return reject(p, 431);
    if (field_name_is(req->field, SL_STR("host"))) {
        req->host = value;
        req->host_count++;
    } else {
        const struct field_spec *f = field_spec(req->field);
        struct sl_str *slot = f ? (struct sl_str *)((char *)req + f->offset) : NULL;
        /* A field that is not a list is one value: its first line wins. */
        if (slot != NULL && slot->p == NULL)
            *slot = value;
        else if (slot != NULL && f->list && !join_line(req, slot, value))
            return reject(p, 431);
    }
    req->field = (struct sl_str){NULL, 0};
    req->value = (struct sl_str){NULL, 0};
    return 0;
}

/* sl_host_valid(req->host), remembered for the same bytes as the last valid one: a
 * comparison costs a fraction of the check (bench/RESULTS.md, instructions per request). */
static bool host_valid(struct sl_request *req)
{
    struct sl_str h = req->host;
    if (h.n == req->valid_host_len && h.n > 0 && memcmp(h.p, req->valid_host, h.n) == 0)
        return true;
    if (!sl_host_valid(h.p, h.n))
        return false;
    if (h.n <= sizeof(req->valid_host)) {
        memcpy(req->valid_host, h.p, h.n);
        req->valid_host_len = h.n;
    }
    return true;
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
    if (p->http_major != 1)
        return reject(p, 505);
    /* RFC 9110 §6.2: a higher minor version of a major we speak is answered as the
     * highest minor we speak, so HTTP/1.2 is processed (and logged) as HTTP/1.1. */
    if (req->http_minor > 1)
        req->http_minor = 1;
    /* RFC 9112 §3.2: a 1.1 request must carry exactly one Host field. */
    if (req->host_count > 1 || (req->http_minor == 1 && req->host_count == 0))
        return reject(p, 400);
    /* ... and a Host that is not a valid host and port is as bad as none (§3.2 again):
     * userinfo ("user@host") included, which RFC 9110 §4.2.4 calls an error. */
    if (req->host_count == 1 && !host_valid(req))
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
    /* Everything up to `joined`, whose bytes are only read below joined_len. */
    memset(req, 0, offsetof(struct sl_request, joined));
    req->valid_host_len = 0;
    llhttp_init(parser, HTTP_REQUEST, &settings);
    /* The one lenient flag: it only lets any single-digit version through llhttp's
     * version check (strict llhttp refuses "HTTP/1.2" outright), so that
     * on_headers_complete can answer by RFC 9110 §6.2 instead. */
    llhttp_set_lenient_version(parser, 1);
    parser->data = req;
}

void sl_request_reset(llhttp_t *parser, struct sl_request *req)
{
    memset(req, 0, offsetof(struct sl_request, joined));
    llhttp_reset(parser); /* keeps the settings, the lenient flag and data (req) */
}

/* The methods llhttp knows for HTTP; it also knows RTSP's (DESCRIBE, PLAY, ...) and
 * refuses those in an HTTP request only once it reaches the version. */
static bool is_http_method(unsigned method)
{
    switch (method) {
#define SL_HTTP_METHOD(num, name, string) case num:
        HTTP_METHOD_MAP(SL_HTTP_METHOD)
#undef SL_HTTP_METHOD
        return true;
    default: return false;
    }
}

/* Whether the request starts with a method token sluice does not know: one or more
 * tchars (RFC 9110 §9.1: a method is a token, case-sensitive, so "get" is one too),
 * then a space or the end of what has arrived. Empty lines before the request line are
 * skipped, as llhttp skips them (RFC 9112 §2.2). Anything else there is not a method
 * at all ("HTTP/1.1 200", a TLS hello) and stays malformed. */
static bool starts_with_unknown_token(const char *p, const char *end)
{
    while (p < end && (*p == '\r' || *p == '\n'))
        p++;
    const char *token = p;
    while (p < end && sl_is_tchar((unsigned char)*p))
        p++;
    return p > token && (p == end || *p == ' ');
}

/* The status for a parser error llhttp found on its own. A method sluice does not
 * recognise is 501 (RFC 9110 §9.1, §15.6.2): llhttp stops at it, so nothing after it
 * was parsed and the connection closes after the answer all the same. Anything else
 * malformed is 400. (A well-formed version never is an error here: on_headers_complete
 * answers 505.) */
static int status_for_error(const llhttp_t *p, const struct sl_request *req, const char *end)
{
    llhttp_errno_t err = llhttp_get_errno(p);
    if (err == HPE_INVALID_METHOD && starts_with_unknown_token(req->start, end))
        return 501;
    if (err == HPE_INVALID_CONSTANT && req->method_known && !is_http_method(req->method))
        return 501;
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
    if (req->start == NULL)
        req->start = data;
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
    return status_for_error(parser, req, data + len);
}

int sl_request_overflow_status(const struct sl_request *req)
{
    return req->url_done ? 431 : 414;
}
