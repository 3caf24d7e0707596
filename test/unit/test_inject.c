/* Unit tests for what --live puts into pages (src/inject.c): where the script goes, the
 * event stream's reserved path, the injected page's ETag, the script itself. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <string.h>

#include "sluice/inject.h"

static size_t find(const char *page)
{
    return sl_inject_find(page, strlen(page));
}

static void test_script_goes_before_the_body_end_tag(void **state)
{
    const char *page = "<!doctype html><title>t</title><p>hi</p></body></html>\n";
    assert_int_equal(find(page), strstr(page, "</body>") - page);
}

static void test_end_tag_is_found_in_any_case_and_with_space_or_slash_after_its_name(void **state)
{
    assert_int_equal(find("<p>a</BODY></HTML>"), 4);
    assert_int_equal(find("<p>a</Body >"), 4);
    assert_int_equal(find("<p>a</body\n>"), 4);
    assert_int_equal(find("<p>a</body/>"), 4);
    assert_int_equal(find("</body>"), 0);
}

static void test_the_last_end_tag_wins_over_one_quoted_earlier(void **state)
{
    const char *page = "<script>document.write('</body>')</script><p>x</p></body></html>";
    assert_int_equal(find(page), strstr(page, "</p></body>") + 4 - page);
}

static void test_without_an_end_tag_the_script_goes_at_the_end(void **state)
{
    assert_int_equal(find("<!doctype html><p>no end tag"), 28);
    assert_int_equal(find(""), 0);
    assert_int_equal(find("</bo"), 4);
    /* Other tags that start alike are not the body's end. */
    assert_int_equal(find("<p>a</bodyguard>"), 16);
    assert_int_equal(find("<p>a<body>"), 10);
    /* A tag name cut off by the end of the bytes ends nothing. */
    assert_int_equal(find("<p>a</body"), 10);
}

static void test_bytes_after_the_end_tag_may_be_anything(void **state)
{
    char page[64] = "<p>x</p></body>\0\xff\n</html>";
    assert_int_equal(sl_inject_find(page, 25), 8);
}

static void test_only_the_reserved_path_is_the_event_stream(void **state)
{
    assert_true(sl_inject_is_stream(".sluice/live", 12));
    assert_false(sl_inject_is_stream(".sluice/live2", 13));
    assert_false(sl_inject_is_stream(".sluice/liv", 11));
    assert_false(sl_inject_is_stream(".sluice", 7));
    assert_false(sl_inject_is_stream("a/.sluice/live", 14));
    assert_false(sl_inject_is_stream("", 0));
}

static void test_injected_etag_adds_live_inside_the_quotes(void **state)
{
    char out[SL_ETAG_MAX];
    const char *tag = "\"400-6b047d90-7b\"";
    assert_int_equal(sl_inject_etag(out, tag, strlen(tag)), strlen(tag) + 5);
    assert_string_equal(out, "\"400-6b047d90-7b-live\"");
}

static void test_injected_etag_refuses_what_is_not_a_quoted_tag_or_does_not_fit(void **state)
{
    char out[SL_ETAG_MAX];
    assert_int_equal(sl_inject_etag(out, "abc", 3), 0);
    assert_int_equal(sl_inject_etag(out, "\"", 1), 0);
    char longest[SL_ETAG_MAX];
    memset(longest, 'a', sizeof(longest));
    longest[0] = '"';
    size_t fits = SL_ETAG_MAX - 6; /* plus "-live" and the NUL */
    longest[fits - 1] = '"';
    assert_int_equal(sl_inject_etag(out, longest, fits), fits + 5);
    longest[fits] = '"';
    assert_int_equal(sl_inject_etag(out, longest, fits + 1), 0);
}

static void test_script_is_one_small_inline_element_using_the_stream_path(void **state)
{
    struct sl_str s = sl_inject_script();
    assert_true(s.n > 100 && s.n < 1200);
    assert_int_equal(strlen(s.p), s.n);
    assert_memory_equal(s.p, "<script>", 8);
    assert_string_equal(s.p + s.n - 9, "</script>");
    /* Nothing inside could end the element or open a comment early. */
    assert_ptr_equal(strstr(s.p, "</"), s.p + s.n - 9);
    assert_null(strstr(s.p, "<!--"));
    assert_non_null(strstr(s.p, "'/" SL_LIVE_PATH "'"));
    assert_non_null(strstr(s.p, "EventSource"));
    /* Plain ASCII: it goes into pages of any ASCII-compatible charset. */
    for (size_t i = 0; i < s.n; i++)
        assert_true((unsigned char)s.p[i] >= 0x20 && (unsigned char)s.p[i] < 0x7f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_script_goes_before_the_body_end_tag),
        cmocka_unit_test(test_end_tag_is_found_in_any_case_and_with_space_or_slash_after_its_name),
        cmocka_unit_test(test_the_last_end_tag_wins_over_one_quoted_earlier),
        cmocka_unit_test(test_without_an_end_tag_the_script_goes_at_the_end),
        cmocka_unit_test(test_bytes_after_the_end_tag_may_be_anything),
        cmocka_unit_test(test_only_the_reserved_path_is_the_event_stream),
        cmocka_unit_test(test_injected_etag_adds_live_inside_the_quotes),
        cmocka_unit_test(test_injected_etag_refuses_what_is_not_a_quoted_tag_or_does_not_fit),
        cmocka_unit_test(test_script_is_one_small_inline_element_using_the_stream_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
