/* Unit tests for sl_range_parse (RFC 9110 §14.1.2 Range field parsing). */
/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/range.h"

#define GIB ((uint64_t)1 << 30)

/* Every call goes through a heap copy of exactly strlen(s) bytes with no NUL, so
 * AddressSanitizer flags any read past `len`. */
static enum sl_range_result parse(const char *s, uint64_t size, struct sl_range *out, size_t *count)
{
    size_t n = strlen(s);
    char *buf = malloc(n > 0 ? n : 1);
    assert_non_null(buf);
    memcpy(buf, s, n);
    *count = 99; /* poison: the parser must always set it */
    enum sl_range_result res = sl_range_parse(buf, n, size, out, count);
    free(buf);
    return res;
}

static void expect_ignore(const char *s, uint64_t size)
{
    struct sl_range out[SL_RANGE_MAX];
    size_t count;
    assert_int_equal(parse(s, size, out, &count), SL_RANGE_IGNORE);
    assert_int_equal(count, 0);
}

static void expect_unsatisfiable(const char *s, uint64_t size)
{
    struct sl_range out[SL_RANGE_MAX];
    size_t count;
    assert_int_equal(parse(s, size, out, &count), SL_RANGE_UNSATISFIABLE);
    assert_int_equal(count, 0);
}

static void expect_one(const char *s, uint64_t size, uint64_t first, uint64_t last)
{
    struct sl_range out[SL_RANGE_MAX];
    size_t count;
    assert_int_equal(parse(s, size, out, &count), SL_RANGE_SATISFIABLE);
    assert_int_equal(count, 1);
    assert_int_equal(out[0].first, first);
    assert_int_equal(out[0].last, last);
}

static void expect_two(const char *s, uint64_t size, uint64_t f0, uint64_t l0, uint64_t f1,
                       uint64_t l1)
{
    struct sl_range out[SL_RANGE_MAX];
    size_t count;
    assert_int_equal(parse(s, size, out, &count), SL_RANGE_SATISFIABLE);
    assert_int_equal(count, 2);
    assert_int_equal(out[0].first, f0);
    assert_int_equal(out[0].last, l0);
    assert_int_equal(out[1].first, f1);
    assert_int_equal(out[1].last, l1);
}

/* "bytes=" followed by n copies of `spec` joined by commas; caller frees. */
static char *repeat_specs(const char *spec, size_t n)
{
    size_t cap = 7 + n * (strlen(spec) + 1);
    char *s = malloc(cap);
    assert_non_null(s);
    size_t len = (size_t)snprintf(s, cap, "bytes=");
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(s + len, cap - len, "%s%s", i ? "," : "", spec);
    return s;
}

/* --- single satisfiable ranges --- */

static void test_range_int_range_returns_exact_bytes(void **state)
{
    expect_one("bytes=0-499", 1000, 0, 499);
}

static void test_range_open_ended_runs_to_last_byte(void **state)
{
    expect_one("bytes=500-", 1000, 500, 999);
}

static void test_range_suffix_returns_last_n_bytes(void **state)
{
    expect_one("bytes=-500", 1000, 500, 999);
}

static void test_range_suffix_longer_than_file_returns_whole_file(void **state)
{
    expect_one("bytes=-2000", 1000, 0, 999);
}

static void test_range_suffix_equal_to_size_returns_whole_file(void **state)
{
    expect_one("bytes=-1000", 1000, 0, 999);
}

static void test_range_last_beyond_end_is_clipped(void **state)
{
    expect_one("bytes=10-5000", 1000, 10, 999);
}

static void test_range_single_first_byte(void **state)
{
    expect_one("bytes=0-0", 1000, 0, 0);
}

static void test_range_single_last_byte(void **state)
{
    expect_one("bytes=999-999", 1000, 999, 999);
}

static void test_range_leading_zeros_are_accepted(void **state)
{
    expect_one("bytes=0005-0000000000000000000000000000009", 1000, 5, 9);
}

/* --- unsatisfiable --- */

static void test_range_first_equal_to_size_is_unsatisfiable(void **state)
{
    expect_unsatisfiable("bytes=1000-", 1000);
}

static void test_range_first_beyond_size_is_unsatisfiable(void **state)
{
    expect_unsatisfiable("bytes=2000-3000", 1000);
}

static void test_range_suffix_zero_is_unsatisfiable(void **state)
{
    expect_unsatisfiable("bytes=-0", 1000);
}

static void test_range_size_zero_makes_every_range_unsatisfiable(void **state)
{
    expect_unsatisfiable("bytes=0-0", 0);
    expect_unsatisfiable("bytes=0-", 0);
    expect_unsatisfiable("bytes=-5", 0);
    expect_unsatisfiable("bytes=-0", 0);
    expect_unsatisfiable("bytes=0-10,-1", 0);
}

static void test_range_all_specs_unsatisfiable_is_unsatisfiable(void **state)
{
    expect_unsatisfiable("bytes=1000-1001,-0,5000-", 1000);
}

static void test_range_unsatisfiable_specs_are_dropped_among_satisfiable(void **state)
{
    expect_one("bytes=2000-3000,0-9,-0", 1000, 0, 9);
}

/* --- several ranges: sorting and coalescing --- */

static void test_range_disjoint_ranges_keep_the_order_they_were_asked_in(void **state)
{
    expect_two("bytes=500-599,0-99", 1000, 500, 599, 0, 99);
}

static void test_range_merged_range_takes_the_place_of_its_earliest_member(void **state)
{
    /* 900-999 first; 0-9 and 5-20 merge into 0-20, which stood second. */
    expect_two("bytes=900-999,5-20,0-9", 1000, 900, 999, 0, 20);
}

static void test_range_overlapping_ranges_coalesce(void **state)
{
    expect_one("bytes=0-100,50-150", 1000, 0, 150);
}

static void test_range_adjacent_ranges_coalesce(void **state)
{
    expect_one("bytes=0-4,5-9", 1000, 0, 9);
}

static void test_range_contained_range_coalesces_into_outer(void **state)
{
    expect_one("bytes=10-20,0-99", 1000, 0, 99);
}

static void test_range_one_byte_gap_keeps_ranges_apart(void **state)
{
    expect_two("bytes=0-4,6-9", 1000, 0, 4, 6, 9);
}

static void test_range_first_byte_and_suffix_one_stay_apart_on_large_file(void **state)
{
    expect_two("bytes=0-0,-1", 10, 0, 0, 9, 9);
}

static void test_range_first_byte_and_suffix_one_coalesce_on_two_byte_file(void **state)
{
    expect_one("bytes=0-0,-1", 2, 0, 1);
}

static void test_range_suffix_overlapping_int_range_coalesces(void **state)
{
    expect_one("bytes=-5,0-8", 12, 0, 11);
}

static void test_range_chain_of_ranges_coalesces_transitively(void **state)
{
    expect_one("bytes=20-29,0-9,10-19", 1000, 0, 29);
}

static void test_range_max_disjoint_ranges_are_accepted(void **state)
{
    char spec[32];
    char value[SL_RANGE_MAX * sizeof(spec) + 8] = "bytes=";
    for (int i = 0; i < SL_RANGE_MAX; i++) {
        snprintf(spec, sizeof(spec), "%s%d-%d", i ? "," : "", i * 10, i * 10 + 1);
        strcat(value, spec);
    }
    struct sl_range out[SL_RANGE_MAX];
    size_t count;
    assert_int_equal(parse(value, 1000, out, &count), SL_RANGE_SATISFIABLE);
    assert_int_equal(count, SL_RANGE_MAX);
    for (size_t i = 0; i < SL_RANGE_MAX; i++) {
        assert_int_equal(out[i].first, i * 10);
        assert_int_equal(out[i].last, i * 10 + 1);
    }
}

static void test_range_more_than_max_ranges_after_coalescing_is_ignored(void **state)
{
    char spec[32];
    char value[(SL_RANGE_MAX + 1) * sizeof(spec) + 8] = "bytes=";
    for (int i = 0; i < SL_RANGE_MAX + 1; i++) {
        snprintf(spec, sizeof(spec), "%s%d-%d", i ? "," : "", i * 10, i * 10 + 1);
        strcat(value, spec);
    }
    expect_ignore(value, 1000);
}

static void test_range_many_ranges_that_coalesce_below_max_are_accepted(void **state)
{
    /* 17 touching ranges coalesce into one, so the limit applies after coalescing. */
    char spec[32];
    char value[(SL_RANGE_MAX + 1) * sizeof(spec) + 8] = "bytes=";
    for (int i = 0; i < SL_RANGE_MAX + 1; i++) {
        snprintf(spec, sizeof(spec), "%s%d-%d", i ? "," : "", i * 2, i * 2 + 1);
        strcat(value, spec);
    }
    expect_one(value, 1000, 0, (SL_RANGE_MAX + 1) * 2 - 1);
}

static void test_range_one_hundred_specs_are_accepted(void **state)
{
    char *value = repeat_specs("0-1", 100);
    expect_one(value, 1000, 0, 1);
    free(value);
}

static void test_range_more_than_one_hundred_specs_is_ignored(void **state)
{
    char *value = repeat_specs("0-1", 101);
    expect_ignore(value, 1000);
    free(value);
}

static void test_range_empty_elements_do_not_count_toward_spec_limit(void **state)
{
    char *specs = repeat_specs("0-1", 100);
    size_t n = strlen(specs);
    char *value = malloc(n + 4);
    assert_non_null(value);
    memcpy(value, specs, n);
    memcpy(value + n, ",,,", 4);
    expect_one(value, 1000, 0, 1);
    free(value);
    free(specs);
}

/* --- overflow and large offsets --- */

static void test_range_first_overflowing_uint64_is_unsatisfiable(void **state)
{
    expect_unsatisfiable("bytes=18446744073709551616-", 1000);
}

static void test_range_first_overflowing_uint64_is_dropped_among_satisfiable(void **state)
{
    expect_one("bytes=18446744073709551616-,0-0", 1000, 0, 0);
}

static void test_range_last_overflowing_uint64_is_clipped(void **state)
{
    expect_one("bytes=0-99999999999999999999999", 1000, 0, 999);
}

static void test_range_both_overflowing_with_last_below_first_is_ignored(void **state)
{
    expect_ignore("bytes=99999999999999999999999-18446744073709551616", 1000);
}

static void test_range_both_overflowing_in_order_is_unsatisfiable(void **state)
{
    expect_unsatisfiable("bytes=18446744073709551616-99999999999999999999999", 1000);
}

static void test_range_suffix_overflowing_uint64_returns_whole_file(void **state)
{
    expect_one("bytes=-99999999999999999999999", 1000, 0, 999);
}

static void test_range_uint64_max_first_is_unsatisfiable_even_for_max_size(void **state)
{
    expect_unsatisfiable("bytes=18446744073709551615-", UINT64_MAX);
}

static void test_range_near_uint64_max_offsets_do_not_wrap(void **state)
{
    expect_one("bytes=18446744073709551613-18446744073709551615", UINT64_MAX, UINT64_MAX - 2,
               UINT64_MAX - 1);
    expect_one("bytes=0-1,18446744073709551614-", UINT64_MAX - 1, 0, 1);
    /* Both end at size - 1 == UINT64_MAX - 1, so coalescing computes last + 1 == MAX. */
    expect_one("bytes=-1,-2", UINT64_MAX, UINT64_MAX - 2, UINT64_MAX - 1);
    expect_two("bytes=0-1,18446744073709551612-", UINT64_MAX, 0, 1, UINT64_MAX - 3, UINT64_MAX - 1);
}

static void test_range_offsets_beyond_4gib_on_5gib_file(void **state)
{
    expect_one("bytes=4294967296-4294967395", 5 * GIB, 4 * GIB, 4 * GIB + 99);
    expect_one("bytes=5368709119-", 5 * GIB, 5 * GIB - 1, 5 * GIB - 1);
    expect_one("bytes=-1073741824", 5 * GIB, 4 * GIB, 5 * GIB - 1);
    expect_one("bytes=4294967296-9999999999", 5 * GIB, 4 * GIB, 5 * GIB - 1);
    expect_unsatisfiable("bytes=5368709120-", 5 * GIB);
}

/* --- malformed: the whole field is ignored --- */

static void test_range_null_value_is_ignored(void **state)
{
    struct sl_range out[SL_RANGE_MAX];
    size_t count = 99;
    assert_int_equal(sl_range_parse(NULL, 0, 1000, out, &count), SL_RANGE_IGNORE);
    assert_int_equal(count, 0);
}

static void test_range_empty_value_is_ignored(void **state)
{
    expect_ignore("", 1000);
    expect_ignore("   ", 1000);
}

static void test_range_empty_range_set_is_ignored(void **state)
{
    expect_ignore("bytes=", 1000);
}

static void test_range_only_commas_is_ignored(void **state)
{
    expect_ignore("bytes=,", 1000);
    expect_ignore("bytes=, ,\t,", 1000);
}

static void test_range_last_below_first_is_ignored(void **state)
{
    expect_ignore("bytes=1-0", 1000);
}

static void test_range_last_below_first_in_any_spec_ignores_whole_field(void **state)
{
    expect_ignore("bytes=0-1,5-4", 1000);
}

static void test_range_syntax_error_after_valid_spec_ignores_whole_field(void **state)
{
    expect_ignore("bytes=0-1,x", 1000);
    expect_ignore("bytes=0-1;", 1000);
}

static void test_range_double_dash_is_ignored(void **state)
{
    expect_ignore("bytes=--1", 1000);
}

static void test_range_plus_sign_is_ignored(void **state)
{
    expect_ignore("bytes=+1-2", 1000);
    expect_ignore("bytes=1-+2", 1000);
}

static void test_range_bare_dash_is_ignored(void **state)
{
    expect_ignore("bytes=-", 1000);
}

static void test_range_missing_dash_is_ignored(void **state)
{
    expect_ignore("bytes=1", 1000);
}

static void test_range_extra_dash_is_ignored(void **state)
{
    expect_ignore("bytes=1-2-3", 1000);
    expect_ignore("bytes=-1-2", 1000);
}

static void test_range_non_decimal_digits_are_ignored(void **state)
{
    expect_ignore("bytes=a-b", 1000);
    expect_ignore("bytes=0x10-0x20", 1000);
    expect_ignore("bytes=1.5-2", 1000);
}

static void test_range_other_unit_is_ignored(void **state)
{
    expect_ignore("items=0-1", 1000);
    expect_ignore("none", 1000);
}

static void test_range_unit_must_match_exactly(void **state)
{
    expect_ignore("byte=0-1", 1000);
    expect_ignore("bytesx=0-1", 1000);
    expect_ignore("xbytes=0-1", 1000);
    expect_ignore("=0-1", 1000);
}

static void test_range_missing_equals_is_ignored(void **state)
{
    expect_ignore("bytes", 1000);
    expect_ignore("bytes 0-1", 1000);
    expect_ignore("bytes:0-1", 1000);
}

static void test_range_unit_is_case_insensitive(void **state)
{
    expect_one("BYTES=0-1", 1000, 0, 1);
    expect_one("ByTeS=0-1", 1000, 0, 1);
}

static void test_range_whitespace_around_equals_is_ignored(void **state)
{
    expect_ignore("bytes = 0-1", 1000);
    expect_ignore("bytes =0-1", 1000);
    expect_ignore("bytes= 0-1", 1000);
}

static void test_range_whitespace_inside_spec_is_ignored(void **state)
{
    expect_ignore("bytes=0 -1", 1000);
    expect_ignore("bytes=0- 1", 1000);
    expect_ignore("bytes=- 1", 1000);
    expect_ignore("bytes=0-1,2 -3", 1000);
    expect_ignore("bytes=0\t-1", 1000);
}

static void test_range_ows_around_commas_is_accepted(void **state)
{
    expect_two("bytes=0-1 , 5-6", 1000, 0, 1, 5, 6);
    expect_two("bytes=0-1,\t5-6", 1000, 0, 1, 5, 6);
    expect_two("bytes=0-1\t,5-6", 1000, 0, 1, 5, 6);
}

static void test_range_empty_list_elements_are_accepted(void **state)
{
    expect_two("bytes=,0-1,, ,5-6,", 1000, 0, 1, 5, 6);
}

static void test_range_field_value_ows_is_trimmed(void **state)
{
    expect_one(" \tbytes=0-1 \t", 1000, 0, 1);
}

static void test_range_nul_byte_inside_len_is_ignored(void **state)
{
    static const char value[] = "bytes=0-1\0";
    struct sl_range out[SL_RANGE_MAX];
    size_t count;
    assert_int_equal(sl_range_parse(value, sizeof(value) - 1, 1000, out, &count), SL_RANGE_IGNORE);
}

static void test_range_bytes_after_len_are_not_read(void **state)
{
    /* Digits right after len would change the answer if the parser looked at them. */
    static const char value[] = "bytes=0-1234";
    struct sl_range out[SL_RANGE_MAX];
    size_t count;
    assert_int_equal(sl_range_parse(value, 9, 1000, out, &count), SL_RANGE_SATISFIABLE);
    assert_int_equal(count, 1);
    assert_int_equal(out[0].first, 0);
    assert_int_equal(out[0].last, 1);

    assert_int_equal(sl_range_parse(value, 8, 1000, out, &count), SL_RANGE_SATISFIABLE);
    assert_int_equal(count, 1);
    assert_int_equal(out[0].first, 0);
    assert_int_equal(out[0].last, 999);

    assert_int_equal(sl_range_parse("bytes=-1x", 8, 1000, out, &count), SL_RANGE_SATISFIABLE);
    assert_int_equal(out[0].first, 999);
    assert_int_equal(sl_range_parse("bytes=5", 6, 1000, out, &count), SL_RANGE_IGNORE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_range_int_range_returns_exact_bytes),
        cmocka_unit_test(test_range_open_ended_runs_to_last_byte),
        cmocka_unit_test(test_range_suffix_returns_last_n_bytes),
        cmocka_unit_test(test_range_suffix_longer_than_file_returns_whole_file),
        cmocka_unit_test(test_range_suffix_equal_to_size_returns_whole_file),
        cmocka_unit_test(test_range_last_beyond_end_is_clipped),
        cmocka_unit_test(test_range_single_first_byte),
        cmocka_unit_test(test_range_single_last_byte),
        cmocka_unit_test(test_range_leading_zeros_are_accepted),
        cmocka_unit_test(test_range_first_equal_to_size_is_unsatisfiable),
        cmocka_unit_test(test_range_first_beyond_size_is_unsatisfiable),
        cmocka_unit_test(test_range_suffix_zero_is_unsatisfiable),
        cmocka_unit_test(test_range_size_zero_makes_every_range_unsatisfiable),
        cmocka_unit_test(test_range_all_specs_unsatisfiable_is_unsatisfiable),
        cmocka_unit_test(test_range_unsatisfiable_specs_are_dropped_among_satisfiable),
        cmocka_unit_test(test_range_disjoint_ranges_keep_the_order_they_were_asked_in),
        cmocka_unit_test(test_range_merged_range_takes_the_place_of_its_earliest_member),
        cmocka_unit_test(test_range_overlapping_ranges_coalesce),
        cmocka_unit_test(test_range_adjacent_ranges_coalesce),
        cmocka_unit_test(test_range_contained_range_coalesces_into_outer),
        cmocka_unit_test(test_range_one_byte_gap_keeps_ranges_apart),
        cmocka_unit_test(test_range_first_byte_and_suffix_one_stay_apart_on_large_file),
        cmocka_unit_test(test_range_first_byte_and_suffix_one_coalesce_on_two_byte_file),
        cmocka_unit_test(test_range_suffix_overlapping_int_range_coalesces),
        cmocka_unit_test(test_range_chain_of_ranges_coalesces_transitively),
        cmocka_unit_test(test_range_max_disjoint_ranges_are_accepted),
        cmocka_unit_test(test_range_more_than_max_ranges_after_coalescing_is_ignored),
        cmocka_unit_test(test_range_many_ranges_that_coalesce_below_max_are_accepted),
        cmocka_unit_test(test_range_one_hundred_specs_are_accepted),
        cmocka_unit_test(test_range_more_than_one_hundred_specs_is_ignored),
        cmocka_unit_test(test_range_empty_elements_do_not_count_toward_spec_limit),
        cmocka_unit_test(test_range_first_overflowing_uint64_is_unsatisfiable),
        cmocka_unit_test(test_range_first_overflowing_uint64_is_dropped_among_satisfiable),
        cmocka_unit_test(test_range_last_overflowing_uint64_is_clipped),
        cmocka_unit_test(test_range_both_overflowing_with_last_below_first_is_ignored),
        cmocka_unit_test(test_range_both_overflowing_in_order_is_unsatisfiable),
        cmocka_unit_test(test_range_suffix_overflowing_uint64_returns_whole_file),
        cmocka_unit_test(test_range_uint64_max_first_is_unsatisfiable_even_for_max_size),
        cmocka_unit_test(test_range_near_uint64_max_offsets_do_not_wrap),
        cmocka_unit_test(test_range_offsets_beyond_4gib_on_5gib_file),
        cmocka_unit_test(test_range_null_value_is_ignored),
        cmocka_unit_test(test_range_empty_value_is_ignored),
        cmocka_unit_test(test_range_empty_range_set_is_ignored),
        cmocka_unit_test(test_range_only_commas_is_ignored),
        cmocka_unit_test(test_range_last_below_first_is_ignored),
        cmocka_unit_test(test_range_last_below_first_in_any_spec_ignores_whole_field),
        cmocka_unit_test(test_range_syntax_error_after_valid_spec_ignores_whole_field),
        cmocka_unit_test(test_range_double_dash_is_ignored),
        cmocka_unit_test(test_range_plus_sign_is_ignored),
        cmocka_unit_test(test_range_bare_dash_is_ignored),
        cmocka_unit_test(test_range_missing_dash_is_ignored),
        cmocka_unit_test(test_range_extra_dash_is_ignored),
        cmocka_unit_test(test_range_non_decimal_digits_are_ignored),
        cmocka_unit_test(test_range_other_unit_is_ignored),
        cmocka_unit_test(test_range_unit_must_match_exactly),
        cmocka_unit_test(test_range_missing_equals_is_ignored),
        cmocka_unit_test(test_range_unit_is_case_insensitive),
        cmocka_unit_test(test_range_whitespace_around_equals_is_ignored),
        cmocka_unit_test(test_range_whitespace_inside_spec_is_ignored),
        cmocka_unit_test(test_range_ows_around_commas_is_accepted),
        cmocka_unit_test(test_range_empty_list_elements_are_accepted),
        cmocka_unit_test(test_range_field_value_ows_is_trimmed),
        cmocka_unit_test(test_range_nul_byte_inside_len_is_ignored),
        cmocka_unit_test(test_range_bytes_after_len_are_not_read),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
