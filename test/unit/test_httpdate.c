/* Unit tests for HTTP-date formatting and parsing (src/httpdate.c). */
/* cmocka.h needs these first, in this order. */
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

/* 1994-11-06T08:49:37Z, the RFC 9110 example. */
#define RFC_EXAMPLE ((time_t)784111777)

static int parse(const char *s, time_t *t)
{
    return sl_httpdate_parse(s, strlen(s), t);
}

/* Parses s and returns the time, failing the test if s does not parse. */
static time_t parse_ok(const char *s)
{
    time_t t = 0;
    assert_int_equal(parse(s, &t), 0);
    return t;
}

static void assert_rejected(const char *s)
{
    time_t t = 12345;
    assert_int_equal(parse(s, &t), -1);
    assert_int_equal(t, 12345); /* untouched on failure */
}

static void assert_formats_as(time_t t, const char *want)
{
    char out[SL_HTTPDATE_LEN + 1];
    memset(out, 'x', sizeof(out));
    sl_httpdate_format(t, out);
    assert_string_equal(out, want);
    assert_int_equal(strlen(out), SL_HTTPDATE_LEN);
}

static void test_format_rfc_example(void **state)
{
    assert_formats_as(RFC_EXAMPLE, "Sun, 06 Nov 1994 08:49:37 GMT");
}

static void test_format_epoch(void **state)
{
    assert_formats_as(0, "Thu, 01 Jan 1970 00:00:00 GMT");
}

static void test_format_last_second_of_day(void **state)
{
    assert_formats_as(86399, "Thu, 01 Jan 1970 23:59:59 GMT");
}

static void test_format_before_epoch(void **state)
{
    assert_formats_as(-1, "Wed, 31 Dec 1969 23:59:59 GMT");
    assert_formats_as(-86400, "Wed, 31 Dec 1969 00:00:00 GMT");
}

static void test_format_leap_day_2000(void **state)
{
    assert_formats_as(951782400, "Tue, 29 Feb 2000 00:00:00 GMT");
}

static void test_format_after_2038(void **state)
{
    assert_formats_as((time_t)2147483647, "Tue, 19 Jan 2038 03:14:07 GMT");
    assert_formats_as((time_t)2147483648LL, "Tue, 19 Jan 2038 03:14:08 GMT");
    assert_formats_as((time_t)4102444800LL, "Fri, 01 Jan 2100 00:00:00 GMT");
}

static void test_format_clamps_to_four_digit_years(void **state)
{
    assert_formats_as((time_t)253402300799LL, "Fri, 31 Dec 9999 23:59:59 GMT");
    assert_formats_as((time_t)253402300800LL, "Fri, 31 Dec 9999 23:59:59 GMT");
    assert_formats_as((time_t)INT64_MAX, "Fri, 31 Dec 9999 23:59:59 GMT");
    assert_formats_as((time_t)-62167219200LL, "Sat, 01 Jan 0000 00:00:00 GMT");
    assert_formats_as((time_t)INT64_MIN, "Sat, 01 Jan 0000 00:00:00 GMT");
}

static void test_parse_imf_fixdate(void **state)
{
    assert_int_equal(parse_ok("Sun, 06 Nov 1994 08:49:37 GMT"), RFC_EXAMPLE);
}

static void test_parse_rfc850_date(void **state)
{
    assert_int_equal(parse_ok("Sunday, 06-Nov-94 08:49:37 GMT"), RFC_EXAMPLE);
}

static void test_parse_rfc850_every_day_name(void **state)
{
    assert_int_equal(parse_ok("Monday, 07-Nov-94 08:49:37 GMT"), RFC_EXAMPLE + 86400);
    assert_int_equal(parse_ok("Tuesday, 08-Nov-94 08:49:37 GMT"), RFC_EXAMPLE + 2 * 86400);
    assert_int_equal(parse_ok("Wednesday, 09-Nov-94 08:49:37 GMT"), RFC_EXAMPLE + 3 * 86400);
    assert_int_equal(parse_ok("Thursday, 10-Nov-94 08:49:37 GMT"), RFC_EXAMPLE + 4 * 86400);
    assert_int_equal(parse_ok("Friday, 11-Nov-94 08:49:37 GMT"), RFC_EXAMPLE + 5 * 86400);
    assert_int_equal(parse_ok("Saturday, 12-Nov-94 08:49:37 GMT"), RFC_EXAMPLE + 6 * 86400);
}

static void test_parse_rfc850_two_digit_year_pivot_at_70(void **state)
{
    assert_int_equal(parse_ok("Thursday, 01-Jan-70 00:00:00 GMT"), 0);
    assert_int_equal(parse_ok("Friday, 31-Dec-99 23:59:59 GMT"), 946684799);
    assert_int_equal(parse_ok("Saturday, 01-Jan-00 00:00:00 GMT"), 946684800);
    assert_int_equal(parse_ok("Tuesday, 31-Dec-69 00:00:00 GMT"), (time_t)3155673600LL);
}

static void test_parse_asctime_date_with_space_padded_day(void **state)
{
    assert_int_equal(parse_ok("Sun Nov  6 08:49:37 1994"), RFC_EXAMPLE);
}

static void test_parse_asctime_date_with_two_digit_day(void **state)
{
    assert_int_equal(parse_ok("Sun Nov 06 08:49:37 1994"), RFC_EXAMPLE);
    assert_int_equal(parse_ok("Wed Nov 16 08:49:37 1994"), RFC_EXAMPLE + 10 * 86400);
}

static void test_parse_epoch(void **state)
{
    assert_int_equal(parse_ok("Thu, 01 Jan 1970 00:00:00 GMT"), 0);
}

static void test_parse_before_epoch(void **state)
{
    assert_int_equal(parse_ok("Wed, 31 Dec 1969 23:59:59 GMT"), -1);
    assert_int_equal(parse_ok("Mon, 01 Jan 1900 00:00:00 GMT"), (time_t)-2208988800LL);
}

static void test_parse_after_2038(void **state)
{
    assert_int_equal(parse_ok("Tue, 19 Jan 2038 03:14:08 GMT"), (time_t)2147483648LL);
    assert_int_equal(parse_ok("Fri, 31 Dec 9999 23:59:59 GMT"), (time_t)253402300799LL);
}

static void test_parse_leap_day_in_leap_years(void **state)
{
    assert_int_equal(parse_ok("Tue, 29 Feb 2000 00:00:00 GMT"), 951782400);
    assert_int_equal(parse_ok("Thu, 29 Feb 2024 12:00:00 GMT"), 1709208000);
}

static void test_parse_rejects_feb_29_in_common_years(void **state)
{
    assert_rejected("Thu, 29 Feb 1900 00:00:00 GMT"); /* divisible by 100, not by 400 */
    assert_rejected("Thu, 29 Feb 2023 00:00:00 GMT");
    assert_rejected("Sunday, 29-Feb-23 00:00:00 GMT");
}

static void test_parse_rejects_day_past_end_of_month(void **state)
{
    assert_rejected("Thu, 30 Feb 2000 00:00:00 GMT");
    assert_rejected("Thu, 31 Apr 2020 00:00:00 GMT");
    assert_rejected("Sun, 32 Jan 2023 00:00:00 GMT");
    assert_rejected("Sat, 00 Jan 2000 00:00:00 GMT");
    assert_rejected("Sat Jan  0 00:00:00 2000");
}

static void test_parse_rejects_out_of_range_time_fields(void **state)
{
    assert_rejected("Sun, 06 Nov 1994 24:00:00 GMT");
    assert_rejected("Sun, 06 Nov 1994 08:60:00 GMT");
    assert_rejected("Sun, 06 Nov 1994 08:49:61 GMT");
    assert_rejected("Sun Nov  6 24:49:37 1994");
    assert_rejected("Sunday, 06-Nov-94 08:49:61 GMT");
}

static void test_parse_accepts_leap_second_as_next_second(void **state)
{
    assert_int_equal(parse_ok("Sat, 31 Dec 2016 23:59:60 GMT"), 1483228800);
}

static void test_parse_rejects_wrong_day_name(void **state)
{
    assert_rejected("Mon, 06 Nov 1994 08:49:37 GMT");
    assert_rejected("Monday, 06-Nov-94 08:49:37 GMT");
    assert_rejected("Mon Nov  6 08:49:37 1994");
}

static void test_parse_rejects_unknown_names(void **state)
{
    assert_rejected("Xyz, 06 Nov 1994 08:49:37 GMT");
    assert_rejected("Sun, 06 Noo 1994 08:49:37 GMT");
    assert_rejected("Sundae, 06-Nov-94 08:49:37 GMT");
    assert_rejected("Sun Xov  6 08:49:37 1994");
}

static void test_parse_is_case_sensitive(void **state)
{
    assert_rejected("sun, 06 Nov 1994 08:49:37 GMT");
    assert_rejected("Sun, 06 nov 1994 08:49:37 GMT");
    assert_rejected("Sun, 06 Nov 1994 08:49:37 gmt");
    assert_rejected("sunday, 06-Nov-94 08:49:37 GMT");
}

static void test_parse_rejects_trailing_garbage(void **state)
{
    assert_rejected("Sun, 06 Nov 1994 08:49:37 GMT ");
    assert_rejected("Sun, 06 Nov 1994 08:49:37 GMTx");
    assert_rejected("Sunday, 06-Nov-94 08:49:37 GMT,");
    assert_rejected("Sun Nov  6 08:49:37 1994 ");
    assert_rejected("Sun, 06 Nov 1994 08:49:37 GMT, Sun, 06 Nov 1994 08:49:37 GMT");
}

static void test_parse_rejects_leading_whitespace_and_truncation(void **state)
{
    assert_rejected(" Sun, 06 Nov 1994 08:49:37 GMT");
    assert_rejected("Sun, 06 Nov 1994 08:49:37 GM");
    assert_rejected("Sun, 06 Nov 1994 08:49:37");
    assert_rejected("Sunday, 06-Nov-94");
    assert_rejected("Sun Nov  6 08:49:37 199");
    assert_rejected("Sun");
    assert_rejected("");
}

static void test_parse_rejects_other_time_zones(void **state)
{
    assert_rejected("Sun, 06 Nov 1994 08:49:37 UTC");
    assert_rejected("Sun, 06 Nov 1994 08:49:37 +0000");
}

static void test_parse_rejects_non_digits_in_numeric_fields(void **state)
{
    assert_rejected("Sun, 6  Nov 1994 08:49:37 GMT");
    assert_rejected("Sun, 06 Nov 19a4 08:49:37 GMT");
    assert_rejected("Sun, 06 Nov 1994 08:4 :37 GMT");
    assert_rejected("Sun, 06 Nov 1994 08-49-37 GMT");
    assert_rejected("Sun, 06 Nov +994 08:49:37 GMT");
    assert_rejected("Sunday, 06-Nov-9x 08:49:37 GMT");
}

static void test_parse_reads_only_len_bytes(void **state)
{
    const char buf[] = "Sun, 06 Nov 1994 08:49:37 GMTgarbage";
    time_t t = 0;
    assert_int_equal(sl_httpdate_parse(buf, SL_HTTPDATE_LEN, &t), 0);
    assert_int_equal(t, RFC_EXAMPLE);
    assert_int_equal(sl_httpdate_parse(buf, SL_HTTPDATE_LEN - 1, &t), -1);
}

/* Every format must parse back to itself: walks ~10000 instants from year 0 to 9999
 * with an odd step so the hours, minutes, seconds and weekdays all vary. */
static void test_format_then_parse_round_trips(void **state)
{
    const int64_t first = -62167219200LL, last = 253402300799LL;
    const int64_t step = 31556952LL + 3607; /* a mean Gregorian year plus an hour and 7 s */
    char out[SL_HTTPDATE_LEN + 1];
    int checked = 0;
    for (int64_t s = first; s <= last; s += step) {
        sl_httpdate_format((time_t)s, out);
        time_t back = 0;
        assert_int_equal(sl_httpdate_parse(out, strlen(out), &back), 0);
        assert_int_equal((int64_t)back, s);
        checked++;
    }
    /* And every day around the epoch and the 2038 boundary, at a varying second. */
    for (int64_t d = -800; d <= 800; d++) {
        int64_t bases[2] = {0, 2147483648LL};
        for (int b = 0; b < 2; b++) {
            int64_t s = bases[b] + d * 86400 + (d * 7919 % 86400 + 86400) % 86400;
            sl_httpdate_format((time_t)s, out);
            time_t back = 0;
            assert_int_equal(sl_httpdate_parse(out, strlen(out), &back), 0);
            assert_int_equal((int64_t)back, s);
            checked++;
        }
    }
    assert_true(checked > 10000);
}

static void test_leap_second_at_end_of_9999_is_rejected(void **state)
{
    time_t t = 42;
    const char *imf = "Fri, 31 Dec 9999 23:59:60 GMT";
    assert_int_equal(sl_httpdate_parse(imf, strlen(imf), &t), -1);
    assert_int_equal(t, 42);
    const char *asc = "Fri Dec 31 23:59:60 9999";
    assert_int_equal(sl_httpdate_parse(asc, strlen(asc), &t), -1);
}

/* ---- the log's and the listing's dates ---- */

/* The three other formats, as the log and listing code wrote them before with gmtime_r and
 * snprintf: the reference for years 0000..9999. */
static void reference_formats(time_t t, char log[64], char iso[64], char shown[64])
{
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;
    assert_non_null(gmtime_r(&t, &tm));
    snprintf(log, 64, "%02d/%s/%04d:%02d:%02d:%02d +0000", tm.tm_mday, months[tm.tm_mon],
             tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    snprintf(iso, 64, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    snprintf(shown, 64, "%04d-%02d-%02d %02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min);
}

static void assert_other_formats(time_t t, const char *log, const char *iso, const char *shown)
{
    char out_log[SL_LOGDATE_LEN + 1];
    char out_iso[SL_RFC3339_LEN + 1];
    char out_shown[SL_LISTINGDATE_LEN + 1];
    sl_logdate_format(t, out_log);
    assert_true(sl_rfc3339_format(t, out_iso));
    assert_true(sl_listingdate_format(t, out_shown));
    assert_string_equal(out_log, log);
    assert_string_equal(out_iso, iso);
    assert_string_equal(out_shown, shown);
}

static void test_other_formats_of_rfc_example(void **state)
{
    assert_other_formats(RFC_EXAMPLE, "06/Nov/1994:08:49:37 +0000", "1994-11-06T08:49:37Z",
                         "1994-11-06 08:49");
}

static void test_other_formats_at_the_ends_of_four_digit_years(void **state)
{
    assert_other_formats((time_t)-62167219200LL, "01/Jan/0000:00:00:00 +0000",
                         "0000-01-01T00:00:00Z", "0000-01-01 00:00");
    assert_other_formats((time_t)253402300799LL, "31/Dec/9999:23:59:59 +0000",
                         "9999-12-31T23:59:59Z", "9999-12-31 23:59");
}

/* Every day from 1900 to 2200 at a changing time of day, and some far years, match what
 * gmtime_r and snprintf write. */
static void test_other_formats_match_gmtime_and_snprintf(void **state)
{
    char log[64], iso[64], shown[64];
    for (int64_t t = -2208988800LL; t < 7258118400LL; t += 86400 + 3671) {
        reference_formats((time_t)t, log, iso, shown);
        assert_other_formats((time_t)t, log, iso, shown);
    }
    for (int64_t t = -62167219200LL; t < 253402300799LL; t += 9876543211LL) {
        reference_formats((time_t)t, log, iso, shown);
        assert_other_formats((time_t)t, log, iso, shown);
    }
}

static void test_logdate_clamps_to_four_digit_years(void **state)
{
    char out[SL_LOGDATE_LEN + 1];
    sl_logdate_format((time_t)INT64_MAX, out);
    assert_string_equal(out, "31/Dec/9999:23:59:59 +0000");
    sl_logdate_format((time_t)INT64_MIN, out);
    assert_string_equal(out, "01/Jan/0000:00:00:00 +0000");
}

/* RFC 3339 has no form for other years, so the listing shows no date for them. */
static void test_listing_formats_refuse_years_past_four_digits(void **state)
{
    const time_t outside[] = {(time_t)-62167219201LL, (time_t)253402300800LL, (time_t)INT64_MIN,
                              (time_t)INT64_MAX};
    for (size_t i = 0; i < sizeof(outside) / sizeof(outside[0]); i++) {
        char iso[SL_RFC3339_LEN + 1] = "untouched";
        char shown[SL_LISTINGDATE_LEN + 1] = "untouched";
        assert_false(sl_rfc3339_format(outside[i], iso));
        assert_false(sl_listingdate_format(outside[i], shown));
        assert_string_equal(iso, "untouched");
        assert_string_equal(shown, "untouched");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_leap_second_at_end_of_9999_is_rejected),
        cmocka_unit_test(test_format_rfc_example),
        cmocka_unit_test(test_format_epoch),
        cmocka_unit_test(test_format_last_second_of_day),
        cmocka_unit_test(test_format_before_epoch),
        cmocka_unit_test(test_format_leap_day_2000),
        cmocka_unit_test(test_format_after_2038),
        cmocka_unit_test(test_format_clamps_to_four_digit_years),
        cmocka_unit_test(test_parse_imf_fixdate),
        cmocka_unit_test(test_parse_rfc850_date),
        cmocka_unit_test(test_parse_rfc850_every_day_name),
        cmocka_unit_test(test_parse_rfc850_two_digit_year_pivot_at_70),
        cmocka_unit_test(test_parse_asctime_date_with_space_padded_day),
        cmocka_unit_test(test_parse_asctime_date_with_two_digit_day),
        cmocka_unit_test(test_parse_epoch),
        cmocka_unit_test(test_parse_before_epoch),
        cmocka_unit_test(test_parse_after_2038),
        cmocka_unit_test(test_parse_leap_day_in_leap_years),
        cmocka_unit_test(test_parse_rejects_feb_29_in_common_years),
        cmocka_unit_test(test_parse_rejects_day_past_end_of_month),
        cmocka_unit_test(test_parse_rejects_out_of_range_time_fields),
        cmocka_unit_test(test_parse_accepts_leap_second_as_next_second),
        cmocka_unit_test(test_parse_rejects_wrong_day_name),
        cmocka_unit_test(test_parse_rejects_unknown_names),
        cmocka_unit_test(test_parse_is_case_sensitive),
        cmocka_unit_test(test_parse_rejects_trailing_garbage),
        cmocka_unit_test(test_parse_rejects_leading_whitespace_and_truncation),
        cmocka_unit_test(test_parse_rejects_other_time_zones),
        cmocka_unit_test(test_parse_rejects_non_digits_in_numeric_fields),
        cmocka_unit_test(test_parse_reads_only_len_bytes),
        cmocka_unit_test(test_format_then_parse_round_trips),
        cmocka_unit_test(test_other_formats_of_rfc_example),
        cmocka_unit_test(test_other_formats_at_the_ends_of_four_digit_years),
        cmocka_unit_test(test_other_formats_match_gmtime_and_snprintf),
        cmocka_unit_test(test_logdate_clamps_to_four_digit_years),
        cmocka_unit_test(test_listing_formats_refuse_years_past_four_digits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
