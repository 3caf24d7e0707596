/* Unit tests for the access log's two line formats (log.c), read back through a pipe. */
/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sluice/log.h"

/* Mon, 23 Nov 2026 18:53:20 GMT */
#define NOW ((time_t)1795460000)

static char out[65536];

/* Logs e in the given format and returns what reached the descriptor. */
static const char *log_line(bool json, const struct sl_log_entry *e)
{
    int fds[2];
    assert_int_equal(pipe2(fds, O_NONBLOCK), 0);
    struct sl_log log;
    assert_int_equal(sl_log_init(&log, fds[1], json), 0);
    sl_log_request(&log, NOW, e);
    sl_log_free(&log); /* flushes */
    ssize_t n = read(fds[0], out, sizeof(out) - 1);
    assert_true(n > 0);
    out[n] = '\0';
    close(fds[0]);
    close(fds[1]);
    return out;
}

static const struct sl_log_entry plain = {
    .peer = "192.0.2.7",
    .method = SL_STR_INIT("GET"),
    .target = SL_STR_INIT("/a.txt?x=1"),
    .http_major = 1,
    .http_minor = 1,
    .status = 200,
    .bytes = 1234,
    .referer = {NULL, 0},
    .user_agent = SL_STR_INIT("curl/8.0"),
};

static void test_combined_line_has_every_field_and_dash_for_absent_referer(void **state)
{
    assert_string_equal(log_line(false, &plain),
                        "192.0.2.7 - - [23/Nov/2026:18:53:20 +0000] \"GET /a.txt?x=1 HTTP/1.1\" "
                        "200 1234 \"-\" \"curl/8.0\"\n");
}

static void test_json_line_has_the_same_fields_and_null_for_absent_referer(void **state)
{
    assert_string_equal(log_line(true, &plain),
                        "{\"time\":\"2026-11-23T18:53:20Z\",\"remote_addr\":\"192.0.2.7\","
                        "\"method\":\"GET\",\"target\":\"/a.txt?x=1\",\"protocol\":\"HTTP/1.1\","
                        "\"status\":200,\"bytes\":1234,\"referer\":null,"
                        "\"user_agent\":\"curl/8.0\"}\n");
}

static void test_json_escapes_client_text_per_rfc_8259(void **state)
{
    struct sl_log_entry e = plain;
    e.target = SL_STR("/\"q\"\\\n");
    e.referer = SL_STR("");
    e.user_agent = SL_STR("a\x1b[2J\xc2\x9b\xff\xc3\xa9");
    assert_string_equal(
        log_line(true, &e),
        "{\"time\":\"2026-11-23T18:53:20Z\",\"remote_addr\":\"192.0.2.7\","
        "\"method\":\"GET\",\"target\":\"/\\\"q\\\"\\\\\\n\","
        "\"protocol\":\"HTTP/1.1\",\"status\":200,\"bytes\":1234,"
        "\"referer\":\"\",\"user_agent\":\"a\\u001b[2J\\u009b\xef\xbf\xbd\xc3\xa9\"}\n");
}

static void test_long_target_is_cut_to_4096_bytes_in_both_formats(void **state)
{
    static char target[10000];
    memset(target, 'a', sizeof(target));
    target[0] = '/';
    struct sl_log_entry e = plain;
    e.target = sl_str_make(target, sizeof(target));
    assert_int_equal(strspn(strstr(log_line(false, &e), "\"GET /") + 6, "a"), 4095);
    assert_int_equal(strspn(strstr(log_line(true, &e), "\"target\":\"/") + 11, "a"), 4095);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_combined_line_has_every_field_and_dash_for_absent_referer),
        cmocka_unit_test(test_json_line_has_the_same_fields_and_null_for_absent_referer),
        cmocka_unit_test(test_json_escapes_client_text_per_rfc_8259),
        cmocka_unit_test(test_long_target_is_cut_to_4096_bytes_in_both_formats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
