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

/* Whether field name `name` (any case) is `lower`, a name of at least four lower-case
 * letters and '-'. Setting bit 0x20 turns an upper-case letter into its lower case and
 * leaves lower-case letters and '-' as they are; of the bytes llhttp lets into a field
 * name (tchars), no other one becomes a letter or '-' that way. So a name is folded
 * four or eight bytes at a time (the last load overlapping the one before), with no
 * per-byte branch: the names of every header line are compared. */
static inline bool field_name_is(struct sl_str name, struct sl_str lower)
{
    size_t n = lower.n;
    if (name.n != n)
        return false;
    if (n < 8) {
        uint32_t a, b, c, d;
        memcpy(&a, name.p, 4);
        memcpy(&b, lower.p, 4);
        memcpy(&c, name.p + n - 4, 4);
        memcpy(&d, lower.p + n - 4, 4);
        return ((a | 0x20202020u) == b) & ((c | 0x20202020u) == d);
    }
    uint64_t a, b;
    for (size_t i = 0; i + 8 < n; i += 8) {
        memcpy(&a, name.p + i, 8);
        memcpy(&b, lower.p + i, 8);
        if ((a | 0x2020202020202020u) != b)
            return false;
    }
    memcpy(&a, name.p + n - 8, 8);
    memcpy(&b, lower.p + n - 8, 8);
    return (a | 0x2020202020202020u) == b;
}

/* What a field we act on is: Host, counted (RFC 9112 §3.2 wants exactly one); a field
 * whose first line wins; or a list (RFC 9110 §5.6.1) whose lines are combined. */
enum field_kind { FIELD_HOST, FIELD_ONE, FIELD_LIST };

/* A field we act on and where its value goes. */
struct field_spec {
    struct sl_str name;
    size_t offset;
    enum field_kind kind;
};

/* The spec among `count` whose name `name` is, or NULL. */
static const struct field_spec *find_field(const struct field_spec *specs, size_t count,
                                           struct sl_str name)
{
    for (size_t i = 0; i < count; i++) {
        if (field_name_is(name, specs[i].name))
            return &specs[i];
    }
    return NULL;
}

#define SL_FIELD(lit, member, kind)                                                                \
    {                                                                                              \
        SL_STR_INIT(lit), offsetof(struct sl_request, member), kind                                \
    }
#define SL_COUNT(specs) (sizeof(specs) / sizeof(specs[0]))

/* The other header fields we act on, grouped by first letter, so that a name is compared
 * with a few at most (and most names a browser sends, with none); every other field is
 * parsed (and so validated) but not kept. */
static const struct field_spec a_fields[] = {
    SL_FIELD("accept", accept, FIELD_ONE),
    SL_FIELD("accept-encoding", accept_encoding, FIELD_LIST),
    SL_FIELD("access-control-request-method", cors_method, FIELD_ONE),
    SL_FIELD("access-control-request-headers", cors_headers, FIELD_ONE),
};
static const struct field_spec i_fields[] = {
    SL_FIELD("if-match", cond.if_match, FIELD_LIST),
    SL_FIELD("if-range", cond.if_range, FIELD_ONE),
    SL_FIELD("if-none-match", cond.if_none_match, FIELD_LIST),
    SL_FIELD("if-modified-since", cond.if_modified_since, FIELD_ONE),
    SL_FIELD("if-unmodified-since", cond.if_unmodified_since, FIELD_ONE),
};
static const struct field_spec r_fields[] = {
    SL_FIELD("range", range, FIELD_ONE),
    SL_FIELD("referer", referer, FIELD_ONE),
};
static const struct field_spec u_fields[] = {
    SL_FIELD("user-agent", user_agent, FIELD_ONE),
};
static const struct field_spec host_spec = SL_FIELD("host", host, FIELD_HOST);

/* Each optional field is set at most once per request, and its slot remembered in
 * req->slots: there must be room for all of them (and they must be the fields from range
 * to cors_headers, which sl_request_reset does not clear itself). */
_Static_assert(SL_COUNT(a_fields) + SL_COUNT(i_fields) + SL_COUNT(r_fields) + SL_COUNT(u_fields) ==
                   SL_FIELD_SLOTS,
               "one slot for each optional field");
_Static_assert(offsetof(struct sl_request, cors_headers) + sizeof(struct sl_str) -
                       offsetof(struct sl_request, range) ==
                   SL_FIELD_SLOTS * sizeof(struct sl_str),
               "SL_FIELD_SLOTS counts the optional fields");

static const struct field_spec *field_spec(struct sl_str name)
{
    if (name.n < 4) /* shorter than any of them */
        return NULL;
    switch (name.p[0] | 0x20) {
    case 'a': return find_field(a_fields, SL_COUNT(a_fields), name);
    case 'i': return find_field(i_fields, SL_COUNT(i_fields), name);
    case 'r': return find_field(r_fields, SL_COUNT(r_fields), name);
    case 'u': return find_field(u_fields, SL_COUNT(u_fields), name);
    default: return NULL;
    }
}

#undef SL_COUNT
#undef SL_FIELD

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
    /* llhttp skips the whitespace before a value, not the whitespace after it. */
    struct sl_str value = req->value;
    while (value.n > 0 && sl_is_ows((unsigned char)value.p[value.n - 1]))
        value.n--;
    if (value.p == NULL)
        value.p = ""; /* an empty field is present, not absent */
    if (++req->header_count > SL_HEADERS_MAX)
        return reject(p, 431);
    /* Host first: every request has it, and a comparison with a constant is inlined. */
    const struct field_spec *f =
        field_name_is(req->field, SL_STR("host")) ? &host_spec : field_spec(req->field);
    struct sl_str *slot = f ? (struct sl_str *)((char *)req + f->offset) : NULL;
    if (f == NULL) {
        /* not a field we act on */
    } else if (f->kind == FIELD_HOST) {
        *slot = value;
        req->host_count++;
    } else if (slot->p == NULL) {
        *slot = value; /* a field that is not a list is one value: its first line wins */
        req->slots[req->slots_set++] = slot; /* each slot once: its p is now set */
    } else if (f->kind == FIELD_LIST && !join_line(req, slot, value)) {
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
    if (h.n == req->valid_host_len && h.n > 0 && sl_str_eq(h, sl_str_make(req->valid_host, h.n)))
        return true;
    if (!sl_host_valid(h.p, h.n))
        return false;
    if (h.n <= sizeof(req->valid_host)) {
        memcpy(req->valid_host, h.p, h.n);
        req->valid_host_len = h.n;
    }
    return true;
}

/* Whether an HTTP/1.x request asks to keep the connection (RFC 9112 §9.3): never when
 * Connection says "close" (whatever else it says), else 1.1 always and 1.0 only when it
 * says "keep-alive". Read from the flags llhttp sets while parsing; its
 * llhttp_should_keep_alive, two calls a request, lets a 1.0 "keep-alive" outweigh a
 * "close" beside it. */
static bool asks_to_persist(const llhttp_t *p)
{
    if (p->flags & F_CONNECTION_CLOSE)
        return false;
    return p->http_minor > 0 || (p->flags & F_CONNECTION_KEEP_ALIVE) != 0;
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
    req->keep_alive = asks_to_persist(p) && p->method != HTTP_CONNECT;
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

void sl_request_reset(llhttp_t *parser, struct sl_request *req, const llhttp_t *fresh)
{
    for (unsigned i = 0; i < req->slots_set; i++)
        *req->slots[i] = (struct sl_str){NULL, 0};
    memset(req, 0, offsetof(struct sl_request, range));
    req->joined_len = 0;
    *parser = *fresh; /* the settings and the lenient flag come with it */
    parser->data = req;
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
        *consumed = (size_t)(parser->error_pos - data); /* llhttp_get_error_pos, inline */
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
