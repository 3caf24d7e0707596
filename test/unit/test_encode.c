/* Unit tests for encode.c: exact escaped output for hostile and non-ASCII names, and the
 * snprintf-style length and truncation contract of every function. */

/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <stdlib.h>
#include <string.h>

#include "sluice/encode.h"

typedef size_t (*encode_fn)(char *out, size_t cap, const char *s, size_t len);

/* Checks `fn` on in[0..len) three ways: measuring with (NULL, 0), into a large buffer,
 * and into a heap buffer of exactly the needed size, where ASan catches any overrun. */
static void expect_encoded_n(encode_fn fn, const char *in, size_t len, const char *expected)
{
    size_t want = strlen(expected);
    assert_int_equal(fn(NULL, 0, in, len), want);

    char big[1024];
    memset(big, 'X', sizeof(big));
    assert_int_equal(fn(big, sizeof(big), in, len), want);
    assert_string_equal(big, expected);

    char *exact = malloc(want + 1);
    assert_non_null(exact);
    assert_int_equal(fn(exact, want + 1, in, len), want);
    assert_string_equal(exact, expected);
    free(exact);
}

static void expect_encoded(encode_fn fn, const char *in, const char *expected)
{
    expect_encoded_n(fn, in, strlen(in), expected);
}

/* Encodes into a heap buffer of exactly `cap` bytes and checks what was kept. */
static void expect_truncated(encode_fn fn, const char *in, size_t cap, const char *kept,
                             size_t full)
{
    char *out = malloc(cap);
    assert_non_null(out);
    memset(out, 'X', cap);
    assert_int_equal(fn(out, cap, in, strlen(in)), full);
    assert_string_equal(out, kept);
    free(out);
}

/* ---- HTML ---- */

static void test_html_escapes_script_tag_file_name(void **state)
{
    expect_encoded(sl_html_escape, "<script>alert(1)</script>.txt",
                   "&lt;script&gt;alert(1)&lt;/script&gt;.txt");
}

static void test_html_escapes_all_five_special_characters(void **state)
{
    expect_encoded(sl_html_escape, "&<>\"'", "&amp;&lt;&gt;&quot;&#39;");
}

static void test_html_replaces_invalid_utf8_and_keeps_valid_utf8(void **state)
{
    /* Latin-1 "caf\xe9" is not UTF-8: the page must stay valid UTF-8. */
    expect_encoded(sl_html_escape, "caf\xe9 caf\xc3\xa9 \xc0\xae<",
                   "caf\xef\xbf\xbd caf\xc3\xa9 \xef\xbf\xbd\xef\xbf\xbd&lt;");
}

static void test_html_escapes_attribute_breakout(void **state)
{
    expect_encoded(sl_html_escape, "x\" onmouseover='alert(1)",
                   "x&quot; onmouseover=&#39;alert(1)");
}

static void test_html_keeps_plain_text_and_utf8(void **state)
{
    expect_encoded(sl_html_escape, "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac 100% #1?",
                   "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac 100% #1?");
}

static void test_html_empty_input_gives_empty_output(void **state)
{
    expect_encoded(sl_html_escape, "", "");
}

static void test_html_truncation_never_splits_an_entity(void **state)
{
    /* "a&amp;b" needs 7; with cap 4 "a&am" would fit but is a broken entity. */
    expect_truncated(sl_html_escape, "a&b", 4, "a", 7);
}

static void test_html_truncation_one_short_drops_last_byte(void **state)
{
    expect_truncated(sl_html_escape, "a&b", 7, "a&amp;", 7);
}

static void test_html_cap_one_writes_only_nul(void **state)
{
    expect_truncated(sl_html_escape, "<", 1, "", 4);
}

/* ---- URL path segment ---- */

static void test_segment_encodes_space(void **state)
{
    expect_encoded(sl_pct_encode_segment, "hello world.txt", "hello%20world.txt");
}

static void test_segment_encodes_slash_query_fragment_and_percent(void **state)
{
    expect_encoded(sl_pct_encode_segment, "a/b?c#d%e", "a%2Fb%3Fc%23d%25e");
}

static void test_segment_encodes_utf8_bytes_upper_case(void **state)
{
    expect_encoded(sl_pct_encode_segment, "caf\xc3\xa9", "caf%C3%A9");
    expect_encoded(sl_pct_encode_segment, "\xe6\x97\xa5\xe6\x9c\xac", "%E6%97%A5%E6%9C%AC");
}

static void test_segment_keeps_unreserved_and_safe_sub_delims(void **state)
{
    const char *keep = "AZaz09-._~!$()*+,;=:@";
    expect_encoded(sl_pct_encode_segment, keep, keep);
}

static void test_segment_encodes_html_sensitive_characters(void **state)
{
    expect_encoded(sl_pct_encode_segment, "&'\"<>`", "%26%27%22%3C%3E%60");
}

static void test_segment_encodes_script_tag_file_name(void **state)
{
    expect_encoded(sl_pct_encode_segment, "<script>alert(1)</script>.txt",
                   "%3Cscript%3Ealert(1)%3C%2Fscript%3E.txt");
}

static void test_segment_encodes_nul_controls_and_high_bytes(void **state)
{
    expect_encoded_n(sl_pct_encode_segment, "\x00\r\n\x7f\xff", 5, "%00%0D%0A%7F%FF");
}

static void test_segment_truncation_never_splits_an_escape(void **state)
{
    expect_truncated(sl_pct_encode_segment, "a b", 4, "a", 5);
}

/* ---- JSON ---- */

static void test_json_escapes_quote_and_backslash(void **state)
{
    expect_encoded(sl_json_escape, "a\"b\\c", "a\\\"b\\\\c");
}

static void test_json_escapes_controls_with_short_and_long_forms(void **state)
{
    expect_encoded(sl_json_escape, "\n\t\r\b\f\x01\x1f", "\\n\\t\\r\\b\\f\\u0001\\u001f");
}

static void test_json_escapes_nul_byte(void **state)
{
    expect_encoded_n(sl_json_escape, "a\0b", 3, "a\\u0000b");
}

static void test_json_keeps_valid_utf8(void **state)
{
    const char *s = "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80 /<>";
    expect_encoded(sl_json_escape, s, s);
}

static void test_json_escapes_del_and_c1_controls(void **state)
{
    /* DEL, U+0080, U+009B (CSI), U+009F; U+00A0 is no control and stays. */
    expect_encoded(sl_json_escape, "\x7f\xc2\x80\xc2\x9b[2J\xc2\x9f\xc2\xa0",
                   "\\u007f\\u0080\\u009b[2J\\u009f\xc2\xa0");
    /* A lone C2 at the end is ill-formed, not a control. */
    expect_encoded(sl_json_escape, "a\xc2", "a\xef\xbf\xbd");
}

static void test_json_keeps_boundary_code_points(void **state)
{
    /* U+00A0, U+07FF, U+0800, U+D7FF, U+E000, U+FFFF, U+10000, U+10FFFF */
    const char *s = "\xc2\xa0\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf"
                    "\xf0\x90\x80\x80\xf4\x8f\xbf\xbf";
    expect_encoded(sl_json_escape, s, s);
}

static void test_json_replaces_stray_continuation_byte(void **state)
{
    expect_encoded(sl_json_escape, "a\x80z", "a\xef\xbf\xbdz");
}

static void test_json_replaces_each_byte_of_two_byte_overlong(void **state)
{
    /* C0 can never start a character, and AE is then a stray continuation. */
    expect_encoded(sl_json_escape, "\xc0\xae", "\xef\xbf\xbd\xef\xbf\xbd");
}

static void test_json_replaces_each_byte_of_three_byte_overlong(void **state)
{
    expect_encoded(sl_json_escape, "\xe0\x80\xaf", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
}

static void test_json_replaces_each_byte_of_encoded_surrogate(void **state)
{
    expect_encoded(sl_json_escape, "\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
}

static void test_json_replaces_code_point_above_max(void **state)
{
    expect_encoded(sl_json_escape, "\xf4\x90\x80\x80",
                   "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
}

static void test_json_replaces_bytes_that_never_start_a_character(void **state)
{
    expect_encoded(sl_json_escape, "\xc1\xf5\xff", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
}

static void test_json_replaces_truncated_sequence_at_end_once(void **state)
{
    expect_encoded(sl_json_escape, "a\xe6\x97", "a\xef\xbf\xbd");
}

static void test_json_replaces_truncated_sequence_and_keeps_next_character(void **state)
{
    /* The '"' that cut the sequence short is still escaped, not swallowed. */
    expect_encoded(sl_json_escape, "\xf0\x9f\x98\"x", "\xef\xbf\xbd\\\"x");
}

static void test_json_truncation_never_splits_an_escape(void **state)
{
    expect_truncated(sl_json_escape, "a\x01", 6, "a", 7);
}

static void test_json_truncation_never_splits_a_character(void **state)
{
    expect_truncated(sl_json_escape, "a\xe6\x97\xa5", 4, "a", 4);
}

/* ---- Content-Disposition ---- */

static void test_disposition_plain_name(void **state)
{
    expect_encoded(sl_content_disposition, "report.pdf",
                   "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf");
}

static void test_disposition_script_tag_name(void **state)
{
    expect_encoded(sl_content_disposition, "<script>alert(1)</script>.txt",
                   "attachment; filename=\"<script>alert(1)</script>.txt\"; "
                   "filename*=UTF-8''%3Cscript%3Ealert%281%29%3C%2Fscript%3E.txt");
}

static void test_disposition_spaces_and_quotes(void **state)
{
    expect_encoded(sl_content_disposition, "my \"file\" name.txt",
                   "attachment; filename=\"my _file_ name.txt\"; "
                   "filename*=UTF-8''my%20%22file%22%20name.txt");
}

static void test_disposition_percent_hash_question_mark(void **state)
{
    expect_encoded(sl_content_disposition, "100%#?.txt",
                   "attachment; filename=\"100_#?.txt\"; filename*=UTF-8''100%25#%3F.txt");
}

static void test_disposition_latin_accent(void **state)
{
    expect_encoded(sl_content_disposition, "caf\xc3\xa9.txt",
                   "attachment; filename=\"caf_.txt\"; filename*=UTF-8''caf%C3%A9.txt");
}

static void test_disposition_japanese(void **state)
{
    expect_encoded(sl_content_disposition, "\xe6\x97\xa5\xe6\x9c\xac.txt",
                   "attachment; filename=\"__.txt\"; "
                   "filename*=UTF-8''%E6%97%A5%E6%9C%AC.txt");
}

/* One '_' per character, not per byte, whatever the character's length in UTF-8. */
static void test_disposition_fallback_has_one_underscore_per_utf8_character(void **state)
{
    expect_encoded(sl_content_disposition, "R\xc3\xa9sum\xc3\xa9.pdf",
                   "attachment; filename=\"R_sum_.pdf\"; "
                   "filename*=UTF-8''R%C3%A9sum%C3%A9.pdf");
    /* Two, three and four bytes: U+00E9, U+20AC EURO SIGN, U+1F600. */
    expect_encoded(sl_content_disposition,
                   "a\xc3\xa9"
                   "b\xe2\x82\xac"
                   "c\xf0\x9f\x98\x80"
                   "d",
                   "attachment; filename=\"a_b_c_d\"; "
                   "filename*=UTF-8''a%C3%A9b%E2%82%ACc%F0%9F%98%80d");
}

/* Bytes that are not UTF-8 (Latin-1, a cut-off sequence, a stray continuation byte, an
 * overlong '/', a surrogate) are one '_' each; filename* still carries every byte. */
static void test_disposition_fallback_has_one_underscore_per_invalid_byte(void **state)
{
    expect_encoded(sl_content_disposition, "caf\xe9.txt",
                   "attachment; filename=\"caf_.txt\"; filename*=UTF-8''caf%E9.txt");
    expect_encoded(sl_content_disposition, "a\xe2\x82z",
                   "attachment; filename=\"a__z\"; filename*=UTF-8''a%E2%82z");
    expect_encoded(sl_content_disposition, "a\x80\xbfz",
                   "attachment; filename=\"a__z\"; filename*=UTF-8''a%80%BFz");
    expect_encoded(sl_content_disposition, "a\xc0\xafz",
                   "attachment; filename=\"a__z\"; filename*=UTF-8''a%C0%AFz");
    expect_encoded(sl_content_disposition, "a\xed\xa0\x80z",
                   "attachment; filename=\"a___z\"; filename*=UTF-8''a%ED%A0%80z");
    /* A sequence cut off by the end of the name. */
    expect_encoded(sl_content_disposition, "a\xf0\x9f\x98",
                   "attachment; filename=\"a___\"; filename*=UTF-8''a%F0%9F%98");
}

static void test_disposition_backslash_and_crlf_cannot_inject(void **state)
{
    expect_encoded(sl_content_disposition, "a\\b\r\nSet-Cookie: x=1",
                   "attachment; filename=\"a_b__Set-Cookie: x=1\"; "
                   "filename*=UTF-8''a%5Cb%0D%0ASet-Cookie%3A%20x%3D1");
}

static void test_disposition_keeps_every_attr_char(void **state)
{
    expect_encoded(sl_content_disposition, "Az09!#$&+-.^_`|~",
                   "attachment; filename=\"Az09!#$&+-.^_`|~\"; "
                   "filename*=UTF-8''Az09!#$&+-.^_`|~");
}

static void test_disposition_encodes_non_attr_punctuation(void **state)
{
    expect_encoded(sl_content_disposition, "'*;,=()",
                   "attachment; filename=\"'*;,=()\"; filename*=UTF-8''%27%2A%3B%2C%3D%28%29");
}

static void test_disposition_control_and_del_become_underscore(void **state)
{
    expect_encoded_n(sl_content_disposition, "a\x00\x1f\x7f", 4,
                     "attachment; filename=\"a___\"; filename*=UTF-8''a%00%1F%7F");
}

static void test_disposition_empty_name(void **state)
{
    expect_encoded(sl_content_disposition, "", "attachment; filename=\"\"; filename*=UTF-8''");
}

static void test_disposition_truncation_keeps_a_prefix(void **state)
{
    /* The full value is 50 bytes; "%20" would end at byte 49, past cap - 1 = 47. */
    expect_truncated(sl_content_disposition, "a b", 48,
                     "attachment; filename=\"a b\"; filename*=UTF-8''a", 50);
}

/* ---- the sl_buf forms ---- */

/* The _buf forms append to whatever the buffer holds, growing it as needed, and write the
 * same bytes as the array forms. */
static void test_buf_forms_append_the_same_bytes_as_the_array_forms(void **state)
{
    static const char name[] = "<caf\xc3\xa9 & \"x\"\x01\xff.txt>";
    struct sl_buf b;
    sl_buf_init_growing(&b, 1);
    sl_buf_puts(&b, "start|");
    sl_html_escape_buf(&b, name, strlen(name));
    sl_pct_encode_segment_buf(&b, name, strlen(name));
    sl_json_escape_buf(&b, name, strlen(name));
    sl_content_disposition_buf(&b, name, strlen(name));
    size_t len = 0;
    char *got = sl_buf_take(&b, &len);
    assert_non_null(got);

    char want[1024] = "start|";
    encode_fn fns[] = {sl_html_escape, sl_pct_encode_segment, sl_json_escape,
                       sl_content_disposition};
    for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
        size_t used = strlen(want);
        fns[i](want + used, sizeof(want) - used, name, strlen(name));
    }
    assert_string_equal(got, want);
    assert_int_equal(len, strlen(want));
    free(got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_html_escapes_script_tag_file_name),
        cmocka_unit_test(test_html_escapes_all_five_special_characters),
        cmocka_unit_test(test_html_escapes_attribute_breakout),
        cmocka_unit_test(test_html_replaces_invalid_utf8_and_keeps_valid_utf8),
        cmocka_unit_test(test_html_keeps_plain_text_and_utf8),
        cmocka_unit_test(test_html_empty_input_gives_empty_output),
        cmocka_unit_test(test_html_truncation_never_splits_an_entity),
        cmocka_unit_test(test_html_truncation_one_short_drops_last_byte),
        cmocka_unit_test(test_html_cap_one_writes_only_nul),
        cmocka_unit_test(test_segment_encodes_space),
        cmocka_unit_test(test_segment_encodes_slash_query_fragment_and_percent),
        cmocka_unit_test(test_segment_encodes_utf8_bytes_upper_case),
        cmocka_unit_test(test_segment_keeps_unreserved_and_safe_sub_delims),
        cmocka_unit_test(test_segment_encodes_html_sensitive_characters),
        cmocka_unit_test(test_segment_encodes_script_tag_file_name),
        cmocka_unit_test(test_segment_encodes_nul_controls_and_high_bytes),
        cmocka_unit_test(test_segment_truncation_never_splits_an_escape),
        cmocka_unit_test(test_json_escapes_quote_and_backslash),
        cmocka_unit_test(test_json_escapes_controls_with_short_and_long_forms),
        cmocka_unit_test(test_json_escapes_nul_byte),
        cmocka_unit_test(test_json_keeps_valid_utf8),
        cmocka_unit_test(test_json_escapes_del_and_c1_controls),
        cmocka_unit_test(test_json_keeps_boundary_code_points),
        cmocka_unit_test(test_json_replaces_stray_continuation_byte),
        cmocka_unit_test(test_json_replaces_each_byte_of_two_byte_overlong),
        cmocka_unit_test(test_json_replaces_each_byte_of_three_byte_overlong),
        cmocka_unit_test(test_json_replaces_each_byte_of_encoded_surrogate),
        cmocka_unit_test(test_json_replaces_code_point_above_max),
        cmocka_unit_test(test_json_replaces_bytes_that_never_start_a_character),
        cmocka_unit_test(test_json_replaces_truncated_sequence_at_end_once),
        cmocka_unit_test(test_json_replaces_truncated_sequence_and_keeps_next_character),
        cmocka_unit_test(test_json_truncation_never_splits_an_escape),
        cmocka_unit_test(test_json_truncation_never_splits_a_character),
        cmocka_unit_test(test_disposition_plain_name),
        cmocka_unit_test(test_disposition_script_tag_name),
        cmocka_unit_test(test_disposition_spaces_and_quotes),
        cmocka_unit_test(test_disposition_percent_hash_question_mark),
        cmocka_unit_test(test_disposition_latin_accent),
        cmocka_unit_test(test_disposition_japanese),
        cmocka_unit_test(test_disposition_fallback_has_one_underscore_per_utf8_character),
        cmocka_unit_test(test_disposition_fallback_has_one_underscore_per_invalid_byte),
        cmocka_unit_test(test_disposition_backslash_and_crlf_cannot_inject),
        cmocka_unit_test(test_disposition_keeps_every_attr_char),
        cmocka_unit_test(test_disposition_encodes_non_attr_punctuation),
        cmocka_unit_test(test_disposition_control_and_del_become_underscore),
        cmocka_unit_test(test_disposition_empty_name),
        cmocka_unit_test(test_disposition_truncation_keeps_a_prefix),
        cmocka_unit_test(test_buf_forms_append_the_same_bytes_as_the_array_forms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
