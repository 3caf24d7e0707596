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

static void test_error_page_names_status_in_title_and_heading(void **state)
{
    char mem[1024];
    struct sl_buf b = sl_buf_make(mem, sizeof(mem) - 1);
    sl_error_page(&b, 404);
    assert_false(b.overflow);
    mem[b.len] = '\0';
    assert_non_null(strstr(mem, "<!DOCTYPE html>"));
    assert_non_null(strstr(mem, "<title>404 Not Found</title>"));
    assert_non_null(strstr(mem, "<h1>404 Not Found</h1>"));
}

static void test_error_pages_fit_the_1k_buffer_the_server_gives_them(void **state)
{
    int statuses[] = {400, 403, 404, 405, 408, 412, 414, 416, 431, 500, 503, 505};
    for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        char mem[1024];
        struct sl_buf b = sl_buf_make(mem, sizeof(mem));
        sl_error_page(&b, statuses[i]);
        assert_false(b.overflow);
        assert_true(b.len > 100);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_head_begin_writes_status_line_date_and_server),
        cmocka_unit_test(test_head_field_formats_name_colon_space_value_crlf),
        cmocka_unit_test(test_head_end_http11_keepalive_adds_no_connection_field),
        cmocka_unit_test(test_head_end_http10_keepalive_says_keep_alive),
        cmocka_unit_test(test_head_end_close_says_close_for_both_versions),
        cmocka_unit_test(test_reason_phrases_for_every_status_we_send),
        cmocka_unit_test(test_error_page_names_status_in_title_and_heading),
        cmocka_unit_test(test_error_pages_fit_the_1k_buffer_the_server_gives_them),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
