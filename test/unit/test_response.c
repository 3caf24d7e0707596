/* Unit tests for response heads and error pages (header building). */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <stdio.h>
#include <string.h>

#include "sluice/httpdate.h"
#include "sluice/response.h"

static const char *date = "Mon, 23 Nov 2026 18:52:40 GMT";

static void test_head_begin_writes_status_line_date_and_server(void **state)
{
    char mem[256];
    struct sl_buf b = sl_buf_make(mem, sizeof(mem));
    sl_head_begin(&b, 404, date);
    assert_false(b.overflow);
    assert_int_equal(b.len, strlen("HTTP/1.1 404 Not Found\r\nDate: Mon, 23 Nov 2026 18:52:40 "
                                   "GMT\r\nServer: sluice\r\n"));
    assert_memory_equal(mem,
                        "HTTP/1.1 404 Not Found\r\nDate: Mon, 23 Nov 2026 18:52:40 GMT\r\n"
                        "Server: sluice\r\n",
                        b.len);
}

static void test_head_begin_for_a_status_without_a_reason_says_unknown(void **state)
{
    char mem[256];
    struct sl_buf b = sl_buf_make(mem, sizeof(mem));
    sl_head_begin(&b, 299, date);
    const char *want = "HTTP/1.1 299 Unknown\r\nDate: Mon, 23 Nov 2026 18:52:40 GMT\r\n"
                       "Server: sluice\r\n";
    assert_false(b.overflow);
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(mem, want, b.len);
}

static void test_head_begin_that_does_not_fit_writes_nothing(void **state)
{
    char mem[40];
    struct sl_buf b = sl_buf_make(mem, sizeof(mem));
    sl_head_begin(&b, 200, date);
    assert_true(b.overflow);
    assert_int_equal(b.len, 0);
}

static void test_head_field_formats_name_colon_space_value_crlf(void **state)
{
    char mem[64];
    struct sl_buf b = sl_buf_make(mem, sizeof(mem));
    sl_head_field(&b, "Content-Type", SL_STR("text/plain"));
    sl_head_field_u64(&b, "Content-Length", 18446744073709551615u);
    assert_false(b.overflow);
    const char *want = "Content-Type: text/plain\r\nContent-Length: 18446744073709551615\r\n";
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(mem, want, b.len);
}

static void test_head_field_that_does_not_fit_is_left_out_whole(void **state)
{
    char mem[32];
    struct sl_buf b = sl_buf_make(mem, sizeof(mem));
    sl_head_field(&b, "A", SL_STR("b"));
    sl_head_field(&b, "Content-Type", SL_STR("text/plain; charset=utf-8"));
    assert_true(b.overflow);
    assert_int_equal(b.len, strlen("A: b\r\n"));
    assert_memory_equal(mem, "A: b\r\n", b.len);
}

static void test_head_end_http11_keepalive_adds_no_connection_field(void **state)
{
    char mem[64];
    struct sl_buf b = sl_buf_make(mem, sizeof(mem));
    sl_head_end(&b, true, false);
    assert_int_equal(b.len, 2);
    assert_memory_equal(mem, "\r\n", 2);
}

static void test_head_end_http10_keepalive_says_keep_alive(void **state)
{
    char mem[64];
    struct sl_buf b = sl_buf_make(mem, sizeof(mem));
    sl_head_end(&b, true, true);
    const char *want = "Connection: keep-alive\r\n\r\n";
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(mem, want, b.len);
}

static void test_head_end_close_says_close_for_both_versions(void **state)
{
    for (int v10 = 0; v10 <= 1; v10++) {
        char mem[64];
        struct sl_buf b = sl_buf_make(mem, sizeof(mem));
        sl_head_end(&b, false, v10);
        const char *want = "Connection: close\r\n\r\n";
        assert_int_equal(b.len, strlen(want));
        assert_memory_equal(mem, want, b.len);
    }
}

static void test_reason_phrases_for_every_status_we_send(void **state)
{
    static const struct {
        int status;
        const char *reason;
    } cases[] = {
        {200, "OK"},
        {206, "Partial Content"},
        {301, "Moved Permanently"},
        {304, "Not Modified"},
        {400, "Bad Request"},
        {403, "Forbidden"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {412, "Precondition Failed"},
        {414, "URI Too Long"},
        {416, "Range Not Satisfiable"},
        {431, "Request Header Fields Too Large"},
        {500, "Internal Server Error"},
        {501, "Not Implemented"},
        {505, "HTTP Version Not Supported"},
        {299, "Unknown"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_string_equal(sl_status_reason(cases[i].status), cases[i].reason);
}

/* The page for `status` as a C string, checked to fit the planner's buffer. */
static const char *page_of(int status, char mem[SL_ERROR_PAGE_MAX])
{
    struct sl_buf b = sl_buf_make(mem, SL_ERROR_PAGE_MAX - 1);
    sl_error_page(&b, status);
    assert_false(b.overflow);
    mem[b.len] = '\0';
    return mem;
}

static void test_error_page_names_status_in_title_and_heading(void **state)
{
    char mem[SL_ERROR_PAGE_MAX];
    const char *page = page_of(404, mem);
    assert_non_null(strstr(page, "<!DOCTYPE html>"));
    assert_non_null(strstr(page, "<title>404 Not Found</title>"));
    assert_non_null(strstr(page, "<h1>404 Not Found</h1>"));
    assert_non_null(strstr(page, "<p>Nothing is served at this address.</p>"));
    assert_string_equal(page + strlen(page) - 8, "</html>\n");
}

static void test_error_page_fits_a_phone_and_asks_for_no_favicon(void **state)
{
    char mem[SL_ERROR_PAGE_MAX];
    const char *page = page_of(500, mem);
    assert_non_null(strstr(page, "<meta charset=\"utf-8\">"));
    assert_non_null(
        strstr(page, "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"));
    assert_non_null(strstr(page, "<link rel=\"icon\" href=\"data:,\">"));
}

/* The same palette as the listings, light and dark, inline: a page that may be answering a
 * broken server loads nothing else, and runs no script. */
static void test_error_page_follows_the_colour_scheme_with_inline_style(void **state)
{
    char mem[SL_ERROR_PAGE_MAX];
    const char *page = page_of(403, mem);
    assert_non_null(strstr(page, "<meta name=\"color-scheme\" content=\"light dark\">"));
    assert_non_null(strstr(page, "<style>\n" SL_PAGE_STYLE "</style>"));
    assert_non_null(strstr(page, "@media (prefers-color-scheme:dark)"));
    assert_null(strstr(page, "<script"));
    assert_null(strstr(page, "<link rel=\"stylesheet\""));
}

static void test_error_page_links_to_the_home_page(void **state)
{
    char mem[SL_ERROR_PAGE_MAX];
    const char *page = page_of(404, mem);
    assert_non_null(strstr(page, "<a href=\"/\">Go to the home page</a>"));
    assert_non_null(strstr(page, "<footer>sluice</footer>"));
}

static void test_error_page_text_uses_the_explanation_given(void **state)
{
    char mem[SL_ERROR_PAGE_MAX];
    struct sl_buf b = sl_buf_make(mem, sizeof(mem) - 1);
    sl_error_page_text(&b, 503, "Back soon.");
    assert_false(b.overflow);
    mem[b.len] = '\0';
    assert_non_null(strstr(mem, "<h1>503 Service Unavailable</h1>\n<p>Back soon.</p>"));
}

/* Every page fits the buffer the planner gives it, with room for a long explanation. */
static void test_error_pages_fit_the_buffer_the_planner_gives_them(void **state)
{
    int statuses[] = {400, 403, 404, 405, 408, 412, 414, 416, 431, 500, 503, 505};
    for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        char mem[SL_ERROR_PAGE_MAX];
        struct sl_buf b = sl_buf_make(mem, sizeof(mem));
        sl_error_page(&b, statuses[i]);
        assert_false(b.overflow);
        assert_true(b.len > 100);
        assert_true(b.len + 512 <= SL_ERROR_PAGE_MAX);
    }
}

static void test_error_page_head_gives_its_status_date_type_and_exact_length(void **state)
{
    int statuses[] = {400, 403, 404, 405, 408, 412, 414, 416, 431, 500, 501, 503, 505};
    for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        const struct sl_built_in_page *page = sl_built_in_page(statuses[i]);
        assert_non_null(page);
        struct sl_str body = page->body, head = page->head;
        size_t date_at = page->date_at;
        assert_non_null(body.p);
        char stand_in[SL_HTTPDATE_LEN + 1];
        assert_true(date_at + SL_HTTPDATE_LEN <= head.n);
        memcpy(stand_in, head.p + date_at, SL_HTTPDATE_LEN);
        stand_in[SL_HTTPDATE_LEN] = '\0';
        char want[256];
        struct sl_buf b = sl_buf_make(want, sizeof(want));
        sl_head_begin(&b, statuses[i], stand_in);
        int n =
            snprintf(want + b.len, sizeof(want) - b.len,
                     "Content-Type: text/html; charset=utf-8\r\nContent-Length: %zu\r\n", body.n);
        assert_int_equal(head.n, b.len + (size_t)n);
        assert_memory_equal(head.p, want, head.n);
        assert_memory_equal(head.p + date_at - 6, "Date: ", 6);
    }
    assert_null(sl_built_in_page(200));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_head_begin_writes_status_line_date_and_server),
        cmocka_unit_test(test_head_begin_for_a_status_without_a_reason_says_unknown),
        cmocka_unit_test(test_head_begin_that_does_not_fit_writes_nothing),
        cmocka_unit_test(test_head_field_formats_name_colon_space_value_crlf),
        cmocka_unit_test(test_head_field_that_does_not_fit_is_left_out_whole),
        cmocka_unit_test(test_head_end_http11_keepalive_adds_no_connection_field),
        cmocka_unit_test(test_head_end_http10_keepalive_says_keep_alive),
        cmocka_unit_test(test_head_end_close_says_close_for_both_versions),
        cmocka_unit_test(test_reason_phrases_for_every_status_we_send),
        cmocka_unit_test(test_error_page_names_status_in_title_and_heading),
        cmocka_unit_test(test_error_page_fits_a_phone_and_asks_for_no_favicon),
        cmocka_unit_test(test_error_page_follows_the_colour_scheme_with_inline_style),
        cmocka_unit_test(test_error_page_links_to_the_home_page),
        cmocka_unit_test(test_error_page_text_uses_the_explanation_given),
        cmocka_unit_test(test_error_pages_fit_the_buffer_the_planner_gives_them),
        cmocka_unit_test(test_error_page_head_gives_its_status_date_type_and_exact_length),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
