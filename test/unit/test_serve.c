/* Unit tests for the planner (serve.c): real request bytes through sl_request_feed, a
 * file representation built by hand, and exact assertions on the planned head and body
 * segments. No file system and no sockets: the planner is a pure function. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/cond.h"
#include "sluice/config.h"
#include "sluice/httpdate.h"
#include "sluice/inject.h"
#include "sluice/listbody.h"
#include "sluice/listing.h"
#include "sluice/negotiate.h"
#include "sluice/plan.h"
#include "sluice/rep.h"
#include "sluice/request.h"
#include "sluice/response.h"
#include "sluice/serve.h"

/* Mon, 23 Nov 2026 18:53:20 GMT, and the file's mtime an hour before. */
#define NOW ((time_t)1795460000)
#define MTIME ((time_t)1795456400)
#define MTIME_NSEC 123L
#define NOW_DATE "Mon, 23 Nov 2026 18:53:20 GMT"
#define MTIME_DATE "Mon, 23 Nov 2026 17:53:20 GMT"
#define ETAG_1K "\"400-6b047d90-7b\"" /* 1024 bytes, MTIME, 123 ns */
#define BOUNDARY "sluice-0123456789abcdef"

static struct sl_config cfg;
static char date[SL_HTTPDATE_LEN + 1];
static struct sl_plan_env env;
static struct sl_file_rep rep;
static char data[1024];
static struct sl_plan plan;

static llhttp_t parser;
static struct sl_request req;
static char reqbuf[SL_HEAD_MAX];
static struct sl_path path;

static char head[SL_OUT_MAX + 1];

/* ---- fixtures ---- */

static void set_rep(uint64_t size, time_t mtime, int encoding)
{
    rep.st.st_size = (off_t)size;
    rep.st.st_mtim.tv_sec = mtime;
    rep.st.st_mtim.tv_nsec = MTIME_NSEC;
    rep.encoding = encoding;
    rep.etag_len = sl_etag_format(rep.etag, size, mtime, MTIME_NSEC, sl_encoding_name(encoding));
    sl_httpdate_format(mtime, rep.last_modified);
}

static int setup(void **state)
{
    memset(&plan, 0, sizeof(plan));
    memset(&req, 0, sizeof(req));
    memset(&path, 0, sizeof(path));
    memset(&rep, 0, sizeof(rep));
    cfg = (struct sl_config){.max_age = -1, .listing = true, .dotfiles = false, .root_fd = -1};
    sl_httpdate_format(NOW, date);
    env = (struct sl_plan_env){
        .cfg = &cfg, .now = NOW, .date = date, .boundary = 0x0123456789abcdefu};
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (char)('a' + i % 26);
    rep.mime = "text/plain; charset=utf-8";
    rep.name = "notes.txt";
    rep.name_len = strlen(rep.name);
    set_rep(sizeof(data), MTIME, SL_ENC_IDENTITY);
    return 0;
}

static char *produced; /* a produced body, drained by produced_body() */

static int teardown(void **state)
{
    free(produced);
    produced = NULL;
    return 0;
}

/* Parses one request head from its bytes; fields become spans into reqbuf. */
static void parse(const char *text)
{
    size_t len = strlen(text);
    assert_true(len <= sizeof(reqbuf));
    memcpy(reqbuf, text, len);
    sl_request_init(&parser, &req);
    size_t consumed = 0;
    assert_int_equal(sl_request_feed(&parser, &req, reqbuf, len, &consumed), SL_PARSE_READY);
}

/* Parses the request, passes the pre-file checks and plans the file `rep`. */
static void serve_file(const char *text)
{
    parse(text);
    assert_int_equal(sl_serve_check(&env, &req, &path), 0);
    sl_serve_file(&env, &req, &path, &rep, &plan);
}

/* ---- plan inspection ---- */

/* The head as a C string, after checking that it is whole and is the first segment. */
static const char *head_text(void)
{
    assert_false(plan.overflow);
    assert_true(plan.nsegs >= 1);
    assert_ptr_equal(plan.segs[0].mem, plan.out);
    assert_int_equal(plan.segs[0].len, plan.head_len);
    assert_true(plan.head_len >= 4 && plan.head_len < SL_OUT_MAX);
    memcpy(head, plan.out, (size_t)plan.head_len);
    head[plan.head_len] = '\0';
    /* Exactly one blank line, at the very end. */
    assert_ptr_equal(strstr(head, "\r\n\r\n"), head + plan.head_len - 4);
    return head;
}

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Whether the head holds the field line `line` ("Name: value") exactly. */
static bool head_has(const char *line)
{
    const char *h = head_text();
    char want[SL_OUT_MAX + 8];
    snprintf(want, sizeof(want), "\r\n%s\r\n", line);
    if (strstr(h, want))
        return true;
    print_error("head lacks \"%s\":\n%s", line, h);
    return false;
}

/* Whether the head holds no field called `name`. */
static bool head_lacks(const char *name)
{
    const char *h = head_text();
    char want[128];
    snprintf(want, sizeof(want), "\r\n%s:", name);
    if (!strstr(h, want))
        return true;
    print_error("head has a %s field:\n%s", name, h);
    return false;
}

static bool status_line_is(const char *line)
{
    const char *h = head_text();
    if (starts_with(h, line) && h[strlen(line)] == '\r')
        return true;
    print_error("status line is not \"%s\":\n%s", line, h);
    return false;
}

/* The sum of every segment after the head. */
static uint64_t body_len(void)
{
    uint64_t n = 0;
    for (unsigned i = 1; i < plan.nsegs; i++)
        n += plan.segs[i].len;
    return n;
}

static void assert_file_seg(unsigned i, uint64_t off, uint64_t len)
{
    assert_null(plan.segs[i].mem);
    assert_int_equal(plan.segs[i].off, off);
    assert_int_equal(plan.segs[i].len, len);
}

static void assert_mem_seg(unsigned i, const char *text)
{
    assert_non_null(plan.segs[i].mem);
    assert_int_equal(plan.segs[i].len, strlen(text));
    assert_memory_equal(plan.segs[i].mem, text, strlen(text));
}

/* The length of sl_error_page's body for `status`. */
static size_t error_page_len(int status)
{
    char page[SL_ERROR_PAGE_MAX];
    struct sl_buf b = sl_buf_make(page, sizeof(page));
    sl_error_page(&b, status);
    return b.len;
}

/* ---- whole files ---- */

static void test_get_of_file_on_descriptor_plans_exact_head_then_whole_file_range(void **state)
{
    serve_file("GET /notes.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_int_equal(plan.status, 200);
    assert_string_equal(head_text(), "HTTP/1.1 200 OK\r\n"
                                     "Date: " NOW_DATE "\r\n"
                                     "Server: sluice\r\n"
                                     "Content-Type: text/plain; charset=utf-8\r\n"
                                     "Content-Length: 1024\r\n"
                                     "Accept-Ranges: bytes\r\n"
                                     "ETag: " ETAG_1K "\r\n"
                                     "Last-Modified: " MTIME_DATE "\r\n"
                                     "Cache-Control: no-cache\r\n"
                                     "\r\n");
    assert_int_equal(plan.nsegs, 2);
    assert_file_seg(1, 0, 1024);
    assert_true(plan.uses_file);
    assert_int_equal(plan.body_bytes, 1024);
    assert_true(plan.keep_alive);
    assert_false(plan.head_only);
}

static void test_max_age_config_sends_public_max_age_instead_of_no_cache(void **state)
{
    cfg.max_age = 60;
    serve_file("GET /notes.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_true(head_has("Cache-Control: public, max-age=60"));
    assert_null(strstr(head_text(), "no-cache"));

    cfg.max_age = 0;
    serve_file("GET /notes.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_true(head_has("Cache-Control: public, max-age=0"));
}

static void test_cached_file_body_is_a_memory_segment_pointing_into_data(void **state)
{
    rep.data = data;
    serve_file("GET /notes.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_int_equal(plan.status, 200);
    assert_int_equal(plan.nsegs, 2);
    assert_ptr_equal(plan.segs[1].mem, data);
    assert_int_equal(plan.segs[1].len, 1024);
    assert_false(plan.uses_file);
    assert_int_equal(plan.body_bytes, 1024);
    assert_true(head_has("Content-Length: 1024"));
}

static void test_head_request_plans_head_only_with_full_content_length(void **state)
{
    serve_file("HEAD /notes.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_int_equal(plan.status, 200);
    assert_true(plan.head_only);
    assert_int_equal(plan.nsegs, 1);
    assert_false(plan.uses_file);
    assert_int_equal(plan.body_bytes, 0);
    assert_true(head_has("Content-Length: 1024"));
    assert_true(head_has("ETag: " ETAG_1K));
}

static void test_empty_file_has_content_length_zero_and_no_body_segment(void **state)
{
    set_rep(0, MTIME, SL_ENC_IDENTITY);
    serve_file("GET /notes.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_int_equal(plan.status, 200);
    assert_int_equal(plan.nsegs, 1);
    assert_false(plan.uses_file);
    assert_int_equal(plan.body_bytes, 0);
    assert_true(head_has("Content-Length: 0"));
    assert_true(head_has("ETag: \"0-6b047d90-7b\""));
}

static void test_file_stamped_in_the_future_is_last_modified_at_the_date(void **state)
{
    set_rep(1024, NOW + 3600, SL_ENC_IDENTITY);
    serve_file("GET /notes.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_int_equal(plan.status, 200);
    assert_true(head_has("Last-Modified: " NOW_DATE));
    assert_true(head_has("Date: " NOW_DATE));
}

static void test_gzip_variant_sends_content_encoding_and_vary_with_original_type(void **state)
{
    rep.variants = SL_ENC_GZIP | SL_ENC_BR;
    set_rep(300, MTIME, SL_ENC_GZIP);
    serve_file("GET /notes.txt HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n");
    assert_true(head_has("Content-Type: text/plain; charset=utf-8"));
    assert_true(head_has("Content-Encoding: gzip"));
    assert_true(head_has("Vary: Accept-Encoding"));
    assert_true(head_has("Content-Length: 300"));
    assert_true(head_has("ETag: \"12c-6b047d90-7b-gzip\""));
    assert_file_seg(1, 0, 300);
}

static void test_identity_with_variants_on_disk_varies_without_content_encoding(void **state)
{
    rep.variants = SL_ENC_BR;
    serve_file("GET /notes.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_true(head_has("Vary: Accept-Encoding"));
    assert_true(head_lacks("Content-Encoding"));

    rep.variants = 0;
    serve_file("GET /notes.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_true(head_lacks("Vary"));
}

/* ---- downloads ---- */

static void test_download_query_adds_attachment_content_disposition_with_name(void **state)
{
    serve_file("GET /notes.txt?download HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_int_equal(plan.status, 200);
    assert_true(head_has(
        "Content-Disposition: attachment; filename=\"notes.txt\"; filename*=UTF-8''notes.txt"));

    serve_file("GET /notes.txt?x=1&download=yes HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_true(head_has(
        "Content-Disposition: attachment; filename=\"notes.txt\"; filename*=UTF-8''notes.txt"));
}

static void test_download_must_be_a_whole_parameter_name(void **state)
{
    serve_file("GET /notes.txt?downloads&nodownload=1&x=download HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_int_equal(plan.status, 200);
    assert_true(head_lacks("Content-Disposition"));

    serve_file("GET /notes.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_true(head_lacks("Content-Disposition"));
}

static void test_download_name_with_quotes_and_percent_is_escaped_in_both_parameters(void **state)
{
    rep.name = "a \"b\" 100%.txt";
    rep.name_len = strlen(rep.name);
    serve_file("GET /notes.txt?download HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_true(head_has("Content-Disposition: attachment; filename=\"a _b_ 100_.txt\"; "
                         "filename*=UTF-8''a%20%22b%22%20100%25.txt"));
}

static void test_download_name_of_255_non_ascii_bytes_still_gets_its_header(void **state)
{
    static char name[255];
    memset(name, 0xff, sizeof(name));
    rep.name = name;
    rep.name_len = sizeof(name);
    serve_file("GET /notes.txt?download HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_int_equal(plan.status, 200);
    char want[2048];
    size_t n = (size_t)snprintf(want, sizeof(want), "Content-Disposition: attachment; filename=\"");
    for (size_t i = 0; i < sizeof(name); i++)
        want[n++] = '_';
    n += (size_t)snprintf(want + n, sizeof(want) - n, "\"; filename*=UTF-8''");
    for (size_t i = 0; i < sizeof(name); i++)
        n += (size_t)snprintf(want + n, sizeof(want) - n, "%%FF");
    assert_true(head_has(want));
}

/* ---- conditional requests ---- */

static void test_if_none_match_with_current_etag_returns_304_with_validators_only(void **state)
{
    serve_file("GET /notes.txt HTTP/1.1\r\nHost: x\r\nIf-None-Match: " ETAG_1K "\r\n\r\n");
    assert_int_equal(plan.status, 304);
    assert_string_equal(head_text(), "HTTP/1.1 304 Not Modified\r\n"
                                     "Date: " NOW_DATE "\r\n"
                                     "Server: sluice\r\n"
                                     "ETag: " ETAG_1K "\r\n"
                                     "Last-Modified: " MTIME_DATE "\r\n"
                                     "Cache-Control: no-cache\r\n"
                                     "\r\n");
    assert_int_equal(plan.nsegs, 1);
    assert_false(plan.uses_file);
    assert_int_equal(plan.body_bytes, 0);
    assert_true(plan.keep_alive);
}

/* Field names are case-insensitive (RFC 9110 §5.1), whatever mix of cases; a name that
 * only looks alike is another field. */
static void test_field_names_match_in_any_case_and_only_exactly(void **state)
{
    serve_file("GET /notes.txt HTTP/1.1\r\nhOsT: x\r\niF-nOnE-mAtCh: " ETAG_1K "\r\n\r\n");
    assert_int_equal(plan.status, 304);
    serve_file("GET /notes.txt HTTP/1.1\r\nHOST: x\r\nIF-NONE-MATCH: " ETAG_1K "\r\n\r\n");
    assert_int_equal(plan.status, 304);
    serve_file("GET /notes.txt HTTP/1.1\r\nHost: x\r\nIf-None-Matcj: " ETAG_1K "\r\n\r\n");
    assert_int_equal(plan.status, 200);
    serve_file("GET /notes.txt HTTP/1.1\r\nHost: x\r\nIf_None-Match: " ETAG_1K "\r\n\r\n");
    assert_int_equal(plan.status, 200);
    parse("GET /notes.txt HTTP/1.0\r\nHosu: x\r\n\r\n");
    assert_int_equal(req.host_count, 0);
}

/* A parser reset between requests keeps the last valid Host to compare with: the same
 * bytes pass, other bytes of the same length are checked afresh. */
static void test_host_is_checked_afresh_unless_it_is_the_last_valid_one(void **state)
{
    static const char *const heads[] = {
        "GET / HTTP/1.1\r\nHost: abc\r\n\r\n", "GET / HTTP/1.1\r\nHost: a@c\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: abc\r\n\r\n", "GET / HTTP/1.1\r\nHost: a c\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: ab:\r\n\r\n",
    };
    static const int want[] = {SL_PARSE_READY, 400, SL_PARSE_READY, 400, SL_PARSE_READY};
    llhttp_t fresh;
    struct sl_request other;
    sl_request_init(&fresh, &other);
    sl_request_init(&parser, &req);
    for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
        size_t len = strlen(heads[i]);
        memcpy(reqbuf, heads[i], len);
        size_t consumed = 0;
        assert_int_equal(sl_request_feed(&parser, &req, reqbuf, len, &consumed), want[i]);
        sl_request_reset(&parser, &req, &fresh);
    }
}

/* Connection (RFC 9112 §9.3): "close" ends the connection whatever else is said, 1.1
 * persists otherwise, 1.0 only with "keep-alive". */
static void test_keep_alive_follows_version_and_connection_close_first(void **state)
{
    static const struct {
        const char *version, *connection;
        bool keep;
    } cases[] = {
        {"1.1", NULL, true},
        {"1.1", "close", false},
        {"1.1", "keep-alive", true},
        {"1.1", "Keep-Alive, Close", false},
        {"1.0", NULL, false},
        {"1.0", "keep-alive", true},
        {"1.0", "Keep-Alive, close", false},
        {"1.0", "close, keep-alive", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[256];
        snprintf(text, sizeof(text), "GET / HTTP/%s\r\nHost: x\r\n%s%s%s\r\n", cases[i].version,
                 cases[i].connection ? "Connection: " : "",
                 cases[i].connection ? cases[i].connection : "", cases[i].connection ? "\r\n" : "");
        parse(text);
        assert_int_equal(req.keep_alive, cases[i].keep);
    }
}

/* The request field at `offset` after parsing a request with "name: v " in its head. */
static const struct sl_str *parsed_field(const char *name, size_t offset)
{
    char text[256];
    snprintf(text, sizeof(text), "GET / HTTP/1.1\r\nHost: x\r\n%s: v \r\n\r\n", name);
    parse(text);
    return (const struct sl_str *)((const char *)&req + offset);
}

/* Every field the parser keeps is found in any case, and a name one byte off is not:
 * names are compared four or eight bytes at a time, so each length is tried. */
static void test_every_kept_field_is_found_in_any_case_and_near_misses_are_not(void **state)
{
    static const struct {
        const char *name;
        size_t offset;
    } fields[] = {
        {"Range", offsetof(struct sl_request, range)},
        {"Accept", offsetof(struct sl_request, accept)},
        {"Accept-Encoding", offsetof(struct sl_request, accept_encoding)},
        {"User-Agent", offsetof(struct sl_request, user_agent)},
        {"Referer", offsetof(struct sl_request, referer)},
        {"If-Match", offsetof(struct sl_request, cond.if_match)},
        {"If-None-Match", offsetof(struct sl_request, cond.if_none_match)},
        {"If-Modified-Since", offsetof(struct sl_request, cond.if_modified_since)},
        {"If-Unmodified-Since", offsetof(struct sl_request, cond.if_unmodified_since)},
        {"If-Range", offsetof(struct sl_request, cond.if_range)},
        {"Access-Control-Request-Method", offsetof(struct sl_request, cors_method)},
        {"Access-Control-Request-Headers", offsetof(struct sl_request, cors_headers)},
    };
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        size_t n = strlen(fields[i].name);
        char name[64];
        for (int form = 0; form < 3; form++) { /* as written, upper case, lower case */
            for (size_t k = 0; k <= n; k++)
                name[k] = form == 0   ? fields[i].name[k]
                          : form == 1 ? (char)toupper((unsigned char)fields[i].name[k])
                                      : (char)tolower((unsigned char)fields[i].name[k]);
            const struct sl_str *got = parsed_field(name, fields[i].offset);
            assert_non_null(got->p);
            assert_int_equal(got->n, 1);
            assert_memory_equal(got->p, "v", 1);
        }
        for (size_t at = 0; at < n; at++) { /* one byte off, anywhere */
            memcpy(name, fields[i].name, n + 1);
            name[at] = name[at] == '-' ? 'x' : name[at] == 'z' || name[at] == 'Z' ? 'y' : 'z';
            assert_null(parsed_field(name, fields[i].offset)->p);
        }
    }
}

/* A reset clears the optional fields the request before set, and the room their joined
 * lines took: each request of a keep-alive connection is parsed as if it came first. */
static void test_reset_leaves_no_field_and_no_joined_line_of_the_request_before(void **state)
{
    char tag[600];
    memset(tag, 'a', sizeof(tag));
    char text[2048];
    int n = snprintf(text, sizeof(text),
                     "GET / HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1\r\nIf-None-Match: \"%.*s\"\r\n"
                     "If-None-Match: \"%.*s\"\r\n\r\n",
                     (int)sizeof(tag), tag, (int)sizeof(tag), tag);
    assert_true(n > 0 && (size_t)n < sizeof(text));
    llhttp_t fresh;
    struct sl_request other;
    sl_request_init(&fresh, &other);
    sl_request_init(&parser, &req);
    for (int round = 0; round < 3; round++) { /* the joined lines fit once, not twice */
        memcpy(reqbuf, text, (size_t)n);
        size_t consumed = 0;
        assert_int_equal(sl_request_feed(&parser, &req, reqbuf, (size_t)n, &consumed),
                         SL_PARSE_READY);
        assert_int_equal(req.cond.if_none_match.n, 2 * (sizeof(tag) + 2) + 2);
        sl_request_reset(&parser, &req, &fresh);
        static const char bare[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        memcpy(reqbuf, bare, sizeof(bare) - 1);
        assert_int_equal(sl_request_feed(&parser, &req, reqbuf, sizeof(bare) - 1, &consumed),
                         SL_PARSE_READY);
        assert_null(req.range.p);
        assert_null(req.cond.if_none_match.p);
        sl_request_reset(&parser, &req, &fresh);
    }
}

static void test_not_modified_for_a_variant_still_says_vary(void **state)
{
    rep.variants = SL_ENC_GZIP;
    set_rep(300, MTIME, SL_ENC_GZIP);
    serve_file("GET /notes.txt HTTP/1.1\r\nHost: x\r\n"
               "If-None-Match: \"1-2-3\", W/\"12c-6b047d90-7b-gzip\"\r\n\r\n");
    assert_int_equal(plan.status, 304);
    assert_true(head_has("Vary: Accept-Encoding"));
    assert_true(head_has("ETag: \"12c-6b047d90-7b-gzip\""));
    assert_true(head_lacks("Content-Length"));
}

/* A built-in error page's head is copied from the one rendered with the page, with this
 * response's date put in: the same bytes as a head formatted field by field. */
static void test_built_in_error_heads_carry_the_date_of_the_response(void **state)
{
    static const int statuses[] = {400, 404, 405, 412, 414, 431, 501};
    for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        int status = statuses[i];
        parse("GET /x HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n");
        sl_serve_error(&env, &req, status, status == 400, &plan);
        char want[1024];
        struct sl_buf b = sl_buf_make(want, sizeof(want));
        sl_head_begin(&b, status, date);
        sl_head_field(&b, "Content-Type", SL_STR("text/html; charset=utf-8"));
        sl_head_field_u64(&b, "Content-Length", sl_built_in_page(status)->body.n);
        if (status == 405)
            sl_head_field(&b, "Allow", SL_STR("GET, HEAD"));
        sl_head_end(&b, status != 400, true);
        assert_false(b.overflow);
        want[b.len] = '\0';
        assert_string_equal(head_text(), want);
    }
}

/* sl_serve_built_in plans the built-in 404 as a head formatted field by field would
 * be, for GET and HEAD, kept alive or closing, HTTP/1.0 and 1.1, with its body sent from
 * where the page was rendered: the responder's 404 takes this way. */
static void test_serve_built_in_plans_the_page_with_the_head_of_the_request(void **state)
{
    static const struct {
        const char *request;
        bool keep_alive, http10, head_only;
    } cases[] = {
        {"GET /x HTTP/1.1\r\nHost: x\r\n\r\n", true, false, false},
        {"HEAD /x HTTP/1.1\r\nHost: x\r\n\r\n", true, false, true},
        {"GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", false, false, false},
        {"GET /x HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n", true, true, false},
    };
    const struct sl_built_in_page *page = sl_built_in_page(404);
    assert_non_null(page);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        parse(cases[i].request);
        sl_serve_built_in(&env, &req, page, &plan);
        char want[1024];
        struct sl_buf b = sl_buf_make(want, sizeof(want));
        sl_head_begin(&b, 404, date);
        sl_head_field(&b, "Content-Type", SL_STR("text/html; charset=utf-8"));
        sl_head_field_u64(&b, "Content-Length", page->body.n);
        sl_head_end(&b, cases[i].keep_alive, cases[i].http10);
        assert_false(b.overflow);
        want[b.len] = '\0';
        assert_int_equal(plan.status, 404);
        assert_string_equal(head_text(), want);
        assert_int_equal(plan.keep_alive, cases[i].keep_alive);
        assert_false(plan.uses_file);
        assert_false(plan.overflow);
        if (cases[i].head_only) {
            assert_int_equal(plan.nsegs, 1);
            assert_int_equal(plan.body_bytes, 0);
            continue;
        }
        assert_int_equal(plan.nsegs, 2);
        assert_ptr_equal(plan.segs[1].mem, page->body.p);
        assert_int_equal(plan.segs[1].len, page->body.n);
        assert_int_equal(plan.body_bytes, page->body.n);
    }
}

static void test_if_match_failing_returns_412_error_page(void **state)
{
    serve_file("GET /notes.txt HTTP/1.1\r\nHost: x\r\nIf-Match: \"something-else\"\r\n\r\n");
    assert_int_equal(plan.status, 412);
    assert_true(status_line_is("HTTP/1.1 412 Precondition Failed"));
    assert_true(head_has("Content-Type: text/html; charset=utf-8"));
    char cl[64];
    snprintf(cl, sizeof(cl), "Content-Length: %zu", error_page_len(412));
    assert_true(head_has(cl));
    assert_true(head_lacks("ETag"));
    assert_int_equal(plan.nsegs, 2);
    assert_int_equal(plan.segs[1].len, error_page_len(412));
    /* The page rendered once per process, sent from there. */
    assert_ptr_equal(plan.segs[1].mem, sl_built_in_page(412)->body.p);
    assert_false(plan.uses_file);
    assert_int_equal(plan.body_bytes, error_page_len(412));
}

static void
test_if_modified_since_at_or_after_mtime_returns_304_and_before_returns_200(void **state)
{
    serve_file("GET /notes.txt HTTP/1.1\r\nHost: x\r\nIf-Modified-Since: " MTIME_DATE "\r\n\r\n");
    assert_int_equal(plan.status, 304);
    assert_int_equal(plan.nsegs, 1);

    serve_file("GET /notes.txt HTTP/1.1\r\nHost: x\r\n"
               "If-Modified-Since: Mon, 23 Nov 2026 17:53:19 GMT\r\n\r\n");
    assert_int_equal(plan.status, 200);
    assert_int_equal(plan.nsegs, 2);
    assert_file_seg(1, 0, 1024);
}

static void test_if_none_match_mismatch_overrides_a_matching_if_modified_since(void **state)
{
    serve_file("GET /notes.txt HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"old\"\r\n"
               "If-Modified-Since: " MTIME_DATE "\r\n\r\n");
    assert_int_equal(plan.status, 200);
    assert_int_equal(plan.body_bytes, 1024);
}

/* ---- ranges ---- */

static void test_range_first_100_bytes_returns_206_with_content_range_and_file_segment(void **state)
{
    serve_file("GET /notes.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-99\r\n\r\n");
    assert_int_equal(plan.status, 206);
    assert_true(status_line_is("HTTP/1.1 206 Partial Content"));
    assert_true(head_has("Content-Length: 100"));
    assert_true(head_has("Content-Range: bytes 0-99/1024"));
    assert_true(head_has("Content-Type: text/plain; charset=utf-8"));
    assert_true(head_has("Accept-Ranges: bytes"));
    assert_true(head_has("ETag: " ETAG_1K));
    assert_int_equal(plan.nsegs, 2);
    assert_file_seg(1, 0, 100);
    assert_true(plan.uses_file);
    assert_int_equal(plan.body_bytes, 100);
}

static void test_suffix_range_returns_the_last_bytes(void **state)
{
    serve_file("GET /notes.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=-100\r\n\r\n");
    assert_int_equal(plan.status, 206);
    assert_true(head_has("Content-Range: bytes 924-1023/1024"));
    assert_true(head_has("Content-Length: 100"));
    assert_file_seg(1, 924, 100);
}

static void test_range_of_cached_file_points_into_data_at_its_offset(void **state)
{
    rep.data = data;
    serve_file("GET /notes.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=500-\r\n\r\n");
    assert_int_equal(plan.status, 206);
    assert_true(head_has("Content-Range: bytes 500-1023/1024"));
    assert_int_equal(plan.nsegs, 2);
    assert_ptr_equal(plan.segs[1].mem, data + 500);
    assert_int_equal(plan.segs[1].len, 524);
    assert_false(plan.uses_file);
}

static void test_unsatisfiable_range_returns_416_with_star_content_range(void **state)
{
    serve_file("GET /notes.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=2000-3000\r\n\r\n");
    assert_int_equal(plan.status, 416);
    assert_true(status_line_is("HTTP/1.1 416 Range Not Satisfiable"));
    assert_true(head_has("Content-Range: bytes */1024"));
    assert_true(head_has("Content-Type: text/html; charset=utf-8"));
    assert_int_equal(plan.nsegs, 2);
    assert_int_equal(plan.segs[1].len, error_page_len(416));
    assert_false(plan.uses_file);
    assert_true(plan.keep_alive);
}

static void test_two_ranges_return_multipart_byteranges_with_exact_parts(void **state)
{
    serve_file("GET /notes.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-99,200-299\r\n\r\n");
    assert_int_equal(plan.status, 206);
    assert_true(head_has("Content-Type: multipart/byteranges; boundary=" BOUNDARY));
    assert_true(head_lacks("Content-Range"));
    assert_int_equal(plan.nsegs, 6);
    assert_mem_seg(1, "\r\n--" BOUNDARY "\r\nContent-Type: text/plain; charset=utf-8\r\n"
                      "Content-Range: bytes 0-99/1024\r\n\r\n");
    assert_file_seg(2, 0, 100);
    assert_mem_seg(3, "\r\n--" BOUNDARY "\r\nContent-Type: text/plain; charset=utf-8\r\n"
                      "Content-Range: bytes 200-299/1024\r\n\r\n");
    assert_file_seg(4, 200, 100);
    assert_mem_seg(5, "\r\n--" BOUNDARY "--\r\n");
    char cl[64];
    snprintf(cl, sizeof(cl), "Content-Length: %llu", (unsigned long long)body_len());
    assert_true(head_has(cl));
    assert_int_equal(plan.body_bytes, body_len());
    assert_true(plan.uses_file);
}

static void test_multipart_boundary_follows_env_boundary(void **state)
{
    env.boundary = 42;
    serve_file("GET /notes.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-0,-1\r\n\r\n");
    assert_int_equal(plan.status, 206);
    assert_true(head_has("Content-Type: multipart/byteranges; boundary=sluice-000000000000002a"));
    assert_mem_seg(5, "\r\n--sluice-000000000000002a--\r\n");
    assert_file_seg(4, 1023, 1);
}

static void test_sixteen_ranges_plan_thirty_four_segments(void **state)
{
    rep.data = data;
    serve_file("GET /notes.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-0,2-2,4-4,6-6,8-8,10-10,"
               "12-12,14-14,16-16,18-18,20-20,22-22,24-24,26-26,28-28,30-30\r\n\r\n");
    assert_int_equal(plan.status, 206);
    assert_int_equal(plan.nsegs, 1 + 2 * 16 + 1);
    for (unsigned i = 0; i < 16; i++) {
        assert_ptr_equal(plan.segs[2 + 2 * i].mem, data + 2 * i);
        assert_int_equal(plan.segs[2 + 2 * i].len, 1);
    }
    assert_int_equal(plan.body_bytes, body_len());
    assert_false(plan.uses_file);
}

static void test_if_range_with_current_etag_honours_the_range(void **state)
{
    serve_file("GET /notes.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-99\r\n"
               "If-Range: " ETAG_1K "\r\n\r\n");
    assert_int_equal(plan.status, 206);
    assert_file_seg(1, 0, 100);
}

static void test_if_range_with_other_etag_sends_whole_file(void **state)
{
    serve_file("GET /notes.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-99\r\n"
               "If-Range: \"400-6b047d90-7c\"\r\n\r\n");
    assert_int_equal(plan.status, 200);
    assert_true(head_has("Content-Length: 1024"));
    assert_true(head_lacks("Content-Range"));
    assert_file_seg(1, 0, 1024);
}

static void
test_if_range_date_of_a_file_modified_this_second_is_weak_and_sends_whole_file(void **state)
{
    set_rep(1024, NOW, SL_ENC_IDENTITY);
    serve_file("GET /notes.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-99\r\n"
               "If-Range: " NOW_DATE "\r\n\r\n");
    assert_int_equal(plan.status, 200);
    assert_file_seg(1, 0, 1024);
}

static void test_if_range_date_equal_to_a_last_modified_a_second_old_honours_range(void **state)
{
    set_rep(1024, NOW - 1, SL_ENC_IDENTITY);
    serve_file("GET /notes.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-99\r\n"
               "If-Range: Mon, 23 Nov 2026 18:53:19 GMT\r\n\r\n");
    assert_int_equal(plan.status, 206);
    assert_true(head_has("Last-Modified: Mon, 23 Nov 2026 18:53:19 GMT"));
    assert_file_seg(1, 0, 100);
}

/* ---- heads that do not fit ---- */

static void test_head_too_large_for_out_becomes_a_whole_500_page(void **state)
{
    static char mime[SL_OUT_MAX + 1];
    memset(mime, 'x', sizeof(mime) - 1);
    rep.mime = mime;
    serve_file("GET /notes.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_int_equal(plan.status, 500);
    assert_true(status_line_is("HTTP/1.1 500 Internal Server Error"));
    assert_true(head_has("Content-Type: text/html; charset=utf-8"));
    char cl[64];
    snprintf(cl, sizeof(cl), "Content-Length: %zu", error_page_len(500));
    assert_true(head_has(cl));
    assert_int_equal(plan.nsegs, 2);
    assert_int_equal(plan.segs[1].len, error_page_len(500));
    assert_false(plan.uses_file);
}

static void test_multipart_part_heads_too_large_become_a_500_page(void **state)
{
    static char mime[4001];
    memset(mime, 'x', sizeof(mime) - 1);
    rep.mime = mime;
    /* The same type fits a whole-file head... */
    serve_file("GET /notes.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_int_equal(plan.status, 200);
    /* ...but twice, in the part heads, it does not. */
    serve_file("GET /notes.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-9,20-29\r\n\r\n");
    assert_int_equal(plan.status, 500);
    assert_int_equal(plan.nsegs, 2);
    assert_int_equal(plan.segs[1].len, error_page_len(500));
    assert_false(plan.uses_file);
}

/* ---- checks before any file ---- */

static void test_check_refuses_post_with_405_whose_page_allows_get_and_head(void **state)
{
    parse("POST /notes.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    assert_int_equal(sl_serve_check(&env, &req, &path), 405);
    sl_serve_error(&env, &req, 405, false, &plan);
    assert_int_equal(plan.status, 405);
    assert_true(status_line_is("HTTP/1.1 405 Method Not Allowed"));
    assert_true(head_has("Allow: GET, HEAD"));
    assert_int_equal(plan.segs[1].len, error_page_len(405));

    sl_serve_error(&env, &req, 404, false, &plan);
    assert_true(head_lacks("Allow"));
}

static void test_check_refuses_dot_dot_above_root_with_400(void **state)
{
    parse("GET /../x HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_int_equal(sl_serve_check(&env, &req, &path), 400);
    parse("GET /a/%2e%2e/%2e%2e/x HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_int_equal(sl_serve_check(&env, &req, &path), 400);
}

static void test_check_hides_dotfiles_with_404_unless_configured(void **state)
{
    parse("GET /.env HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_int_equal(sl_serve_check(&env, &req, &path), 404);
    parse("GET /a/.git/config HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_int_equal(sl_serve_check(&env, &req, &path), 404);

    cfg.dotfiles = true;
    parse("GET /.env HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_int_equal(sl_serve_check(&env, &req, &path), 0);
    assert_string_equal(path.rel, ".env");
}

static void test_check_serves_well_known_even_without_dotfiles(void **state)
{
    parse("GET /.well-known/x HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_int_equal(sl_serve_check(&env, &req, &path), 0);
    assert_string_equal(path.rel, ".well-known/x");
    assert_int_equal(path.len, strlen(".well-known/x"));
}

/* ---- redirects ---- */

static void redirect(const char *target)
{
    char text[SL_HEAD_MAX];
    snprintf(text, sizeof(text), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", target);
    parse(text);
    assert_int_equal(sl_serve_check(&env, &req, &path), 0);
    sl_serve_redirect(&env, &req, &path, &plan);
}

static void test_redirect_adds_final_slash_with_exact_head_and_body(void **state)
{
    static const char body[] = "<!DOCTYPE html>\n<title>301 Moved Permanently</title>"
                               "<p>This directory lives at its address with a final slash.</p>\n";
    redirect("/dir");
    assert_int_equal(plan.status, 301);
    char want[512];
    snprintf(want, sizeof(want),
             "HTTP/1.1 301 Moved Permanently\r\nDate: " NOW_DATE "\r\nServer: sluice\r\n"
             "Location: /dir/\r\nContent-Type: text/html; charset=utf-8\r\n"
             "Content-Length: %zu\r\nCache-Control: no-cache\r\n\r\n",
             sizeof(body) - 1);
    assert_string_equal(head_text(), want);
    assert_int_equal(plan.nsegs, 2);
    assert_mem_seg(1, body);
    assert_int_equal(plan.body_bytes, sizeof(body) - 1);
    assert_true(plan.keep_alive);
}

static void test_redirect_follows_max_age_like_files(void **state)
{
    cfg.max_age = 600;
    redirect("/dir");
    assert_int_equal(plan.status, 301);
    assert_true(head_has("Cache-Control: public, max-age=600"));
}

static void test_redirect_keeps_query_and_client_encoding(void **state)
{
    redirect("/my%20dir?sort=name&x=%41");
    assert_int_equal(plan.status, 301);
    assert_true(head_has("Location: /my%20dir/?sort=name&x=%41"));
}

static void test_redirect_folds_leading_slashes_so_location_is_never_network_path(void **state)
{
    redirect("//evil.example");
    assert_true(head_has("Location: /evil.example/"));
    redirect("////evil.example/x");
    assert_true(head_has("Location: /evil.example/x/"));
}

static void test_redirect_escapes_backslash_as_pct_5c(void **state)
{
    redirect("/\\evil.example");
    assert_int_equal(plan.status, 301);
    assert_true(head_has("Location: /%5Cevil.example/"));
}

static void test_redirect_location_up_to_url_max_plus_7_fits_and_one_more_is_414(void **state)
{
    static char raw[SL_URL_MAX + 8];
    parse("GET /d HTTP/1.1\r\nHost: x\r\n\r\n");
    memset(raw, 'a', sizeof(raw));
    raw[0] = '/';
    path.raw_query = NULL;
    path.raw_query_len = 0;
    path.raw_path = raw;

    /* The Location buffer holds SL_URL_MAX + 7 bytes: this path plus '/' fills it. */
    path.raw_path_len = SL_URL_MAX + 6;
    sl_serve_redirect(&env, &req, &path, &plan);
    assert_int_equal(plan.status, 301);
    assert_false(plan.overflow);
    const char *loc = strstr(head_text(), "\r\nLocation: /aaa");
    assert_non_null(loc);
    assert_ptr_equal(strchr(loc + 2, '\r'), loc + 2 + strlen("Location: ") + SL_URL_MAX + 7);

    path.raw_path_len = SL_URL_MAX + 7;
    sl_serve_redirect(&env, &req, &path, &plan);
    assert_int_equal(plan.status, 414);
    assert_true(status_line_is("HTTP/1.1 414 URI Too Long"));
    assert_true(head_lacks("Location"));
}

static void test_redirect_whose_escaped_backslashes_outgrow_the_location_is_414(void **state)
{
    /* 2800 raw bytes (well under SL_URL_MAX) become 8400 once each is escaped. */
    static char target[2802];
    target[0] = '/';
    memset(target + 1, '\\', 2800);
    target[2801] = '\0';
    redirect(target);
    assert_int_equal(plan.status, 414);
    assert_int_equal(plan.segs[1].len, error_page_len(414));
}

/* The longest explanation the planner gives still leaves a whole page. */
static void test_root_missing_is_a_whole_503_page_with_retry_after(void **state)
{
    parse("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    sl_serve_root_missing(&env, &req, &plan);
    assert_int_equal(plan.status, 503);
    assert_true(head_has("Retry-After: 1"));
    assert_int_equal(plan.nsegs, 2);
    const char *body = plan.segs[1].mem;
    size_t len = (size_t)plan.segs[1].len;
    assert_true(len < SL_ERROR_PAGE_MAX);
    assert_memory_equal(body + len - 8, "</html>\n", 8);
    char cl[64];
    snprintf(cl, sizeof(cl), "Content-Length: %zu", len);
    assert_true(head_has(cl));
}

/* ---- connection handling ---- */

static void test_error_with_must_close_says_connection_close(void **state)
{
    parse("GET /notes.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_true(req.keep_alive);
    sl_serve_error(&env, &req, 400, true, &plan);
    assert_int_equal(plan.status, 400);
    assert_false(plan.keep_alive);
    assert_true(head_has("Connection: close"));

    sl_serve_error(&env, &req, 404, false, &plan);
    assert_true(plan.keep_alive);
    assert_true(head_lacks("Connection"));
}

static void test_request_with_a_body_closes_the_connection_after_the_answer(void **state)
{
    serve_file("GET /notes.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
    assert_true(req.has_body);
    assert_int_equal(plan.status, 200);
    assert_false(plan.keep_alive);
    assert_true(head_has("Connection: close"));
}

static void test_http10_keep_alive_is_confirmed_and_plain_http10_closes(void **state)
{
    serve_file("GET /notes.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_true(plan.keep_alive);
    assert_true(head_has("Connection: keep-alive"));

    serve_file("GET /notes.txt HTTP/1.0\r\n\r\n");
    assert_false(plan.keep_alive);
    assert_true(head_has("Connection: close"));
}

static void test_error_for_head_request_has_content_length_but_no_body(void **state)
{
    parse("HEAD /missing HTTP/1.1\r\nHost: x\r\n\r\n");
    sl_serve_error(&env, &req, 404, false, &plan);
    assert_int_equal(plan.status, 404);
    assert_true(plan.head_only);
    assert_int_equal(plan.nsegs, 1);
    assert_int_equal(plan.body_bytes, 0);
    char cl[64];
    snprintf(cl, sizeof(cl), "Content-Length: %zu", error_page_len(404));
    assert_true(head_has(cl));
}

/* ---- listings ---- */

static char name_sub[] = "sub";
static char name_a[] = "a.txt";
static struct sl_listing_entry entries[] = {
    {name_sub, 3, true, 4096, MTIME},
    {name_a, 5, false, 1536, MTIME},
};
static struct sl_listing listing = {.entries = entries, .count = 2};

static void serve_listing(const char *text)
{
    sl_listing_measure(&listing);
    parse(text);
    assert_int_equal(sl_serve_check(&env, &req, &path), 0);
    sl_serve_listing(&env, &req, &path, &listing, &plan);
}

static void nothing_to_release(void *arg)
{
}

/* The planned listing body as a listing producer makes it, drained chunk by chunk into
 * `produced` (NUL-terminated); its length must be the one the plan promised. */
static const char *produced_body(const char *url_path)
{
    assert_int_equal(plan.nsegs, 2);
    assert_null(plan.segs[1].mem);
    assert_false(plan.uses_file);
    enum sl_listing_format f =
        plan.produce == SL_PRODUCE_LISTING_JSON ? SL_LISTING_JSON : SL_LISTING_HTML;
    assert_true(plan.produce != SL_PRODUCE_NONE);
    struct sl_producer *p = sl_listbody_new(&listing, f, url_path, nothing_to_release, NULL);
    assert_non_null(p);
    size_t len = 0;
    free(produced);
    produced = malloc(plan.segs[1].len + 1);
    assert_non_null(produced);
    struct sl_chunk k;
    while (p->produce(p, &k) == 0 && k.len > 0) {
        assert_non_null(k.mem);
        assert_true(len + k.len <= plan.segs[1].len);
        memcpy(produced + len, k.mem, k.len);
        len += k.len;
    }
    p->free(p);
    assert_int_equal(len, plan.segs[1].len);
    produced[len] = '\0';
    return produced;
}

static void test_listing_is_html_by_default_from_a_producer_of_the_promised_length(void **state)
{
    serve_listing("GET /docs/ HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_int_equal(plan.status, 200);
    assert_true(head_has("Content-Type: text/html; charset=utf-8"));
    assert_true(head_has("Vary: Accept"));
    assert_true(head_has("Cache-Control: no-cache"));
    assert_int_equal(plan.produce, SL_PRODUCE_LISTING_HTML);
    char cl[64];
    snprintf(cl, sizeof(cl), "Content-Length: %llu", (unsigned long long)plan.segs[1].len);
    assert_true(head_has(cl));
    assert_int_equal(plan.body_bytes, plan.segs[1].len);
    const char *body = produced_body("/docs/");
    assert_true(starts_with(body, "<!DOCTYPE html>\n"));
    assert_non_null(strstr(body, "<title>Index of /docs/</title>"));
    assert_non_null(strstr(body, "<a href=\"./sub/\">"));
    assert_non_null(strstr(body, "<a href=\"./a.txt\">"));
}

static void test_listing_is_json_when_accept_asks_for_it(void **state)
{
    serve_listing("GET /docs/ HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n\r\n");
    assert_int_equal(plan.status, 200);
    assert_true(head_has("Content-Type: application/json"));
    assert_true(head_has("Vary: Accept"));
    assert_int_equal(plan.produce, SL_PRODUCE_LISTING_JSON);
    const char *want = "{\"path\":\"/docs/\",\"entries\":["
                       "{\"name\":\"sub\",\"type\":\"directory\",\"size\":4096,"
                       "\"mtime\":\"2026-11-23T17:53:20Z\"},"
                       "{\"name\":\"a.txt\",\"type\":\"file\",\"size\":1536,"
                       "\"mtime\":\"2026-11-23T17:53:20Z\"}]}";
    assert_string_equal(produced_body("/docs/"), want);
    char cl[64];
    snprintf(cl, sizeof(cl), "Content-Length: %zu", strlen(want));
    assert_true(head_has(cl));
}

static void test_listing_prefers_html_when_accept_names_it_before_json(void **state)
{
    serve_listing("GET / HTTP/1.1\r\nHost: x\r\nAccept: text/html, application/json\r\n\r\n");
    assert_true(head_has("Content-Type: text/html; charset=utf-8"));
    assert_non_null(strstr(produced_body("/"), "<title>Index of /</title>"));
}

static void test_listing_for_head_plans_head_only_with_get_content_length(void **state)
{
    serve_listing("GET /docs/ HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n\r\n");
    uint64_t get_len = plan.segs[1].len;
    serve_listing("HEAD /docs/ HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n\r\n");
    assert_true(plan.head_only);
    assert_int_equal(plan.nsegs, 1);
    assert_int_equal(plan.body_bytes, 0);
    char cl[64];
    snprintf(cl, sizeof(cl), "Content-Length: %llu", (unsigned long long)get_len);
    assert_true(head_has(cl));
}

/* The tag the listing carries for this request's format, from the ETag field. */
static const char *listing_etag(char out[SL_LISTING_ETAG_MAX])
{
    const char *f = strstr(head_text(), "\r\nETag: ");
    assert_non_null(f);
    f += strlen("\r\nETag: ");
    size_t n = strcspn(f, "\r");
    assert_true(n < SL_LISTING_ETAG_MAX);
    memcpy(out, f, n);
    out[n] = '\0';
    return out;
}

static void test_listing_sends_the_weak_etag_of_its_entries_and_format(void **state)
{
    char want[SL_LISTING_ETAG_MAX];
    char got[SL_LISTING_ETAG_MAX];
    serve_listing("GET /docs/ HTTP/1.1\r\nHost: x\r\n\r\n");
    sl_listing_etag(&listing, false, want, sizeof(want));
    assert_string_equal(listing_etag(got), want);
    assert_true(starts_with(got, "W/\""));

    serve_listing("GET /docs/ HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n\r\n");
    sl_listing_etag(&listing, true, want, sizeof(want));
    assert_string_equal(listing_etag(got), want);
    assert_true(head_lacks("Last-Modified"));
}

/* Plans the listing for a GET with Accept `accept` (NULL: none) and the field
 * "<name>: <value>". */
static void serve_listing_with(const char *accept, const char *name, const char *value)
{
    char text[512];
    snprintf(text, sizeof(text), "GET /docs/ HTTP/1.1\r\nHost: x\r\n%s%s%s%s: %s\r\n\r\n",
             accept ? "Accept: " : "", accept ? accept : "", accept ? "\r\n" : "", name, value);
    serve_listing(text);
}

static void test_listing_if_none_match_with_its_etag_returns_304_without_body(void **state)
{
    char tag[SL_LISTING_ETAG_MAX];
    sl_listing_etag(&listing, false, tag, sizeof(tag));
    serve_listing_with(NULL, "If-None-Match", tag);
    assert_int_equal(plan.status, 304);
    char want[512];
    snprintf(want, sizeof(want),
             "HTTP/1.1 304 Not Modified\r\n"
             "Date: " NOW_DATE "\r\n"
             "Server: sluice\r\n"
             "ETag: %s\r\n"
             "Cache-Control: no-cache\r\n"
             "Vary: Accept\r\n"
             "\r\n",
             tag);
    assert_string_equal(head_text(), want);
    assert_int_equal(plan.nsegs, 1);
    assert_int_equal(plan.body_bytes, 0);
    assert_int_equal(plan.produce, SL_PRODUCE_NONE); /* nothing to render */
    assert_true(plan.keep_alive);
}

/* Weak comparison (RFC 9110 §13.1.2): the tag matches with or without W/, among others. */
static void test_listing_if_none_match_compares_weakly_within_a_list(void **state)
{
    char tag[SL_LISTING_ETAG_MAX];
    char list[64];
    sl_listing_etag(&listing, true, tag, sizeof(tag));
    snprintf(list, sizeof(list), "\"old\", %s", tag + 2);
    serve_listing_with("application/json", "If-None-Match", list);
    assert_int_equal(plan.status, 304);
    assert_true(head_has("Vary: Accept"));

    serve_listing_with(NULL, "If-None-Match", "*");
    assert_int_equal(plan.status, 304);
}

static void test_listing_if_none_match_with_other_format_or_entries_returns_200(void **state)
{
    char html_tag[SL_LISTING_ETAG_MAX];
    sl_listing_etag(&listing, false, html_tag, sizeof(html_tag));
    serve_listing_with("application/json", "If-None-Match", html_tag);
    assert_int_equal(plan.status, 200);
    assert_true(head_has("Content-Type: application/json"));

    serve_listing_with(NULL, "If-None-Match", "W/\"0000-html\"");
    assert_int_equal(plan.status, 200);
    assert_int_equal(plan.nsegs, 2);
}

/* A listing has no modification date, so If-Modified-Since cannot make it 304. */
static void test_listing_ignores_if_modified_since(void **state)
{
    serve_listing_with(NULL, "If-Modified-Since", "Tue, 01 Jan 2030 00:00:00 GMT");
    assert_int_equal(plan.status, 200);
    assert_int_equal(plan.nsegs, 2);
}

/* If-Match compares strongly, which a weak tag never passes: only "*" does. */
static void test_listing_if_match_passes_only_star(void **state)
{
    char tag[SL_LISTING_ETAG_MAX];
    sl_listing_etag(&listing, false, tag, sizeof(tag));
    serve_listing_with(NULL, "If-Match", tag);
    assert_int_equal(plan.status, 412);
    assert_true(head_lacks("ETag"));

    serve_listing_with(NULL, "If-Match", "*");
    assert_int_equal(plan.status, 200);
}

/* ---- --live ---- */

#define ETAG_1K_LIVE "\"400-6b047d90-7b-live\""

/* The notes file as an HTML page whose </body> is at byte 1000. */
static void live_page(void)
{
    cfg.live = true;
    rep.mime = "text/html";
    rep.inject_at = 1000;
}

static void assert_script_seg(unsigned i)
{
    struct sl_str script = sl_inject_script();
    assert_ptr_equal(plan.segs[i].mem, script.p);
    assert_int_equal(plan.segs[i].len, script.n);
}

static void test_live_page_on_descriptor_is_file_then_script_then_rest_with_its_length(void **state)
{
    live_page();
    serve_file("GET /notes.html HTTP/1.1\r\nHost: x\r\n\r\n");
    size_t n = sl_inject_script().n;
    assert_int_equal(plan.status, 200);
    char cl[64];
    snprintf(cl, sizeof(cl), "Content-Length: %zu", 1024 + n);
    assert_true(head_has(cl));
    assert_true(head_has("ETag: " ETAG_1K_LIVE));
    assert_true(head_has("Accept-Ranges: bytes"));
    assert_int_equal(plan.nsegs, 4);
    assert_file_seg(1, 0, 1000);
    assert_script_seg(2);
    assert_file_seg(3, 1000, 24);
    assert_int_equal(plan.body_bytes, 1024 + n);
    assert_int_equal(body_len(), 1024 + n);
}

static void test_live_page_in_memory_is_three_memory_segments(void **state)
{
    live_page();
    rep.data = data;
    serve_file("GET /notes.html HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_int_equal(plan.nsegs, 4);
    assert_ptr_equal(plan.segs[1].mem, data);
    assert_int_equal(plan.segs[1].len, 1000);
    assert_script_seg(2);
    assert_ptr_equal(plan.segs[3].mem, data + 1000);
    assert_int_equal(plan.segs[3].len, 24);
    assert_false(plan.uses_file);
}

static void test_live_page_without_end_tag_gets_the_script_at_its_end(void **state)
{
    live_page();
    rep.inject_at = 1024;
    serve_file("GET /notes.html HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_int_equal(plan.nsegs, 3);
    assert_file_seg(1, 0, 1024);
    assert_script_seg(2);
    set_rep(0, MTIME, SL_ENC_IDENTITY);
    rep.inject_at = 0;
    serve_file("GET /empty.html HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_int_equal(plan.nsegs, 2);
    assert_script_seg(1);
}

static void test_live_head_of_page_says_the_injected_length_and_sends_no_body(void **state)
{
    live_page();
    serve_file("HEAD /notes.html HTTP/1.1\r\nHost: x\r\n\r\n");
    char cl[64];
    snprintf(cl, sizeof(cl), "Content-Length: %zu", 1024 + sl_inject_script().n);
    assert_true(head_has(cl));
    assert_true(head_has("ETag: " ETAG_1K_LIVE));
    assert_int_equal(plan.nsegs, 1);
    assert_int_equal(plan.body_bytes, 0);
}

static void test_live_page_is_not_modified_for_its_own_etag_only(void **state)
{
    live_page();
    serve_file("GET /notes.html HTTP/1.1\r\nHost: x\r\nIf-None-Match: " ETAG_1K_LIVE "\r\n\r\n");
    assert_int_equal(plan.status, 304);
    assert_true(head_has("ETag: " ETAG_1K_LIVE));
    assert_int_equal(plan.nsegs, 1);
    /* A copy of the plain file (cached before --live) is not this representation. */
    serve_file("GET /notes.html HTTP/1.1\r\nHost: x\r\nIf-None-Match: " ETAG_1K "\r\n\r\n");
    assert_int_equal(plan.status, 200);
    assert_int_equal(plan.nsegs, 4);
}

static void test_live_range_request_gets_the_plain_file_as_without_live(void **state)
{
    const char *get = "GET /notes.html HTTP/1.1\r\nHost: x\r\nRange: bytes=0-99\r\n\r\n";
    rep.mime = "text/html";
    rep.inject_at = 1000;
    serve_file(get);
    char plain[SL_OUT_MAX + 1];
    strcpy(plain, head_text());
    live_page();
    serve_file(get);
    assert_int_equal(plan.status, 206);
    assert_string_equal(head_text(), plain);
    assert_true(head_has("ETag: " ETAG_1K));
    assert_int_equal(plan.nsegs, 2);
    assert_file_seg(1, 0, 100);
    /* An If-Range with the injected page's tag is not the file's: the whole file, plain. */
    serve_file("GET /notes.html HTTP/1.1\r\nHost: x\r\nRange: bytes=0-99\r\n"
               "If-Range: " ETAG_1K_LIVE "\r\n\r\n");
    assert_int_equal(plan.status, 200);
    assert_true(head_has("Content-Length: 1024"));
    assert_true(head_has("ETag: " ETAG_1K));
}

static void test_without_live_or_an_inject_point_the_file_is_sent_as_it_is(void **state)
{
    rep.mime = "text/html";
    rep.inject_at = 1000;
    serve_file("GET /notes.html HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_true(head_has("ETag: " ETAG_1K));
    assert_int_equal(plan.nsegs, 2);
    live_page();
    rep.inject_at = SL_INJECT_NONE;
    serve_file("GET /notes.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_true(head_has("Content-Length: 1024"));
    assert_true(head_has("ETag: " ETAG_1K));
    assert_int_equal(plan.nsegs, 2);
}

static void test_live_check_answers_the_stream_path_before_hidden_names(void **state)
{
    parse("GET /.sluice/live HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_int_equal(sl_serve_check(&env, &req, &path), 404);
    cfg.live = true;
    assert_int_equal(sl_serve_check(&env, &req, &path), SL_SERVE_EVENT_STREAM);
    parse("GET /.sluice/%6cive?t=1 HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_int_equal(sl_serve_check(&env, &req, &path), SL_SERVE_EVENT_STREAM);
    parse("GET /.sluice/lively HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_int_equal(sl_serve_check(&env, &req, &path), 404);
    parse("POST /.sluice/live HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    assert_int_equal(sl_serve_check(&env, &req, &path), 405);
}

static void test_event_stream_is_a_head_without_length_then_hello_then_the_stream(void **state)
{
    cfg.live = true;
    parse("GET /.sluice/live HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n");
    sl_serve_event_stream(&env, &req, 0xa7d6140e, &plan);
    assert_int_equal(plan.status, 200);
    assert_string_equal(head_text(), "HTTP/1.1 200 OK\r\n"
                                     "Date: " NOW_DATE "\r\n"
                                     "Server: sluice\r\n"
                                     "Content-Type: text/event-stream\r\n"
                                     "Cache-Control: no-cache\r\n"
                                     "Connection: close\r\n"
                                     "\r\n");
    assert_int_equal(plan.nsegs, 2);
    assert_mem_seg(1, "retry: 500\nevent: hello\ndata: a7d6140e\n\n");
    assert_true(plan.stream);
    assert_false(plan.keep_alive);
    assert_false(plan.uses_file);

    parse("HEAD /.sluice/live HTTP/1.1\r\nHost: x\r\n\r\n");
    sl_serve_event_stream(&env, &req, 1, &plan);
    assert_int_equal(plan.nsegs, 1);
    assert_false(plan.stream);
}

static void test_live_root_missing_page_carries_the_script(void **state)
{
    parse("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    sl_serve_root_missing(&env, &req, &plan);
    assert_int_equal(plan.nsegs, 2);
    uint64_t plain = plan.segs[1].len;
    cfg.live = true;
    sl_serve_root_missing(&env, &req, &plan);
    assert_int_equal(plan.status, 503);
    assert_true(head_has("Retry-After: 1"));
    assert_int_equal(plan.nsegs, 4);
    assert_script_seg(2);
    assert_int_equal(body_len(), plain + sl_inject_script().n);
    assert_int_equal(plan.body_bytes, body_len());
    assert_memory_equal(plan.segs[3].mem + plan.segs[3].off, "</body>\n</html>\n", 16);
    char cl[64];
    snprintf(cl, sizeof(cl), "Content-Length: %llu", (unsigned long long)body_len());
    assert_true(head_has(cl));
}

/* ---- pre-rendered fields ---- */

/* The head of a request for rep, planned once with its fields formatted and once with
 * them copied from sl_serve_fields (the plan env as it is now): both must be the same
 * bytes. */
static void assert_fields_change_nothing(const char *request)
{
    char formatted[SL_OUT_MAX + 1];
    char fields[SL_FIELDS_MAX];
    rep.fields = NULL;
    serve_file(request);
    strcpy(formatted, head_text());
    rep.fields_len = sl_serve_fields(&cfg, &rep, fields, sizeof(fields), &rep.fields_validators);
    assert_true(rep.fields_len > 0);
    rep.fields = fields;
    serve_file(request);
    assert_string_equal(head_text(), formatted);
    rep.fields = NULL;
}

static void test_pre_rendered_fields_give_the_same_heads_as_formatted_ones(void **state)
{
    static const char *const requests[] = {
        "GET /notes.txt HTTP/1.1\r\nHost: x\r\n\r\n",
        "HEAD /notes.txt HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /notes.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        "GET /notes.txt HTTP/1.1\r\nHost: x\r\nIf-None-Match: " ETAG_1K "\r\n\r\n",
        "GET /notes.txt HTTP/1.1\r\nHost: x\r\nIf-Modified-Since: " NOW_DATE "\r\n\r\n",
        "GET /notes.txt?download HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /notes.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-9\r\n\r\n",
        "GET /notes.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-9\r\nIf-Range: \"x\"\r\n\r\n",
    };
    for (int variant = 0; variant < 8; variant++) {
        setup(state);
        if (variant == 1)
            cfg.max_age = 3600;
        if (variant == 2)
            rep.variants = SL_ENC_GZIP | SL_ENC_BR;
        if (variant == 3)
            rep.charset = "windows-1252";
        if (variant == 4)
            set_rep(1024, NOW + 3600, SL_ENC_IDENTITY); /* Last-Modified clamped to Date */
        if (variant == 5) {
            cfg.max_age = 3600;
            env.revalidate = true; /* no-cache all the same */
        }
        if (variant == 6) { /* after the copied fields, as after formatted ones */
            assert_int_equal(sl_config_add_header(&cfg, "X-Two: a b", stderr), 0);
            assert_int_equal(sl_config_enable_cors(&cfg, stderr), 0);
        }
        if (variant == 7)
            rep.attachment = true; /* a download whether asked for or not */
        for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); i++)
            assert_fields_change_nothing(requests[i]);
    }
}

/* Marked fields show where they are copied: a whole 200 and a 304, not a download, a
 * range, a --spa fallback, a file stamped later than the Date, or a --live page. */
static void test_pre_rendered_fields_are_copied_only_where_they_hold(void **state)
{
    /* As sl_serve_fields lays a head out: status line, Date and Server, then the fields. */
    char marked[256];
    struct sl_buf b = sl_buf_make(marked, sizeof(marked));
    sl_head_begin(&b, 200, env.date);
    sl_buf_puts(&b, "X-Whole: 1\r\n");
    rep.fields_validators = b.len;
    sl_buf_puts(&b, "X-Validators: 1\r\n");
    rep.fields = marked;
    rep.fields_len = b.len;
    serve_file("GET /notes.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_true(head_has("X-Whole: 1"));
    assert_true(head_has("X-Validators: 1"));
    assert_true(head_lacks("ETag"));
    serve_file("GET /notes.txt HTTP/1.1\r\nHost: x\r\nIf-None-Match: " ETAG_1K "\r\n\r\n");
    assert_int_equal(plan.status, 304);
    assert_true(head_lacks("X-Whole"));
    assert_true(head_has("X-Validators: 1"));

    serve_file("GET /notes.txt?download HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_true(head_lacks("X-Whole"));
    serve_file("GET /notes.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-9\r\n\r\n");
    assert_true(head_lacks("X-Validators"));
    env.revalidate = true;
    serve_file("GET /notes.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_true(head_lacks("X-Whole"));
    env.revalidate = false;
    rep.st.st_mtim.tv_sec = NOW + 1;
    serve_file("GET /notes.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_true(head_lacks("X-Whole"));
    rep.st.st_mtim.tv_sec = MTIME;
    live_page();
    serve_file("GET /notes.html HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_true(head_lacks("X-Whole"));
    assert_true(head_has("ETag: " ETAG_1K_LIVE));
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

/* ---- -H and --cors ---- */

static void test_extra_headers_go_on_200_304_404_301_and_412(void **state)
{
    assert_int_equal(sl_config_add_header(&cfg, "Cross-Origin-Opener-Policy:same-origin", stderr),
                     0);
    assert_int_equal(sl_config_add_header(&cfg, "X-Two:   a b\t", stderr), 0);
    serve_file("GET /notes.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_int_equal(plan.status, 200);
    assert_true(head_has("Cross-Origin-Opener-Policy: same-origin"));
    assert_true(head_has("X-Two: a b"));
    serve_file("GET /notes.txt HTTP/1.1\r\nHost: x\r\nIf-None-Match: " ETAG_1K "\r\n\r\n");
    assert_int_equal(plan.status, 304);
    assert_true(head_has("X-Two: a b"));
    serve_file("GET /notes.txt HTTP/1.1\r\nHost: x\r\nIf-Match: \"other\"\r\n\r\n");
    assert_int_equal(plan.status, 412);
    assert_true(head_has("X-Two: a b"));
    sl_serve_error(&env, &req, 404, false, &plan);
    assert_true(head_has("Cross-Origin-Opener-Policy: same-origin"));
    assert_int_equal(plan.segs[1].len, error_page_len(404));
    parse("GET /d?x=1 HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_int_equal(sl_serve_check(&env, &req, &path), 0);
    sl_serve_redirect(&env, &req, &path, &plan);
    assert_int_equal(plan.status, 301);
    assert_true(head_has("X-Two: a b"));
}

static void test_extra_headers_refuse_framing_fields_bad_names_and_control_bytes(void **state)
{
    FILE *null = fopen("/dev/null", "w");
    assert_non_null(null);
    assert_int_equal(sl_config_add_header(&cfg, "Content-Length: 3", null), -1);
    assert_int_equal(sl_config_add_header(&cfg, "transfer-encoding: chunked", null), -1);
    assert_int_equal(sl_config_add_header(&cfg, "Connection: close", null), -1);
    assert_int_equal(sl_config_add_header(&cfg, "Content-Range: bytes 0-1/2", null), -1);
    assert_int_equal(sl_config_add_header(&cfg, "Bad Name: x", null), -1);
    assert_int_equal(sl_config_add_header(&cfg, ": x", null), -1);
    assert_int_equal(sl_config_add_header(&cfg, "NoColon", null), -1);
    assert_int_equal(sl_config_add_header(&cfg, "X: a\rb", null), -1);
    assert_int_equal(sl_config_add_header(&cfg, "X: a\nb", null), -1);
    assert_int_equal(cfg.extra_headers_len, 0);
    /* Room is bounded: the error head and page must still fit in a plan. */
    static char big[SL_EXTRA_HEADERS_MAX];
    memset(big, 'v', sizeof(big) - 1);
    memcpy(big, "X-Big: ", 7);
    assert_int_equal(sl_config_add_header(&cfg, big, null), -1);
    fclose(null);
}

static void test_cors_fields_go_on_every_response(void **state)
{
    assert_int_equal(sl_config_enable_cors(&cfg, stderr), 0);
    serve_file("GET /notes.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-9\r\n\r\n");
    assert_int_equal(plan.status, 206);
    assert_true(head_has("Access-Control-Allow-Origin: *"));
    assert_true(head_has("Access-Control-Expose-Headers: Accept-Ranges, Content-Range, "
                         "Content-Encoding, Content-Disposition, ETag"));
    sl_serve_error(&env, &req, 404, false, &plan);
    assert_true(head_has("Access-Control-Allow-Origin: *"));
}

static void test_options_without_cors_is_405_allowing_get_and_head(void **state)
{
    parse("OPTIONS /notes.txt HTTP/1.1\r\nHost: x\r\nOrigin: http://a\r\n"
          "Access-Control-Request-Method: GET\r\n\r\n");
    assert_int_equal(sl_serve_check(&env, &req, &path), 405);
}

static void test_cors_preflight_is_204_with_methods_and_only_honoured_fields(void **state)
{
    assert_int_equal(sl_config_enable_cors(&cfg, stderr), 0);
    parse("OPTIONS /notes.txt HTTP/1.1\r\nHost: x\r\nOrigin: http://a\r\n"
          "Access-Control-Request-Method: GET\r\n"
          "Access-Control-Request-Headers: range,x-custom , if-none-match\r\n\r\n");
    assert_int_equal(sl_serve_check(&env, &req, &path), 204);
    sl_serve_options(&env, &req, &plan);
    assert_int_equal(plan.status, 204);
    assert_true(status_line_is("HTTP/1.1 204 No Content"));
    assert_true(head_has("Access-Control-Allow-Methods: GET, HEAD"));
    assert_true(head_has("Access-Control-Allow-Headers: range, if-none-match"));
    assert_true(head_has("Access-Control-Allow-Origin: *"));
    assert_true(head_has("Allow: GET, HEAD, OPTIONS"));
    assert_true(head_lacks("Content-Length"));
    assert_int_equal(plan.nsegs, 1);
    assert_true(plan.keep_alive);

    /* Nothing honoured asked for: no empty Allow-Headers field. */
    parse("OPTIONS /x HTTP/1.1\r\nHost: x\r\nAccess-Control-Request-Method: GET\r\n"
          "Access-Control-Request-Headers: x-custom\r\n\r\n");
    sl_serve_options(&env, &req, &plan);
    assert_true(head_lacks("Access-Control-Allow-Headers"));
    assert_true(head_has("Access-Control-Allow-Methods: GET, HEAD"));

    /* A plain OPTIONS (no preflight): 204 with Allow only. */
    parse("OPTIONS /x HTTP/1.1\r\nHost: x\r\n\r\n");
    sl_serve_options(&env, &req, &plan);
    assert_int_equal(plan.status, 204);
    assert_true(head_lacks("Access-Control-Allow-Methods"));
    assert_true(head_has("Allow: GET, HEAD, OPTIONS"));

    /* Other methods are still 405, now allowing OPTIONS too. */
    parse("DELETE /x HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_int_equal(sl_serve_check(&env, &req, &path), 405);
    sl_serve_error(&env, &req, 405, false, &plan);
    assert_true(head_has("Allow: GET, HEAD, OPTIONS"));
}

static void test_longest_redirect_with_full_extra_headers_still_fits(void **state)
{
    static char field[SL_EXTRA_HEADERS_MAX];
    memset(field, 'v', sizeof(field));
    memcpy(field, "X-Pad: ", 7);
    field[SL_EXTRA_HEADERS_MAX - 12] = '\0'; /* with ": " and CRLF, just under the room */
    assert_int_equal(sl_config_add_header(&cfg, field, stderr), 0);
    static char raw[SL_URL_MAX + 8];
    parse("GET /d HTTP/1.1\r\nHost: x\r\n\r\n");
    memset(raw, 'a', sizeof(raw));
    raw[0] = '/';
    path.raw_query = NULL;
    path.raw_path = raw;
    path.raw_path_len = SL_URL_MAX + 6;
    sl_serve_redirect(&env, &req, &path, &plan);
    assert_int_equal(plan.status, 301);
    assert_false(plan.overflow);
    sl_serve_error(&env, &req, 416, false, &plan);
    assert_int_equal(plan.status, 416);
    assert_false(plan.overflow);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_get_of_file_on_descriptor_plans_exact_head_then_whole_file_range),
        T(test_max_age_config_sends_public_max_age_instead_of_no_cache),
        T(test_cached_file_body_is_a_memory_segment_pointing_into_data),
        T(test_head_request_plans_head_only_with_full_content_length),
        T(test_empty_file_has_content_length_zero_and_no_body_segment),
        T(test_file_stamped_in_the_future_is_last_modified_at_the_date),
        T(test_gzip_variant_sends_content_encoding_and_vary_with_original_type),
        T(test_identity_with_variants_on_disk_varies_without_content_encoding),
        T(test_download_query_adds_attachment_content_disposition_with_name),
        T(test_download_must_be_a_whole_parameter_name),
        T(test_download_name_with_quotes_and_percent_is_escaped_in_both_parameters),
        T(test_download_name_of_255_non_ascii_bytes_still_gets_its_header),
        T(test_if_none_match_with_current_etag_returns_304_with_validators_only),
        T(test_field_names_match_in_any_case_and_only_exactly),
        T(test_host_is_checked_afresh_unless_it_is_the_last_valid_one),
        T(test_reset_leaves_no_field_and_no_joined_line_of_the_request_before),
        T(test_keep_alive_follows_version_and_connection_close_first),
        T(test_every_kept_field_is_found_in_any_case_and_near_misses_are_not),
        T(test_built_in_error_heads_carry_the_date_of_the_response),
        T(test_not_modified_for_a_variant_still_says_vary),
        T(test_serve_built_in_plans_the_page_with_the_head_of_the_request),
        T(test_if_match_failing_returns_412_error_page),
        T(test_if_modified_since_at_or_after_mtime_returns_304_and_before_returns_200),
        T(test_if_none_match_mismatch_overrides_a_matching_if_modified_since),
        T(test_range_first_100_bytes_returns_206_with_content_range_and_file_segment),
        T(test_suffix_range_returns_the_last_bytes),
        T(test_range_of_cached_file_points_into_data_at_its_offset),
        T(test_unsatisfiable_range_returns_416_with_star_content_range),
        T(test_two_ranges_return_multipart_byteranges_with_exact_parts),
        T(test_multipart_boundary_follows_env_boundary),
        T(test_sixteen_ranges_plan_thirty_four_segments),
        T(test_if_range_with_current_etag_honours_the_range),
        T(test_if_range_with_other_etag_sends_whole_file),
        T(test_if_range_date_of_a_file_modified_this_second_is_weak_and_sends_whole_file),
        T(test_if_range_date_equal_to_a_last_modified_a_second_old_honours_range),
        T(test_head_too_large_for_out_becomes_a_whole_500_page),
        T(test_multipart_part_heads_too_large_become_a_500_page),
        T(test_check_refuses_post_with_405_whose_page_allows_get_and_head),
        T(test_check_refuses_dot_dot_above_root_with_400),
        T(test_check_hides_dotfiles_with_404_unless_configured),
        T(test_check_serves_well_known_even_without_dotfiles),
        T(test_redirect_adds_final_slash_with_exact_head_and_body),
        T(test_redirect_follows_max_age_like_files),
        T(test_redirect_keeps_query_and_client_encoding),
        T(test_redirect_folds_leading_slashes_so_location_is_never_network_path),
        T(test_redirect_escapes_backslash_as_pct_5c),
        T(test_redirect_location_up_to_url_max_plus_7_fits_and_one_more_is_414),
        T(test_redirect_whose_escaped_backslashes_outgrow_the_location_is_414),
        T(test_root_missing_is_a_whole_503_page_with_retry_after),
        T(test_error_with_must_close_says_connection_close),
        T(test_request_with_a_body_closes_the_connection_after_the_answer),
        T(test_http10_keep_alive_is_confirmed_and_plain_http10_closes),
        T(test_error_for_head_request_has_content_length_but_no_body),
        T(test_listing_is_html_by_default_from_a_producer_of_the_promised_length),
        T(test_listing_is_json_when_accept_asks_for_it),
        T(test_listing_prefers_html_when_accept_names_it_before_json),
        T(test_listing_for_head_plans_head_only_with_get_content_length),
        T(test_listing_sends_the_weak_etag_of_its_entries_and_format),
        T(test_listing_if_none_match_with_its_etag_returns_304_without_body),
        T(test_listing_if_none_match_compares_weakly_within_a_list),
        T(test_listing_if_none_match_with_other_format_or_entries_returns_200),
        T(test_listing_ignores_if_modified_since),
        T(test_listing_if_match_passes_only_star),
        T(test_live_page_on_descriptor_is_file_then_script_then_rest_with_its_length),
        T(test_live_page_in_memory_is_three_memory_segments),
        T(test_live_page_without_end_tag_gets_the_script_at_its_end),
        T(test_live_head_of_page_says_the_injected_length_and_sends_no_body),
        T(test_live_page_is_not_modified_for_its_own_etag_only),
        T(test_live_range_request_gets_the_plain_file_as_without_live),
        T(test_without_live_or_an_inject_point_the_file_is_sent_as_it_is),
        T(test_live_check_answers_the_stream_path_before_hidden_names),
        T(test_event_stream_is_a_head_without_length_then_hello_then_the_stream),
        T(test_live_root_missing_page_carries_the_script),
        T(test_extra_headers_go_on_200_304_404_301_and_412),
        T(test_extra_headers_refuse_framing_fields_bad_names_and_control_bytes),
        T(test_cors_fields_go_on_every_response),
        T(test_options_without_cors_is_405_allowing_get_and_head),
        T(test_cors_preflight_is_204_with_methods_and_only_honoured_fields),
        T(test_longest_redirect_with_full_extra_headers_still_fits),
        T(test_pre_rendered_fields_give_the_same_heads_as_formatted_ones),
        T(test_pre_rendered_fields_are_copied_only_where_they_hold),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
