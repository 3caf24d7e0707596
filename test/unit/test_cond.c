/* Unit tests for ETags and conditional requests (src/cond.c). */
/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <string.h>

#include "sluice/cond.h"

/* Last-Modified of the representation under test: Sun, 06 Nov 1994 08:49:37 GMT. */
#define LM ((time_t)784111777)
#define LM_DATE "Sun, 06 Nov 1994 08:49:37 GMT"
#define LM_MINUS_1 "Sun, 06 Nov 1994 08:49:36 GMT"
#define LM_PLUS_1 "Sun, 06 Nov 1994 08:49:38 GMT"

static const struct sl_validators rep = {{"\"abc\"", 5}, LM};

static struct sl_str s(const char *lit)
{
    return sl_str_cstr(lit);
}

static bool strong(const char *list, const char *etag)
{
    return sl_etag_list_match(s(list), s(etag), false);
}

static bool weak(const char *list, const char *etag)
{
    return sl_etag_list_match(s(list), s(etag), true);
}

/* ---- sl_etag_format ---- */

static void test_etag_format_identity_is_size_mtime_nsec_in_lowercase_hex(void **state)
{
    char out[SL_ETAG_MAX];
    size_t n = sl_etag_format(out, 500, 0x6543a1b2, 500000000, NULL);
    assert_string_equal(out, "\"1f4-6543a1b2-1dcd6500\"");
    assert_int_equal(n, strlen(out));
}

static void test_etag_format_appends_encoding(void **state)
{
    char out[SL_ETAG_MAX];
    size_t n = sl_etag_format(out, 500, 0x6543a1b2, 500000000, "br");
    assert_string_equal(out, "\"1f4-6543a1b2-1dcd6500-br\"");
    assert_int_equal(n, strlen(out));
}

static void test_etag_format_zero_values(void **state)
{
    char out[SL_ETAG_MAX];
    assert_int_equal(sl_etag_format(out, 0, 0, 0, NULL), 7);
    assert_string_equal(out, "\"0-0-0\"");
}

static void test_etag_format_empty_encoding_is_identity(void **state)
{
    char out[SL_ETAG_MAX];
    sl_etag_format(out, 1, 2, 3, "");
    assert_string_equal(out, "\"1-2-3\"");
}

static void test_etag_format_negative_mtime_as_twos_complement(void **state)
{
    char out[SL_ETAG_MAX];
    sl_etag_format(out, 1, -1, 0, NULL);
    assert_string_equal(out, "\"1-ffffffffffffffff-0\"");
    sl_etag_format(out, 1, INT64_MIN, 0, NULL);
    assert_string_equal(out, "\"1-8000000000000000-0\"");
}

static void test_etag_format_extremes_never_exceed_buffer(void **state)
{
    char out[SL_ETAG_MAX + 8];
    memset(out, 'Z', sizeof(out));
    size_t n = sl_etag_format(out, UINT64_MAX, -1, -1, "a-very-long-content-coding-name");
    assert_int_equal(n, SL_ETAG_MAX - 1);
    assert_string_equal(out, "\"ffffffffffffffff-ffffffffffffffff-ffffffffffffffff-a-very-lon\"");
    for (size_t i = SL_ETAG_MAX; i < sizeof(out); i++)
        assert_int_equal(out[i], 'Z');
}

static void test_etag_format_replaces_bytes_not_allowed_in_a_tag(void **state)
{
    char out[SL_ETAG_MAX];
    sl_etag_format(out, 1, 2, 3, "b\"r x");
    assert_string_equal(out, "\"1-2-3-b_r_x\"");
}

static void test_etag_format_output_matches_itself_strongly(void **state)
{
    char out[SL_ETAG_MAX];
    size_t n = sl_etag_format(out, 123456789, 1700000000, 999999999, "gzip");
    struct sl_str tag = sl_str_make(out, n);
    assert_true(sl_etag_list_match(tag, tag, false));
}

/* ---- sl_etag_list_match ---- */

static void test_list_single_strong_tag_matches_equal_tag(void **state)
{
    assert_true(strong("\"abc\"", "\"abc\""));
    assert_false(strong("\"abd\"", "\"abc\""));
}

static void test_list_comparison_is_exact_bytes(void **state)
{
    assert_false(strong("\"ABC\"", "\"abc\""));
    assert_false(strong("\"ab\"", "\"abc\""));
    assert_false(strong("\"abcd\"", "\"abc\""));
}

static void test_list_finds_tag_among_several_with_whitespace(void **state)
{
    assert_true(strong("\"x\", \"y\",\"abc\"", "\"abc\""));
    assert_true(strong(" \"x\"\t,\t\"abc\" ", "\"abc\""));
    assert_false(strong("\"x\", \"y\", \"z\"", "\"abc\""));
}

static void test_list_allows_empty_elements(void **state)
{
    assert_true(strong(", ,\"abc\",,", "\"abc\""));
    assert_true(strong("\"abc\", ,", "\"abc\""));
    assert_false(strong(" , , ", "\"abc\""));
}

static void test_list_empty_or_absent_matches_nothing(void **state)
{
    assert_false(strong("", "\"abc\""));
    assert_false(sl_etag_list_match((struct sl_str){NULL, 0}, s("\"abc\""), true));
}

static void test_list_star_matches_any_tag(void **state)
{
    assert_true(strong("*", "\"abc\""));
    assert_true(weak("*", "\"abc\""));
    assert_true(strong(" * ", "W/\"abc\""));
}

static void test_list_star_inside_a_list_is_malformed(void **state)
{
    assert_false(strong("\"abc\", *", "\"abc\""));
    assert_false(strong("*, \"abc\"", "\"abc\""));
    assert_false(strong("**", "\"abc\""));
}

static void test_list_strong_comparison_never_matches_weak_tags(void **state)
{
    assert_false(strong("W/\"abc\"", "\"abc\""));
    assert_false(strong("\"abc\"", "W/\"abc\""));
    assert_false(strong("W/\"abc\"", "W/\"abc\""));
}

static void test_list_weak_comparison_ignores_weak_prefix(void **state)
{
    assert_true(weak("W/\"abc\"", "\"abc\""));
    assert_true(weak("\"abc\"", "W/\"abc\""));
    assert_true(weak("W/\"x\", W/\"abc\"", "W/\"abc\""));
    assert_false(weak("W/\"abd\"", "\"abc\""));
}

static void test_list_weak_prefix_is_case_sensitive(void **state)
{
    assert_false(weak("w/\"abc\"", "\"abc\""));
}

static void test_list_unquoted_tag_is_malformed(void **state)
{
    assert_false(strong("abc", "\"abc\""));
    assert_false(weak("W/abc", "\"abc\""));
}

static void test_list_malformed_after_a_match_matches_nothing(void **state)
{
    assert_false(strong("\"abc\", junk", "\"abc\""));
    assert_false(strong("\"abc\", \"unterminated", "\"abc\""));
    assert_false(strong("\"abc\" \"x\"", "\"abc\"")); /* missing comma */
    assert_false(strong("\"abc\"x", "\"abc\""));
    assert_false(strong("\"abc\";", "\"abc\""));
}

static void test_list_rejects_bytes_outside_etagc(void **state)
{
    assert_false(strong("\"a c\"", "\"a c\""));
    assert_false(strong("\"a\tc\"", "\"a\tc\""));
    assert_false(strong("\"a\x7f\"", "\"a\x7f\""));
    assert_false(strong("\"a\"c\"", "\"a\"c\""));
}

static void test_list_accepts_obs_text_and_punctuation(void **state)
{
    assert_true(strong("\"\xc3\xa9t\xff\"", "\"\xc3\xa9t\xff\""));
    assert_true(
        strong("\"!#$%&'()*+,-./:;<=>?@[\\]^_`{|}~\"", "\"!#$%&'()*+,-./:;<=>?@[\\]^_`{|}~\""));
}

static void test_list_empty_opaque_tag_is_valid(void **state)
{
    assert_true(strong("\"\"", "\"\""));
    assert_false(strong("\"\"", "\"abc\""));
}

static void test_list_malformed_target_etag_matches_only_star(void **state)
{
    assert_false(strong("\"abc\"", "abc"));
    assert_false(weak("\"abc\"", ""));
    assert_true(strong("*", ""));
}

/* The target's opaque bytes are not checked one by one (split_own_etag): one that no tag
 * may hold still matches nothing, as no valid tag in the list can equal it. */
static void test_list_target_with_bytes_outside_etagc_matches_nothing(void **state)
{
    assert_false(weak("\"a b\"", "\"a b\""));
    assert_false(strong("\"a\"b\"", "\"a\"b\""));
    assert_false(weak("\"a\", \"b\"", "\"a\"b\""));
    assert_false(
        sl_cond_if_range_ok(s("\"a\x7f\""), &(struct sl_validators){{"\"a\x7f\"", 4}, LM}));
    assert_true(weak("W/\"a\"", "\"a\""));
}

static void test_list_reads_only_given_length(void **state)
{
    const char buf[] = "\"abc\", junk";
    assert_true(sl_etag_list_match(sl_str_make(buf, 5), s("\"abc\""), false));
    assert_false(sl_etag_list_match(sl_str_make(buf, 4), s("\"abc\""), false));
}

/* ---- sl_cond_evaluate ---- */

static void test_eval_no_conditional_fields_proceeds(void **state)
{
    struct sl_cond_fields f = {0};
    assert_int_equal(sl_cond_evaluate(&f, &rep), 0);
}

static void test_eval_if_match_matching_proceeds(void **state)
{
    struct sl_cond_fields f = {.if_match = s("\"x\", \"abc\"")};
    assert_int_equal(sl_cond_evaluate(&f, &rep), 0);
}

static void test_eval_if_match_not_matching_is_412(void **state)
{
    struct sl_cond_fields f = {.if_match = s("\"x\"")};
    assert_int_equal(sl_cond_evaluate(&f, &rep), 412);
}

static void test_eval_if_match_uses_strong_comparison(void **state)
{
    struct sl_cond_fields f = {.if_match = s("W/\"abc\"")};
    assert_int_equal(sl_cond_evaluate(&f, &rep), 412);
}

static void test_eval_if_match_star_proceeds(void **state)
{
    struct sl_cond_fields f = {.if_match = s("*")};
    assert_int_equal(sl_cond_evaluate(&f, &rep), 0);
}

static void test_eval_if_match_malformed_is_412(void **state)
{
    struct sl_cond_fields f = {.if_match = s("\"abc\", garbage")};
    assert_int_equal(sl_cond_evaluate(&f, &rep), 412);
}

static void test_eval_if_match_empty_value_is_412(void **state)
{
    struct sl_cond_fields f = {.if_match = s("")};
    assert_int_equal(sl_cond_evaluate(&f, &rep), 412);
}

static void test_eval_if_match_failure_beats_if_none_match(void **state)
{
    struct sl_cond_fields f = {.if_match = s("\"x\""), .if_none_match = s("\"abc\"")};
    assert_int_equal(sl_cond_evaluate(&f, &rep), 412);
}

static void test_eval_if_match_present_makes_if_unmodified_since_ignored(void **state)
{
    struct sl_cond_fields f = {.if_match = s("\"abc\""), .if_unmodified_since = s(LM_MINUS_1)};
    assert_int_equal(sl_cond_evaluate(&f, &rep), 0);
}

static void test_eval_if_unmodified_since_before_last_modified_is_412(void **state)
{
    struct sl_cond_fields f = {.if_unmodified_since = s(LM_MINUS_1)};
    assert_int_equal(sl_cond_evaluate(&f, &rep), 412);
}

static void test_eval_if_unmodified_since_equal_or_after_proceeds(void **state)
{
    struct sl_cond_fields f = {.if_unmodified_since = s(LM_DATE)};
    assert_int_equal(sl_cond_evaluate(&f, &rep), 0);
    f.if_unmodified_since = s(LM_PLUS_1);
    assert_int_equal(sl_cond_evaluate(&f, &rep), 0);
}

static void test_eval_if_unmodified_since_accepts_obsolete_date_forms(void **state)
{
    struct sl_cond_fields f = {.if_unmodified_since = s("Sunday, 06-Nov-94 08:49:36 GMT")};
    assert_int_equal(sl_cond_evaluate(&f, &rep), 412);
    f.if_unmodified_since = s("Sun Nov  6 08:49:36 1994");
    assert_int_equal(sl_cond_evaluate(&f, &rep), 412);
}

static void test_eval_if_unmodified_since_invalid_date_is_ignored(void **state)
{
    struct sl_cond_fields f = {.if_unmodified_since = s("yesterday")};
    assert_int_equal(sl_cond_evaluate(&f, &rep), 0);
    f.if_unmodified_since = s(LM_MINUS_1 ", " LM_MINUS_1); /* a list of dates */
    assert_int_equal(sl_cond_evaluate(&f, &rep), 0);
    f.if_unmodified_since = s("Sun, 06 Nov 1994 25:49:36 GMT");
    assert_int_equal(sl_cond_evaluate(&f, &rep), 0);
}

static void test_eval_if_unmodified_since_failure_beats_if_none_match(void **state)
{
    struct sl_cond_fields f = {.if_unmodified_since = s(LM_MINUS_1), .if_none_match = s("*")};
    assert_int_equal(sl_cond_evaluate(&f, &rep), 412);
}

static void test_eval_if_none_match_matching_is_304(void **state)
{
    struct sl_cond_fields f = {.if_none_match = s("\"x\", \"abc\"")};
    assert_int_equal(sl_cond_evaluate(&f, &rep), 304);
}

static void test_eval_if_none_match_uses_weak_comparison(void **state)
{
    struct sl_cond_fields f = {.if_none_match = s("W/\"abc\"")};
    assert_int_equal(sl_cond_evaluate(&f, &rep), 304);
}

static void test_eval_if_none_match_star_is_304(void **state)
{
    struct sl_cond_fields f = {.if_none_match = s("*")};
    assert_int_equal(sl_cond_evaluate(&f, &rep), 304);
}

static void test_eval_if_none_match_not_matching_proceeds(void **state)
{
    struct sl_cond_fields f = {.if_none_match = s("\"x\", W/\"y\"")};
    assert_int_equal(sl_cond_evaluate(&f, &rep), 0);
}

static void test_eval_if_none_match_malformed_proceeds(void **state)
{
    struct sl_cond_fields f = {.if_none_match = s("\"abc\" garbage")};
    assert_int_equal(sl_cond_evaluate(&f, &rep), 0);
}

static void test_eval_if_none_match_present_makes_if_modified_since_ignored(void **state)
{
    struct sl_cond_fields f = {.if_none_match = s("\"x\""), .if_modified_since = s(LM_DATE)};
    assert_int_equal(sl_cond_evaluate(&f, &rep), 0);
}

static void test_eval_if_modified_since_not_modified_is_304(void **state)
{
    struct sl_cond_fields f = {.if_modified_since = s(LM_DATE)};
    assert_int_equal(sl_cond_evaluate(&f, &rep), 304);
    f.if_modified_since = s(LM_PLUS_1);
    assert_int_equal(sl_cond_evaluate(&f, &rep), 304);
}

static void test_eval_if_modified_since_modified_after_proceeds(void **state)
{
    struct sl_cond_fields f = {.if_modified_since = s(LM_MINUS_1)};
    assert_int_equal(sl_cond_evaluate(&f, &rep), 0);
}

static void test_eval_if_modified_since_invalid_date_is_ignored(void **state)
{
    struct sl_cond_fields f = {.if_modified_since = s("Sun, 06 Nov 1994 08:49:37")};
    assert_int_equal(sl_cond_evaluate(&f, &rep), 0);
    f.if_modified_since = s("Mon, 06 Nov 1994 08:49:37 GMT"); /* wrong day name */
    assert_int_equal(sl_cond_evaluate(&f, &rep), 0);
    f.if_modified_since = s("");
    assert_int_equal(sl_cond_evaluate(&f, &rep), 0);
}

static void test_eval_if_modified_since_tolerates_surrounding_whitespace(void **state)
{
    struct sl_cond_fields f = {.if_modified_since = s(" " LM_DATE "\t")};
    assert_int_equal(sl_cond_evaluate(&f, &rep), 304);
}

static void test_eval_passing_if_match_then_matching_if_none_match_is_304(void **state)
{
    struct sl_cond_fields f = {.if_match = s("\"abc\""), .if_none_match = s("\"abc\"")};
    assert_int_equal(sl_cond_evaluate(&f, &rep), 304);
}

static void test_eval_passing_if_unmodified_since_then_if_modified_since_is_304(void **state)
{
    struct sl_cond_fields f = {.if_unmodified_since = s(LM_DATE), .if_modified_since = s(LM_DATE)};
    assert_int_equal(sl_cond_evaluate(&f, &rep), 304);
}

static void test_eval_ignores_if_range(void **state)
{
    struct sl_cond_fields f = {.if_range = s("\"x\"")};
    assert_int_equal(sl_cond_evaluate(&f, &rep), 0);
}

/* ---- sl_cond_if_range_ok ---- */

static void test_if_range_absent_allows_range(void **state)
{
    assert_true(sl_cond_if_range_ok((struct sl_str){NULL, 0}, &rep));
}

static void test_if_range_equal_strong_etag_allows_range(void **state)
{
    assert_true(sl_cond_if_range_ok(s("\"abc\""), &rep));
    assert_true(sl_cond_if_range_ok(s(" \"abc\" "), &rep));
}

static void test_if_range_different_etag_refuses_range(void **state)
{
    assert_false(sl_cond_if_range_ok(s("\"abd\""), &rep));
}

static void test_if_range_weak_etag_never_allows_range(void **state)
{
    assert_false(sl_cond_if_range_ok(s("W/\"abc\""), &rep));
    struct sl_validators weak_rep = {{"W/\"abc\"", 7}, LM};
    assert_false(sl_cond_if_range_ok(s("\"abc\""), &weak_rep));
}

static void test_if_range_exactly_equal_date_allows_range(void **state)
{
    assert_true(sl_cond_if_range_ok(s(LM_DATE), &rep));
    assert_true(sl_cond_if_range_ok(s("Sun Nov  6 08:49:37 1994"), &rep));
}

static void test_if_range_other_date_refuses_range(void **state)
{
    assert_false(sl_cond_if_range_ok(s(LM_MINUS_1), &rep));
    assert_false(sl_cond_if_range_ok(s(LM_PLUS_1), &rep));
}

static void test_if_range_garbage_refuses_range(void **state)
{
    assert_false(sl_cond_if_range_ok(s("garbage"), &rep));
    assert_false(sl_cond_if_range_ok(s(""), &rep));
    assert_false(sl_cond_if_range_ok(s("*"), &rep));
    assert_false(sl_cond_if_range_ok(s("\"abc"), &rep));
}

static void test_if_range_list_of_tags_refuses_range(void **state)
{
    assert_false(sl_cond_if_range_ok(s("\"abc\", \"abc\""), &rep));
    assert_false(sl_cond_if_range_ok(s("\"abc\" x"), &rep));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_etag_format_identity_is_size_mtime_nsec_in_lowercase_hex),
        cmocka_unit_test(test_etag_format_appends_encoding),
        cmocka_unit_test(test_etag_format_zero_values),
        cmocka_unit_test(test_etag_format_empty_encoding_is_identity),
        cmocka_unit_test(test_etag_format_negative_mtime_as_twos_complement),
        cmocka_unit_test(test_etag_format_extremes_never_exceed_buffer),
        cmocka_unit_test(test_etag_format_replaces_bytes_not_allowed_in_a_tag),
        cmocka_unit_test(test_etag_format_output_matches_itself_strongly),
        cmocka_unit_test(test_list_single_strong_tag_matches_equal_tag),
        cmocka_unit_test(test_list_comparison_is_exact_bytes),
        cmocka_unit_test(test_list_finds_tag_among_several_with_whitespace),
        cmocka_unit_test(test_list_allows_empty_elements),
        cmocka_unit_test(test_list_empty_or_absent_matches_nothing),
        cmocka_unit_test(test_list_star_matches_any_tag),
        cmocka_unit_test(test_list_star_inside_a_list_is_malformed),
        cmocka_unit_test(test_list_strong_comparison_never_matches_weak_tags),
        cmocka_unit_test(test_list_weak_comparison_ignores_weak_prefix),
        cmocka_unit_test(test_list_weak_prefix_is_case_sensitive),
        cmocka_unit_test(test_list_unquoted_tag_is_malformed),
        cmocka_unit_test(test_list_malformed_after_a_match_matches_nothing),
        cmocka_unit_test(test_list_rejects_bytes_outside_etagc),
        cmocka_unit_test(test_list_accepts_obs_text_and_punctuation),
        cmocka_unit_test(test_list_empty_opaque_tag_is_valid),
        cmocka_unit_test(test_list_malformed_target_etag_matches_only_star),
        cmocka_unit_test(test_list_target_with_bytes_outside_etagc_matches_nothing),
        cmocka_unit_test(test_list_reads_only_given_length),
        cmocka_unit_test(test_eval_no_conditional_fields_proceeds),
        cmocka_unit_test(test_eval_if_match_matching_proceeds),
        cmocka_unit_test(test_eval_if_match_not_matching_is_412),
        cmocka_unit_test(test_eval_if_match_uses_strong_comparison),
        cmocka_unit_test(test_eval_if_match_star_proceeds),
        cmocka_unit_test(test_eval_if_match_malformed_is_412),
        cmocka_unit_test(test_eval_if_match_empty_value_is_412),
        cmocka_unit_test(test_eval_if_match_failure_beats_if_none_match),
        cmocka_unit_test(test_eval_if_match_present_makes_if_unmodified_since_ignored),
        cmocka_unit_test(test_eval_if_unmodified_since_before_last_modified_is_412),
        cmocka_unit_test(test_eval_if_unmodified_since_equal_or_after_proceeds),
        cmocka_unit_test(test_eval_if_unmodified_since_accepts_obsolete_date_forms),
        cmocka_unit_test(test_eval_if_unmodified_since_invalid_date_is_ignored),
        cmocka_unit_test(test_eval_if_unmodified_since_failure_beats_if_none_match),
        cmocka_unit_test(test_eval_if_none_match_matching_is_304),
        cmocka_unit_test(test_eval_if_none_match_uses_weak_comparison),
        cmocka_unit_test(test_eval_if_none_match_star_is_304),
        cmocka_unit_test(test_eval_if_none_match_not_matching_proceeds),
        cmocka_unit_test(test_eval_if_none_match_malformed_proceeds),
        cmocka_unit_test(test_eval_if_none_match_present_makes_if_modified_since_ignored),
        cmocka_unit_test(test_eval_if_modified_since_not_modified_is_304),
        cmocka_unit_test(test_eval_if_modified_since_modified_after_proceeds),
        cmocka_unit_test(test_eval_if_modified_since_invalid_date_is_ignored),
        cmocka_unit_test(test_eval_if_modified_since_tolerates_surrounding_whitespace),
        cmocka_unit_test(test_eval_passing_if_match_then_matching_if_none_match_is_304),
        cmocka_unit_test(test_eval_passing_if_unmodified_since_then_if_modified_since_is_304),
        cmocka_unit_test(test_eval_ignores_if_range),
        cmocka_unit_test(test_if_range_absent_allows_range),
        cmocka_unit_test(test_if_range_equal_strong_etag_allows_range),
        cmocka_unit_test(test_if_range_different_etag_refuses_range),
        cmocka_unit_test(test_if_range_weak_etag_never_allows_range),
        cmocka_unit_test(test_if_range_exactly_equal_date_allows_range),
        cmocka_unit_test(test_if_range_other_date_refuses_range),
        cmocka_unit_test(test_if_range_garbage_refuses_range),
        cmocka_unit_test(test_if_range_list_of_tags_refuses_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
