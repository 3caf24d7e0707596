/* Unit tests for the byte classes, hex digits and comma lists in include/sluice/str.h, which every
 * parser and escaper shares. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "sluice/str.h"

static void test_hex_value_reads_both_cases_and_rejects_the_rest(void **state)
{
    assert_int_equal(sl_hex_value('0'), 0);
    assert_int_equal(sl_hex_value('9'), 9);
    assert_int_equal(sl_hex_value('a'), 10);
    assert_int_equal(sl_hex_value('F'), 15);
    assert_int_equal(sl_hex_value('g'), -1);
    assert_int_equal(sl_hex_value('G'), -1);
    assert_int_equal(sl_hex_value('/'), -1);
    assert_int_equal(sl_hex_value(':'), -1);
    assert_int_equal(sl_hex_value(0xc6), -1);
}

/* Every byte written as hex in either case reads back as itself, as %02x/%02X print it. */
static void test_hex_byte_round_trips_every_byte_in_both_cases(void **state)
{
    for (unsigned c = 0; c < 256; c++) {
        char want[3];
        char got[2];
        for (int upper = 0; upper < 2; upper++) {
            snprintf(want, sizeof(want), upper ? "%02X" : "%02x", c);
            sl_hex_byte(got, (unsigned char)c, upper);
            assert_memory_equal(got, want, 2);
            assert_int_equal(
                sl_hex_value((unsigned char)got[0]) * 16 + sl_hex_value((unsigned char)got[1]), c);
        }
    }
}

static void test_hex_digit_uses_only_the_low_four_bits(void **state)
{
    assert_int_equal(sl_hex_digit(0x1f, false), 'f');
    assert_int_equal(sl_hex_digit(0x1f, true), 'F');
    assert_int_equal(sl_hex_digit(0x30, true), '0');
}

/* The classes agree with the C locale's, byte for byte, on every byte. */
static void test_classes_match_the_c_locale_on_every_byte(void **state)
{
    for (unsigned c = 0; c < 256; c++) {
        bool ascii = c < 0x80;
        assert_int_equal(sl_is_digit((unsigned char)c), ascii && isdigit((int)c));
        assert_int_equal(sl_is_alnum((unsigned char)c), ascii && isalnum((int)c));
        assert_int_equal(sl_is_print_ascii((unsigned char)c), ascii && isprint((int)c));
    }
}

/* tchar (RFC 9110 §5.6.2) is exactly ALPHA, DIGIT and these fifteen marks. */
static void test_tchar_is_alnum_and_the_fifteen_token_marks(void **state)
{
    const char *marks = "!#$%&'*+-.^_`|~";
    for (unsigned c = 0; c < 256; c++) {
        bool mark = c != 0 && strchr(marks, (int)c) != NULL;
        assert_int_equal(sl_is_tchar((unsigned char)c), (c < 0x80 && isalnum((int)c)) || mark);
    }
    assert_false(sl_is_tchar(' '));
    assert_false(sl_is_tchar('"'));
    assert_false(sl_is_tchar(','));
    assert_false(sl_is_tchar(';'));
    assert_false(sl_is_tchar('\0'));
}

/* The table's other classes, each against its grammar written out another way. */
static void test_byte_classes_follow_their_grammars_on_every_byte(void **state)
{
    for (unsigned c = 0; c < 256; c++) {
        bool alnum = c < 0x80 && isalnum((int)c);
        bool sub = c != 0 && strchr("-._~!$&'()*+,;=", (int)c) != NULL;
        assert_int_equal(sl_byte_is((unsigned char)c, SL_BYTE_REG_NAME), alnum || sub);
        bool special = c <= ' ' || c == 0x7f || (c != 0 && strchr("#%./?", (int)c) != NULL);
        assert_int_equal(sl_byte_is((unsigned char)c, SL_BYTE_PLAIN_PATH), !special);
        bool etagc = c == 0x21 || (c >= 0x23 && c <= 0x7e) || c >= 0x80;
        assert_int_equal(sl_byte_is((unsigned char)c, SL_BYTE_ETAGC), etagc);
    }
}

static void test_ows_is_space_and_tab_only(void **state)
{
    for (unsigned c = 0; c < 256; c++)
        assert_int_equal(sl_is_ows((unsigned char)c), c == ' ' || c == '\t');
}

/* Paths that differ in a byte or two, as a site's files do, spread over the buckets the
 * file cache takes from the hash's low bits, whichever byte differs. */
static void test_hash_spreads_similar_paths_over_low_bits(void **state)
{
    static const char *const formats[] = {"files/f%04d.html", "%04d", "a/b/c/d/e/f/g/h/i/%d/x.css",
                                          "%d/index.html"};
    for (size_t f = 0; f < sizeof(formats) / sizeof(formats[0]); f++) {
        static unsigned char count[2048];
        memset(count, 0, sizeof(count));
        unsigned most = 0;
        for (int i = 0; i < 1000; i++) {
            char path[64];
            int n = snprintf(path, sizeof(path), formats[f], i);
            uint64_t h = sl_str_hash(sl_str_make(path, (size_t)n));
            unsigned c = ++count[h % 2048];
            most = c > most ? c : most;
        }
        /* 1000 keys in 2048 buckets: a fair spread has no chain longer than a handful. */
        assert_true(most <= 6);
    }
    assert_true(sl_str_hash(SL_STR("")) != sl_str_hash(SL_STR("a")));
    assert_true(sl_str_hash(SL_STR("ab")) != sl_str_hash(SL_STR("ba")));
    assert_true(sl_str_hash(SL_STR("abcdefgh")) != sl_str_hash(SL_STR("abcdefgh\0")));
}

/* Collects a list's elements as "[a][b]..." so one comparison shows order, trimming and
 * empty elements. */
static void render_list(const char *value, char *out, size_t cap)
{
    struct sl_str rest = sl_str_cstr(value), item;
    size_t at = 0;
    out[0] = '\0';
    while (sl_str_list_next(&rest, &item))
        at += (size_t)snprintf(out + at, cap - at, "[%.*s]", (int)item.n, item.p);
}

static void test_list_elements_are_split_at_commas_and_trimmed(void **state)
{
    (void)state;
    char out[128];
    render_list("gzip, br;q=0.5 ,\tzstd", out, sizeof out);
    assert_string_equal(out, "[gzip][br;q=0.5][zstd]");
    render_list("a,,b, ", out, sizeof out);
    assert_string_equal(out, "[a][][b][]");
    render_list("", out, sizeof out);
    assert_string_equal(out, "");
    render_list(",", out, sizeof out);
    assert_string_equal(out, "[]");
    render_list("  only  ", out, sizeof out);
    assert_string_equal(out, "[only]");
}

static void test_list_has_compares_whole_names_regardless_of_case(void **state)
{
    (void)state;
    struct sl_str set = SL_STR("Range, If-Range, If-None-Match");
    assert_true(sl_str_list_has(set, SL_STR("range")));
    assert_true(sl_str_list_has(set, SL_STR("IF-NONE-MATCH")));
    assert_true(sl_str_list_has(set, SL_STR("If-Range")));
    assert_false(sl_str_list_has(set, SL_STR("If")));
    assert_false(sl_str_list_has(set, SL_STR("Range, If-Range")));
    assert_false(sl_str_list_has(set, SL_STR("")));
    assert_false(sl_str_list_has(SL_STR(""), SL_STR("Range")));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hex_value_reads_both_cases_and_rejects_the_rest),
        cmocka_unit_test(test_hex_byte_round_trips_every_byte_in_both_cases),
        cmocka_unit_test(test_hex_digit_uses_only_the_low_four_bits),
        cmocka_unit_test(test_classes_match_the_c_locale_on_every_byte),
        cmocka_unit_test(test_tchar_is_alnum_and_the_fifteen_token_marks),
        cmocka_unit_test(test_byte_classes_follow_their_grammars_on_every_byte),
        cmocka_unit_test(test_ows_is_space_and_tab_only),
        cmocka_unit_test(test_hash_spreads_similar_paths_over_low_bits),
        cmocka_unit_test(test_list_elements_are_split_at_commas_and_trimmed),
        cmocka_unit_test(test_list_has_compares_whole_names_regardless_of_case),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
