/* Unit tests for Accept-Encoding negotiation (RFC 9110 §12.5.3). */
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

#include "sluice/negotiate.h"

#define ALL (SL_ENC_BR | SL_ENC_ZSTD | SL_ENC_GZIP)

/* Negotiates over a heap copy of exactly strlen(s) bytes with no NUL, so
 * AddressSanitizer flags any read past `len`. */
static int negotiate(const char *s, unsigned available)
{
    size_t n = strlen(s);
    char *buf = malloc(n > 0 ? n : 1);
    assert_non_null(buf);
    memcpy(buf, s, n);
    int enc = sl_negotiate_encoding(buf, n, available);
    free(buf);
    return enc;
}

/* --- absent and empty field --- */

static void test_negotiate_absent_field_returns_identity(void **state)
{
    assert_int_equal(sl_negotiate_encoding(NULL, 0, ALL), SL_ENC_IDENTITY);
}

static void test_negotiate_empty_field_means_identity_only(void **state)
{
    assert_int_equal(negotiate("", ALL), SL_ENC_IDENTITY);
    assert_int_equal(negotiate(" \t ", ALL), SL_ENC_IDENTITY);
}

static void test_negotiate_only_empty_elements_means_identity_only(void **state)
{
    assert_int_equal(negotiate(", ,,", ALL), SL_ENC_IDENTITY);
}

/* --- plain lists --- */

static void test_negotiate_listed_available_coding_is_chosen(void **state)
{
    assert_int_equal(negotiate("gzip", ALL), SL_ENC_GZIP);
    assert_int_equal(negotiate("zstd", ALL), SL_ENC_ZSTD);
    assert_int_equal(negotiate("br", ALL), SL_ENC_BR);
}

static void test_negotiate_unlisted_available_coding_is_not_chosen(void **state)
{
    assert_int_equal(negotiate("gzip", SL_ENC_BR | SL_ENC_ZSTD), SL_ENC_IDENTITY);
}

static void test_negotiate_listed_coding_without_variant_falls_back_to_identity(void **state)
{
    assert_int_equal(negotiate("gzip, deflate, br", 0), SL_ENC_IDENTITY);
}

static void test_negotiate_equal_q_prefers_br_then_zstd_then_gzip(void **state)
{
    assert_int_equal(negotiate("gzip, deflate, br, zstd", ALL), SL_ENC_BR);
    assert_int_equal(negotiate("gzip, zstd", ALL), SL_ENC_ZSTD);
    assert_int_equal(negotiate("gzip, zstd, br", SL_ENC_GZIP | SL_ENC_ZSTD), SL_ENC_ZSTD);
    assert_int_equal(negotiate("br;q=0.8, gzip;q=0.8", ALL), SL_ENC_BR);
}

static void test_negotiate_unknown_codings_are_ignored(void **state)
{
    assert_int_equal(negotiate("deflate, compress, exi", ALL), SL_ENC_IDENTITY);
}

/* --- q-values --- */

static void test_negotiate_higher_q_beats_preference_order(void **state)
{
    assert_int_equal(negotiate("br;q=0.5, gzip", ALL), SL_ENC_GZIP);
    assert_int_equal(negotiate("br;q=0.5, zstd;q=0.9, gzip;q=0.7", ALL), SL_ENC_ZSTD);
}

static void test_negotiate_q_values_compare_to_three_decimals(void **state)
{
    assert_int_equal(negotiate("br;q=0.001, gzip;q=0.002", ALL), SL_ENC_GZIP);
    assert_int_equal(negotiate("br;q=0.999, gzip;q=1", ALL), SL_ENC_GZIP);
    assert_int_equal(negotiate("br;q=0.5, gzip;q=0.50", ALL), SL_ENC_BR);
}

static void test_negotiate_q_zero_refuses_coding(void **state)
{
    assert_int_equal(negotiate("gzip;q=0", ALL), SL_ENC_IDENTITY);
    assert_int_equal(negotiate("br;q=0.000, gzip", ALL), SL_ENC_GZIP);
    assert_int_equal(negotiate("br;q=0.", SL_ENC_BR), SL_ENC_IDENTITY);
}

static void test_negotiate_q_one_forms_are_accepted(void **state)
{
    assert_int_equal(negotiate("gzip;q=0.9, br;q=1.000", ALL), SL_ENC_BR);
    assert_int_equal(negotiate("gzip;q=0.9, br;q=1.", ALL), SL_ENC_BR);
    assert_int_equal(negotiate("gzip;q=0.9, br;q=1.0", ALL), SL_ENC_BR);
}

static void test_negotiate_invalid_q_skips_element(void **state)
{
    static const char *const bad[] = {
        "br;q=2, gzip;q=0.5",      "br;q=1.001, gzip;q=0.5",  "br;q=1.5, gzip;q=0.5",
        "br;q=0.5555, gzip;q=0.5", "br;q=.5, gzip;q=0.5",     "br;q=, gzip;q=0.5",
        "br;q=0.5x, gzip;q=0.5",   "br;q=-1, gzip;q=0.5",     "br;q=00, gzip;q=0.5",
        "br;q=0..5, gzip;q=0.5",   "br;q=1.0000, gzip;q=0.5",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int enc = negotiate(bad[i], ALL);
        if (enc != SL_ENC_GZIP)
            fail_msg("\"%s\" gave %d, want gzip", bad[i], enc);
    }
}

static void test_negotiate_invalid_q_zero_does_not_refuse(void **state)
{
    /* The malformed refusal is skipped, so br stays covered by "*". */
    assert_int_equal(negotiate("br;q=0.0000, *", ALL), SL_ENC_BR);
}

static void test_negotiate_malformed_weight_syntax_skips_element(void **state)
{
    static const char *const bad[] = {
        "br;q = 0.5, gzip;q=0.5", "br;q= 0.5, gzip;q=0.5", "br;level=1, gzip;q=0.5",
        "br;, gzip;q=0.5",        "br;q, gzip;q=0.5",      "br q=1, gzip;q=0.5",
        "br;q=1;q=1, gzip;q=0.5", "br;q=1 x, gzip;q=0.5",  "br;;q=1, gzip;q=0.5",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int enc = negotiate(bad[i], ALL);
        if (enc != SL_ENC_GZIP)
            fail_msg("\"%s\" gave %d, want gzip", bad[i], enc);
    }
}

static void test_negotiate_malformed_coding_skips_element(void **state)
{
    assert_int_equal(negotiate("@br, gzip", ALL), SL_ENC_GZIP);
    assert_int_equal(negotiate("b r, gzip", ALL), SL_ENC_GZIP);
    assert_int_equal(negotiate(";q=1, gzip", ALL), SL_ENC_GZIP);
    assert_int_equal(negotiate("\"br\", gzip", ALL), SL_ENC_GZIP);
}

static void test_negotiate_uppercase_q_parameter_is_accepted(void **state)
{
    assert_int_equal(negotiate("br;Q=0.1, gzip;q=0.2", ALL), SL_ENC_GZIP);
}

/* --- "*" and identity --- */

static void test_negotiate_star_matches_best_available_coding(void **state)
{
    assert_int_equal(negotiate("*", ALL), SL_ENC_BR);
    assert_int_equal(negotiate("*", SL_ENC_GZIP), SL_ENC_GZIP);
    assert_int_equal(negotiate("*", 0), SL_ENC_IDENTITY);
}

static void test_negotiate_star_does_not_override_listed_coding(void **state)
{
    assert_int_equal(negotiate("*;q=0.5, gzip;q=0", ALL), SL_ENC_BR);
    assert_int_equal(negotiate("br;q=0, *", SL_ENC_BR | SL_ENC_GZIP), SL_ENC_GZIP);
    assert_int_equal(negotiate("gzip;q=0.1, *;q=0.5", ALL), SL_ENC_BR);
}

static void test_negotiate_star_weight_applies_to_unlisted_identity(void **state)
{
    /* Only gzip exists and it is refused; identity takes "*"'s 0.5. */
    assert_int_equal(negotiate("*;q=0.5, gzip;q=0", SL_ENC_GZIP), SL_ENC_IDENTITY);
    /* Identity under "*" ties with gzip under "*", and gzip is preferred. */
    assert_int_equal(negotiate("*;q=0.5", SL_ENC_GZIP), SL_ENC_GZIP);
}

static void test_negotiate_unlisted_identity_loses_to_any_listed_coding(void **state)
{
    assert_int_equal(negotiate("gzip;q=0.001", SL_ENC_GZIP), SL_ENC_GZIP);
}

static void test_negotiate_explicit_identity_weight_is_honoured(void **state)
{
    assert_int_equal(negotiate("gzip;q=0.001, identity", SL_ENC_GZIP), SL_ENC_IDENTITY);
    assert_int_equal(negotiate("gzip;q=0.5, identity;q=0.5", SL_ENC_GZIP), SL_ENC_GZIP);
    assert_int_equal(negotiate("identity;q=0.9, gzip", SL_ENC_GZIP), SL_ENC_GZIP);
}

static void test_negotiate_identity_q_zero_with_variant_chooses_variant(void **state)
{
    assert_int_equal(negotiate("identity;q=0, gzip", SL_ENC_GZIP), SL_ENC_GZIP);
}

static void test_negotiate_identity_q_zero_without_variant_returns_minus_one(void **state)
{
    assert_int_equal(negotiate("identity;q=0", 0), -1);
    assert_int_equal(negotiate("identity;q=0, gzip", SL_ENC_BR), -1);
}

static void test_negotiate_star_q_zero_refuses_unlisted_identity(void **state)
{
    assert_int_equal(negotiate("*;q=0", ALL), -1);
    assert_int_equal(negotiate("*;q=0, zstd", ALL), SL_ENC_ZSTD);
}

static void test_negotiate_star_q_zero_with_listed_identity_allows_identity(void **state)
{
    assert_int_equal(negotiate("*;q=0, identity", ALL), SL_ENC_IDENTITY);
    assert_int_equal(negotiate("identity;q=0.1, *;q=0", ALL), SL_ENC_IDENTITY);
}

static void test_negotiate_everything_refused_returns_minus_one(void **state)
{
    assert_int_equal(negotiate("identity;q=0, gzip;q=0", SL_ENC_GZIP), -1);
}

/* --- spelling and whitespace --- */

static void test_negotiate_coding_names_are_case_insensitive(void **state)
{
    assert_int_equal(negotiate("GZIP", ALL), SL_ENC_GZIP);
    assert_int_equal(negotiate("Br;q=1, gzip;q=0.5", ALL), SL_ENC_BR);
    assert_int_equal(negotiate("ZStd", ALL), SL_ENC_ZSTD);
    assert_int_equal(negotiate("IDENTITY;q=0", 0), -1);
}

static void test_negotiate_x_gzip_is_gzip(void **state)
{
    assert_int_equal(negotiate("x-gzip", ALL), SL_ENC_GZIP);
    assert_int_equal(negotiate("X-GZIP;q=0.5, identity;q=0.1", SL_ENC_GZIP), SL_ENC_GZIP);
}

static void test_negotiate_ows_around_elements_and_semicolon_is_accepted(void **state)
{
    assert_int_equal(negotiate(" gzip ; q=0.5 ,\tbr;q=0.4 ", ALL), SL_ENC_GZIP);
    assert_int_equal(negotiate("br\t;\tq=0.3,gzip;q=0.2", ALL), SL_ENC_BR);
}

static void test_negotiate_empty_elements_are_skipped(void **state)
{
    assert_int_equal(negotiate(", ,gzip,,", ALL), SL_ENC_GZIP);
}

static void test_negotiate_first_occurrence_of_duplicate_wins(void **state)
{
    assert_int_equal(negotiate("gzip;q=0, gzip", SL_ENC_GZIP), SL_ENC_IDENTITY);
    assert_int_equal(negotiate("gzip, x-gzip;q=0", SL_ENC_GZIP), SL_ENC_GZIP);
}

static void test_negotiate_unknown_available_bits_are_ignored(void **state)
{
    assert_int_equal(negotiate("*", 1u << 7), SL_ENC_IDENTITY);
}

static void test_negotiate_bytes_after_len_are_not_read(void **state)
{
    static const char value[] = "gzip;q=0";
    /* len 4 is just "gzip"; the ";q=0" after it must not refuse gzip. */
    assert_int_equal(sl_negotiate_encoding(value, 4, SL_ENC_GZIP), SL_ENC_GZIP);
    /* len 0 with a non-empty buffer is an empty field: identity only. */
    assert_int_equal(sl_negotiate_encoding(value, 0, SL_ENC_GZIP), SL_ENC_IDENTITY);
}

/* --- names and suffixes --- */

static void test_encoding_name_gives_content_coding_tokens(void **state)
{
    assert_string_equal(sl_encoding_name(SL_ENC_BR), "br");
    assert_string_equal(sl_encoding_name(SL_ENC_ZSTD), "zstd");
    assert_string_equal(sl_encoding_name(SL_ENC_GZIP), "gzip");
    assert_null(sl_encoding_name(SL_ENC_IDENTITY));
    assert_null(sl_encoding_name(-1));
}

static void test_encoding_suffix_gives_variant_file_suffixes(void **state)
{
    assert_string_equal(sl_encoding_suffix(SL_ENC_BR), ".br");
    assert_string_equal(sl_encoding_suffix(SL_ENC_ZSTD), ".zst");
    assert_string_equal(sl_encoding_suffix(SL_ENC_GZIP), ".gz");
    assert_string_equal(sl_encoding_suffix(SL_ENC_IDENTITY), "");
    assert_string_equal(sl_encoding_suffix(-1), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_negotiate_absent_field_returns_identity),
        cmocka_unit_test(test_negotiate_empty_field_means_identity_only),
        cmocka_unit_test(test_negotiate_only_empty_elements_means_identity_only),
        cmocka_unit_test(test_negotiate_listed_available_coding_is_chosen),
        cmocka_unit_test(test_negotiate_unlisted_available_coding_is_not_chosen),
        cmocka_unit_test(test_negotiate_listed_coding_without_variant_falls_back_to_identity),
        cmocka_unit_test(test_negotiate_equal_q_prefers_br_then_zstd_then_gzip),
        cmocka_unit_test(test_negotiate_unknown_codings_are_ignored),
        cmocka_unit_test(test_negotiate_higher_q_beats_preference_order),
        cmocka_unit_test(test_negotiate_q_values_compare_to_three_decimals),
        cmocka_unit_test(test_negotiate_q_zero_refuses_coding),
        cmocka_unit_test(test_negotiate_q_one_forms_are_accepted),
        cmocka_unit_test(test_negotiate_invalid_q_skips_element),
        cmocka_unit_test(test_negotiate_invalid_q_zero_does_not_refuse),
        cmocka_unit_test(test_negotiate_malformed_weight_syntax_skips_element),
        cmocka_unit_test(test_negotiate_malformed_coding_skips_element),
        cmocka_unit_test(test_negotiate_uppercase_q_parameter_is_accepted),
        cmocka_unit_test(test_negotiate_star_matches_best_available_coding),
        cmocka_unit_test(test_negotiate_star_does_not_override_listed_coding),
        cmocka_unit_test(test_negotiate_star_weight_applies_to_unlisted_identity),
        cmocka_unit_test(test_negotiate_unlisted_identity_loses_to_any_listed_coding),
        cmocka_unit_test(test_negotiate_explicit_identity_weight_is_honoured),
        cmocka_unit_test(test_negotiate_identity_q_zero_with_variant_chooses_variant),
        cmocka_unit_test(test_negotiate_identity_q_zero_without_variant_returns_minus_one),
        cmocka_unit_test(test_negotiate_star_q_zero_refuses_unlisted_identity),
        cmocka_unit_test(test_negotiate_star_q_zero_with_listed_identity_allows_identity),
        cmocka_unit_test(test_negotiate_everything_refused_returns_minus_one),
        cmocka_unit_test(test_negotiate_coding_names_are_case_insensitive),
        cmocka_unit_test(test_negotiate_x_gzip_is_gzip),
        cmocka_unit_test(test_negotiate_ows_around_elements_and_semicolon_is_accepted),
        cmocka_unit_test(test_negotiate_empty_elements_are_skipped),
        cmocka_unit_test(test_negotiate_first_occurrence_of_duplicate_wins),
        cmocka_unit_test(test_negotiate_unknown_available_bits_are_ignored),
        cmocka_unit_test(test_negotiate_bytes_after_len_are_not_read),
        cmocka_unit_test(test_encoding_name_gives_content_coding_tokens),
        cmocka_unit_test(test_encoding_suffix_gives_variant_file_suffixes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
