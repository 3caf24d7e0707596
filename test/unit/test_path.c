/* Unit tests for path.c: hostile request-targets must either be refused or resolve to a
 * root-relative path that stays inside the root; ordinary targets resolve as expected. */

/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/path.h"

/* One struct per call: it is 4 KiB, too big to want on cmocka's stack many times over. */
static struct sl_path result;

static int resolve_n(const char *target, size_t len)
{
    memset(&result, 0x5a, sizeof(result));
    return sl_path_resolve(target, len, &result);
}

static int resolve(const char *target)
{
    return resolve_n(target, strlen(target));
}

static void expect_status(const char *target, int status)
{
    assert_int_equal(resolve(target), status);
}

static void expect_rel(const char *target, const char *rel, bool trailing_slash)
{
    assert_int_equal(resolve(target), 0);
    assert_string_equal(result.rel, rel);
    assert_int_equal(result.len, strlen(rel));
    assert_int_equal(result.trailing_slash, trailing_slash);
    assert_int_equal(result.hidden, sl_path_has_hidden_segment(rel, strlen(rel)));
}

/* ---- Climbing above the root ---- */

static void test_dotdot_slash_at_root_is_400(void **state)
{
    expect_status("/../", 400);
}

static void test_bare_dotdot_is_400(void **state)
{
    expect_status("/..", 400);
}

static void test_dotdot_etc_passwd_is_400(void **state)
{
    expect_status("/../etc/passwd", 400);
}

static void test_climb_past_one_segment_is_400(void **state)
{
    expect_status("/a/../../etc", 400);
}

static void test_climb_after_popping_every_segment_is_400(void **state)
{
    expect_status("/a/b/../../..", 400);
}

static void test_climb_with_query_and_fragment_is_400(void **state)
{
    expect_status("/a/../../../etc/passwd?x=1#y", 400);
}

static void test_climb_out_of_well_known_is_400(void **state)
{
    expect_status("/.well-known/../../x", 400);
}

static void test_encoded_dotdot_lower_case_is_400(void **state)
{
    expect_status("/%2e%2e/", 400);
}

static void test_encoded_dotdot_upper_case_is_400(void **state)
{
    expect_status("/%2E%2E/etc/passwd", 400);
}

static void test_half_encoded_dotdot_second_dot_is_400(void **state)
{
    expect_status("/.%2e/", 400);
}

static void test_half_encoded_dotdot_first_dot_is_400(void **state)
{
    expect_status("/%2e./", 400);
}

static void test_encoded_dotdots_after_segment_are_400(void **state)
{
    expect_status("/a/%2e%2e/%2e%2e/x", 400);
}

static void test_absolute_form_climb_is_400(void **state)
{
    expect_status("http://evil/../../etc/passwd", 400);
}

static void test_absolute_form_encoded_climb_is_400(void **state)
{
    expect_status("http://evil/%2e%2e/x", 400);
}

/* ---- Encoded '/', NUL and bad escapes ---- */

static void test_encoded_slash_alone_is_400(void **state)
{
    expect_status("/%2f", 400);
}

static void test_encoded_slash_lower_case_inside_segment_is_400(void **state)
{
    expect_status("/a%2fb", 400);
}

static void test_encoded_slash_upper_case_inside_segment_is_400(void **state)
{
    expect_status("/a%2Fb", 400);
}

static void test_dotdot_with_encoded_slashes_is_400(void **state)
{
    expect_status("/..%2f..%2fetc", 400);
}

static void test_encoded_dotdot_then_encoded_slash_is_400(void **state)
{
    expect_status("/%2e%2e%2f", 400);
}

static void test_encoded_nul_alone_is_400(void **state)
{
    expect_status("/%00", 400);
}

static void test_encoded_nul_before_extension_is_400(void **state)
{
    expect_status("/a%00.html", 400);
}

static void test_raw_nul_byte_in_path_is_400(void **state)
{
    assert_int_equal(resolve_n("/a\0b", 4), 400);
}

static void test_raw_nul_byte_in_query_is_400(void **state)
{
    assert_int_equal(resolve_n("/a?\0", 4), 400);
}

static void test_raw_control_character_is_400(void **state)
{
    expect_status("/a\nb", 400);
}

static void test_raw_space_is_400(void **state)
{
    expect_status("/a b", 400);
}

static void test_lone_percent_is_400(void **state)
{
    expect_status("/%", 400);
}

static void test_percent_with_one_hex_digit_is_400(void **state)
{
    expect_status("/%4", 400);
}

static void test_percent_with_non_hex_first_digit_is_400(void **state)
{
    expect_status("/%g0", 400);
}

static void test_percent_with_non_hex_second_digit_is_400(void **state)
{
    expect_status("/%0g", 400);
}

static void test_percent_with_letters_zz_is_400(void **state)
{
    expect_status("/a/%zz", 400);
}

/* ---- Names that look like dot segments but are not ---- */

static void test_dotdot_with_encoded_backslashes_is_literal_name(void **state)
{
    expect_rel("/..%5c..%5cetc", "..\\..\\etc", false);
    /* It starts with '.', so the router's dotfile rule hides it as well. */
    assert_true(sl_path_has_hidden_segment(result.rel, result.len));
}

static void test_raw_backslash_dotdots_are_one_literal_segment(void **state)
{
    expect_rel("/\\..\\..\\", "\\..\\..\\", false);
}

static void test_backslash_target_without_leading_slash_is_400(void **state)
{
    expect_status("\\..\\..\\", 400);
}

static void test_double_encoded_dotdot_decodes_once_to_literal_name(void **state)
{
    expect_rel("/%252e%252e/", "%2e%2e", true);
}

static void test_overlong_utf8_dots_are_literal_bytes(void **state)
{
    expect_rel("/%c0%ae%c0%ae/", "\xc0\xae\xc0\xae", true);
}

static void test_four_dots_is_literal_name(void **state)
{
    expect_rel("/....", "....", false);
}

static void test_dotdot_prefix_is_literal_name(void **state)
{
    expect_rel("/..a/b..", "..a/b..", false);
}

static void test_three_encoded_dots_is_literal_name(void **state)
{
    expect_rel("/%2e%2e%2e", "...", false);
}

/* ---- Empty and "." segments ---- */

static void test_double_slash_etc_passwd_stays_relative(void **state)
{
    expect_rel("//etc/passwd", "etc/passwd", false);
}

static void test_triple_slash_is_root(void **state)
{
    expect_rel("///", "", true);
}

static void test_repeated_dot_segments_are_root(void **state)
{
    expect_rel("/./././", "", true);
}

static void test_dot_segment_in_middle_is_removed(void **state)
{
    expect_rel("/a/./b", "a/b", false);
}

static void test_single_dot_is_root_in_directory_form(void **state)
{
    expect_rel("/.", "", true);
}

static void test_encoded_single_dot_is_root_in_directory_form(void **state)
{
    expect_rel("/%2e", "", true);
}

static void test_empty_segments_in_middle_collapse(void **state)
{
    expect_rel("/a//b///c", "a/b/c", false);
}

static void test_dotdot_inside_root_pops_one_segment(void **state)
{
    expect_rel("/a/b/../c", "a/c", false);
}

static void test_trailing_dotdot_gives_directory_form(void **state)
{
    expect_rel("/a/b/..", "a", true);
}

static void test_trailing_dot_gives_directory_form(void **state)
{
    expect_rel("/a/b/.", "a/b", true);
}

static void test_dotdot_back_to_root_is_root(void **state)
{
    expect_rel("/a/..", "", true);
}

/* ---- Target forms ---- */

static void test_asterisk_form_is_400(void **state)
{
    expect_status("*", 400);
}

static void test_authority_form_is_400(void **state)
{
    expect_status("example.com:80", 400);
}

static void test_relative_path_is_400(void **state)
{
    expect_status("etc/passwd", 400);
}

static void test_empty_target_is_400(void **state)
{
    assert_int_equal(resolve_n("", 0), 400);
}

static void test_absolute_form_with_empty_authority_is_400(void **state)
{
    expect_status("http:///etc/passwd", 400);
}

static void test_absolute_form_with_other_scheme_is_400(void **state)
{
    expect_status("ftp://host/x", 400);
}

static void test_scheme_without_slashes_is_400(void **state)
{
    expect_status("http:/x", 400);
}

static void test_absolute_form_scheme_is_case_insensitive(void **state)
{
    expect_rel("HTTPS://Host:8443/a/../b", "b", false);
    assert_int_equal(result.raw_path_len, 7);
    assert_memory_equal(result.raw_path, "/a/../b", 7);
}

static void test_absolute_form_without_path_is_root(void **state)
{
    expect_rel("http://host", "", true);
    assert_int_equal(result.raw_path_len, 1);
    assert_memory_equal(result.raw_path, "/", 1);
    assert_null(result.raw_query);
}

static void test_absolute_form_with_userinfo_is_400(void **state)
{
    expect_status("http://user@host/a", 400);
    expect_status("http://user:pass@host:80/a", 400);
    expect_status("http://@host/a", 400);
}

static void test_absolute_form_with_bad_port_or_host_is_400(void **state)
{
    expect_status("http://host:80x/a", 400);
    expect_status("http://ho st/a", 400);
    expect_status("http://[::1/a", 400);
    expect_status("http://host\\evil/a", 400);
}

static void test_absolute_form_with_ip_literal_resolves(void **state)
{
    expect_rel("http://[::1]:8080/a", "a", false);
    expect_rel("http://[v1.x:y]/a", "a", false);
    expect_rel("http://127.0.0.1:/a", "a", false);
}

/* ---- Host (uri-host [ ":" port ]) ---- */

static bool host(const char *s)
{
    /* A heap copy of exactly strlen(s) bytes: AddressSanitizer catches reading past n. */
    size_t n = strlen(s);
    char *copy = malloc(n > 0 ? n : 1);
    assert_non_null(copy);
    memcpy(copy, s, n);
    bool ok = sl_host_valid(copy, n);
    free(copy);
    return ok;
}

static void test_host_names_addresses_and_ports_are_valid(void **state)
{
    const char *good[] = {
        "localhost",
        "example.com",
        "example.com:8080",
        "127.0.0.1",
        "127.0.0.1:",
        "[::1]",
        "[::1]:80",
        "[2001:db8::7]:443",
        "[::ffff:1.2.3.4]",
        "[v7.fe80::a+en1]",
        "xn--bcher-kva.example",
        "a_b~c!$&'()*+,;=",
        "%41%62.test",
        "",
        "EXAMPLE.COM:99999",
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        if (!host(good[i]))
            fail_msg("'%s' should be a valid host", good[i]);
    }
}

static void test_host_with_userinfo_space_slash_or_bad_port_is_invalid(void **state)
{
    const char *bad[] = {
        "user@host", "user:pw@host:80", "@host",          "ho st",  "host/",    "host/path",
        "host:8o",   "host:80:80",      "host:-1",        "[::1",   "::1",      "[::1]x",
        "[::1]:a",   "[fe80::1%eth0]",  "[v.x]",          "[v1.]",  "[vg.x]",   "[1.2.3.4]",
        "host%zz",   "host%4",          "h\xc3\xa9.test", "host\t", "\"host\"",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (host(bad[i]))
            fail_msg("'%s' should not be a valid host", bad[i]);
    }
}

static void test_host_ip_literal_with_nul_is_invalid(void **state)
{
    assert_false(sl_host_valid("[::\0]", 5));
    assert_false(sl_host_valid("[::1\0]", 6));
    assert_false(sl_host_valid("a\0b", 3));
}

static void test_absolute_form_with_query_but_no_path_is_root(void **state)
{
    const char *t = "http://host?x=1";
    expect_rel(t, "", true);
    assert_int_equal(result.raw_path_len, 1);
    assert_memory_equal(result.raw_path, "/", 1);
    assert_ptr_equal(result.raw_query, t + 12);
    assert_int_equal(result.raw_query_len, 3);
}

/* ---- Query and fragment ---- */

static void test_query_with_dotdots_is_ignored(void **state)
{
    const char *t = "/a?x=../../";
    expect_rel(t, "a", false);
    assert_ptr_equal(result.raw_path, t);
    assert_int_equal(result.raw_path_len, 2);
    assert_ptr_equal(result.raw_query, t + 3);
    assert_int_equal(result.raw_query_len, 8);
}

static void test_fragment_with_dotdots_is_ignored(void **state)
{
    expect_rel("/a#../../b", "a", false);
    assert_int_equal(result.raw_path_len, 2);
    assert_null(result.raw_query);
    assert_int_equal(result.raw_query_len, 0);
}

static void test_fragment_ends_query(void **state)
{
    const char *t = "/d%20ir/f?x=1&y=%20#frag";
    expect_rel(t, "d ir/f", false);
    assert_ptr_equal(result.raw_path, t);
    assert_int_equal(result.raw_path_len, 9);
    assert_ptr_equal(result.raw_query, t + 10);
    assert_int_equal(result.raw_query_len, 9);
}

static void test_question_mark_inside_query_belongs_to_query(void **state)
{
    const char *t = "/a?b?c";
    expect_rel(t, "a", false);
    assert_ptr_equal(result.raw_query, t + 3);
    assert_int_equal(result.raw_query_len, 3);
}

static void test_empty_query_is_present_but_empty(void **state)
{
    const char *t = "/a?";
    expect_rel(t, "a", false);
    assert_ptr_equal(result.raw_query, t + 3);
    assert_int_equal(result.raw_query_len, 0);
}

static void test_invalid_escape_in_query_is_not_checked(void **state)
{
    expect_rel("/a?%zz", "a", false);
}

/* ---- Length ---- */

static char *repeat(const char *head, const char *unit, size_t times)
{
    size_t hn = strlen(head);
    size_t un = strlen(unit);
    char *s = malloc(hn + un * times + 1);
    assert_non_null(s);
    memcpy(s, head, hn);
    for (size_t i = 0; i < times; i++)
        memcpy(s + hn + i * un, unit, un);
    s[hn + un * times] = '\0';
    return s;
}

static void test_very_long_path_is_414(void **state)
{
    char *t = repeat("/", "a", 100000);
    expect_status(t, 414);
    free(t);
}

static void test_decoded_length_one_below_limit_is_accepted(void **state)
{
    char *t = repeat("/", "a", SL_PATH_MAX - 2); /* '/' + 4094 bytes = 4095 */
    assert_int_equal(resolve(t), 0);
    assert_int_equal(result.len, SL_PATH_MAX - 2);
    assert_memory_equal(result.rel, t + 1, SL_PATH_MAX - 2);
    assert_int_equal(result.rel[SL_PATH_MAX - 2], '\0');
    free(t);
}

static void test_decoded_length_at_limit_is_414(void **state)
{
    char *t = repeat("/", "a", SL_PATH_MAX - 1); /* 4096 decoded bytes */
    expect_status(t, 414);
    free(t);
}

static void test_length_limit_counts_decoded_not_raw_bytes(void **state)
{
    char *t = repeat("/", "%41", SL_PATH_MAX - 2); /* 12283 raw, 4095 decoded */
    assert_int_equal(resolve(t), 0);
    assert_int_equal(result.len, SL_PATH_MAX - 2);
    assert_int_equal(result.rel[0], 'A');
    free(t);
}

static void test_length_limit_counts_segments_later_removed(void **state)
{
    char *t = repeat("", "/a/..", SL_PATH_MAX / 5 + 1); /* short rel, long path */
    expect_status(t, 414);
    free(t);
}

static void test_long_path_of_trailing_slashes_is_414(void **state)
{
    char *t = repeat("/a", "/", SL_PATH_MAX);
    expect_status(t, 414);
    free(t);
}

/* ---- Ordinary targets ---- */

static void test_root_is_empty_rel_with_trailing_slash(void **state)
{
    const char *t = "/";
    expect_rel(t, "", true);
    assert_ptr_equal(result.raw_path, t);
    assert_int_equal(result.raw_path_len, 1);
    assert_null(result.raw_query);
}

static void test_plain_file_resolves(void **state)
{
    expect_rel("/index.html", "index.html", false);
}

static void test_directory_with_trailing_slash_resolves(void **state)
{
    expect_rel("/a/b/", "a/b", true);
}

static void test_plus_stays_plus(void **state)
{
    expect_rel("/a+b.txt", "a+b.txt", false);
}

static void test_percent_encoded_space_decodes(void **state)
{
    expect_rel("/a%20b", "a b", false);
}

static void test_percent_encoded_utf8_decodes_to_bytes(void **state)
{
    expect_rel("/caf%C3%A9", "caf\xc3\xa9", false);
}

static void test_raw_utf8_bytes_pass_through(void **state)
{
    expect_rel("/\xe6\x97\xa5\xe6\x9c\xac", "\xe6\x97\xa5\xe6\x9c\xac", false);
}

static void test_encoded_percent_decodes_to_literal_percent(void **state)
{
    expect_rel("/100%25", "100%", false);
}

static void test_length_argument_bounds_the_target(void **state)
{
    assert_int_equal(resolve_n("/abc/../../x", 4), 0);
    assert_string_equal(result.rel, "abc");
}

/* An origin-form target that needs no decoding is copied as it is; the same target in
 * absolute form always goes through the full resolution. Both must agree on everything,
 * errors included. */
static void test_plain_targets_resolve_as_the_full_resolution_does(void **state)
{
    static const char *const targets[] = {
        "/",
        "/index.html",
        "/a/b/c.txt",
        "/dir/",
        "/a/b/?q=1#f",
        "/a-b_c~d/e+f,g;h=i!$&'()*",
        "/caf\xc3\xa9.html",
        "/a.b/c..d/e.",
        "/x#y",
        "/x?y#z",
        "/x?",
        "/x/?a/../b",
        "/.well-known/x",
        "/a/.b",
        "/a//b",
        "/a/./b",
        "/a/../b",
        "/a%2fb",
        "/a%41b",
        "/a?b c",
        "/a?b\x7f",
        "/a#b\x01",
        "/a\x7f",
        "/a b",
        "/a\\b",
    };
    static struct sl_path plain;
    for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
        const char *t = targets[i];
        int rc = sl_path_resolve(t, strlen(t), &plain);
        char absolute[64];
        snprintf(absolute, sizeof(absolute), "http://h%s", t);
        assert_int_equal(resolve(absolute), rc);
        assert_string_equal(plain.rel, result.rel);
        assert_int_equal(plain.len, result.len);
        if (rc != 0)
            continue;
        assert_int_equal(plain.trailing_slash, result.trailing_slash);
        assert_int_equal(plain.hidden, result.hidden);
        assert_ptr_equal(plain.raw_path, t);
        assert_int_equal(plain.raw_path_len, result.raw_path_len);
        assert_memory_equal(plain.raw_path, result.raw_path, plain.raw_path_len);
        assert_int_equal(plain.raw_query == NULL, result.raw_query == NULL);
        assert_int_equal(plain.raw_query_len, result.raw_query_len);
        if (plain.raw_query)
            assert_memory_equal(plain.raw_query, result.raw_query, plain.raw_query_len);
    }
}

/* ---- Property: whatever the input, an accepted rel is safe ---- */

static bool rel_is_safe(const char *rel, size_t len)
{
    if (strlen(rel) != len)
        return false;
    if (len == 0)
        return true;
    if (rel[0] == '/' || rel[len - 1] == '/')
        return false;
    size_t i = 0;
    while (i <= len) {
        const char *slash = memchr(rel + i, '/', len - i);
        size_t end = slash != NULL ? (size_t)(slash - rel) : len;
        size_t n = end - i;
        if (n == 0 || (n == 1 && rel[i] == '.') || (n == 2 && rel[i] == '.' && rel[i + 1] == '.'))
            return false;
        i = end + 1;
    }
    return true;
}

static void test_random_targets_never_yield_unsafe_rel(void **state)
{
    static const char alphabet[] = "/./.%2e%2E%2f%5c%00a?#\\";
    uint32_t x = 12345;
    char t[24];
    unsigned accepted = 0;
    for (int iter = 0; iter < 200000; iter++) {
        size_t n = 1;
        t[0] = '/';
        x = x * 1664525u + 1013904223u;
        size_t want = 1 + (x >> 24) % (sizeof(t) - 1);
        while (n < want) {
            x = x * 1664525u + 1013904223u;
            t[n++] = alphabet[(x >> 16) % (sizeof(alphabet) - 1)];
        }
        int rc = resolve_n(t, n);
        if (rc == 0) {
            accepted++;
            assert_true(rel_is_safe(result.rel, result.len));
        } else {
            assert_int_equal(rc, 400);
        }
    }
    /* The alphabet is friendly enough that a good share must be accepted, or the test
     * would prove nothing. */
    assert_true(accepted > 10000);
}

/* ---- Hidden segments ---- */

static void test_resolved_path_says_whether_it_is_hidden(void **state)
{
    expect_rel("/a/.git/config", "a/.git/config", false);
    assert_true(result.hidden);
    expect_rel("/.well-known/acme", ".well-known/acme", false);
    assert_false(result.hidden);
    expect_rel("/a/b.txt?.x", "a/b.txt", false);
    assert_false(result.hidden);
}

static void test_hidden_empty_rel_is_not_hidden(void **state)
{
    assert_false(sl_path_has_hidden_segment("", 0));
}

static void test_hidden_dotfile_at_root_is_hidden(void **state)
{
    assert_true(sl_path_has_hidden_segment(".env", 4));
}

static void test_hidden_dot_directory_deeper_is_hidden(void **state)
{
    assert_true(sl_path_has_hidden_segment("a/.git/config", 13));
}

static void test_hidden_dotfile_as_last_segment_is_hidden(void **state)
{
    assert_true(sl_path_has_hidden_segment("a/b/.htpasswd", 13));
}

static void test_hidden_well_known_first_segment_is_served(void **state)
{
    assert_false(sl_path_has_hidden_segment(".well-known/acme-challenge/tok", 30));
}

static void test_hidden_well_known_alone_is_served(void **state)
{
    assert_false(sl_path_has_hidden_segment(".well-known", 11));
}

static void test_hidden_segment_under_well_known_is_hidden(void **state)
{
    assert_true(sl_path_has_hidden_segment(".well-known/.x", 14));
}

static void test_hidden_well_known_not_first_is_hidden(void **state)
{
    assert_true(sl_path_has_hidden_segment("a/.well-known/x", 15));
}

static void test_hidden_well_known_nested_in_well_known_is_hidden(void **state)
{
    assert_true(sl_path_has_hidden_segment(".well-known/.well-known", 23));
}

static void test_hidden_well_known_with_suffix_is_hidden(void **state)
{
    assert_true(sl_path_has_hidden_segment(".well-knownx/y", 14));
}

static void test_hidden_well_known_prefix_only_is_hidden(void **state)
{
    assert_true(sl_path_has_hidden_segment(".well", 5));
}

static void test_hidden_inner_and_trailing_dots_are_not_hidden(void **state)
{
    assert_false(sl_path_has_hidden_segment("a.b/c./d..e", 11));
}

static void test_hidden_respects_length(void **state)
{
    assert_false(sl_path_has_hidden_segment("a/.git", 2));
}

/* ---- joining a directory and a name ---- */

/* Joins dir and name into the first cap bytes of a larger array and checks the result. */
static void expect_join(const char *dir, const char *name, size_t cap, const char *want)
{
    char out[64];
    memset(out, 'X', sizeof(out));
    assert_true(cap <= sizeof(out));
    size_t n = sl_path_join(out, cap, dir, strlen(dir), name, strlen(name));
    assert_int_equal(n, strlen(want));
    assert_string_equal(out, want);
    if (cap < sizeof(out))
        assert_int_equal(out[cap], 'X'); /* nothing written at or past cap */
}

static void test_join_puts_one_slash_between_dir_and_name(void **state)
{
    expect_join("docs/sub", "a.txt", 64, "docs/sub/a.txt");
}

static void test_join_with_empty_dir_is_the_name_alone(void **state)
{
    expect_join("", "a.txt", 64, "a.txt");
}

static void test_join_that_exactly_fits_with_its_nul_succeeds(void **state)
{
    expect_join("ab", "cd", 6, "ab/cd");
}

static void test_join_one_byte_too_long_returns_0_and_empty_string(void **state)
{
    expect_join("ab", "cd", 5, "");
    expect_join("", "abcde", 5, "");
    expect_join("abcdef", "x", 5, "");
}

static void test_join_into_no_room_returns_0_and_writes_nothing(void **state)
{
    char out = 'X';
    assert_int_equal(sl_path_join(&out, 0, "a", 1, "b", 1), 0);
    assert_int_equal(out, 'X');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dotdot_slash_at_root_is_400),
        cmocka_unit_test(test_bare_dotdot_is_400),
        cmocka_unit_test(test_dotdot_etc_passwd_is_400),
        cmocka_unit_test(test_climb_past_one_segment_is_400),
        cmocka_unit_test(test_climb_after_popping_every_segment_is_400),
        cmocka_unit_test(test_climb_with_query_and_fragment_is_400),
        cmocka_unit_test(test_climb_out_of_well_known_is_400),
        cmocka_unit_test(test_encoded_dotdot_lower_case_is_400),
        cmocka_unit_test(test_encoded_dotdot_upper_case_is_400),
        cmocka_unit_test(test_half_encoded_dotdot_second_dot_is_400),
        cmocka_unit_test(test_half_encoded_dotdot_first_dot_is_400),
        cmocka_unit_test(test_encoded_dotdots_after_segment_are_400),
        cmocka_unit_test(test_absolute_form_climb_is_400),
        cmocka_unit_test(test_absolute_form_encoded_climb_is_400),
        cmocka_unit_test(test_encoded_slash_alone_is_400),
        cmocka_unit_test(test_encoded_slash_lower_case_inside_segment_is_400),
        cmocka_unit_test(test_encoded_slash_upper_case_inside_segment_is_400),
        cmocka_unit_test(test_dotdot_with_encoded_slashes_is_400),
        cmocka_unit_test(test_encoded_dotdot_then_encoded_slash_is_400),
        cmocka_unit_test(test_encoded_nul_alone_is_400),
        cmocka_unit_test(test_encoded_nul_before_extension_is_400),
        cmocka_unit_test(test_raw_nul_byte_in_path_is_400),
        cmocka_unit_test(test_raw_nul_byte_in_query_is_400),
        cmocka_unit_test(test_raw_control_character_is_400),
        cmocka_unit_test(test_raw_space_is_400),
        cmocka_unit_test(test_lone_percent_is_400),
        cmocka_unit_test(test_percent_with_one_hex_digit_is_400),
        cmocka_unit_test(test_percent_with_non_hex_first_digit_is_400),
        cmocka_unit_test(test_percent_with_non_hex_second_digit_is_400),
        cmocka_unit_test(test_percent_with_letters_zz_is_400),
        cmocka_unit_test(test_dotdot_with_encoded_backslashes_is_literal_name),
        cmocka_unit_test(test_raw_backslash_dotdots_are_one_literal_segment),
        cmocka_unit_test(test_backslash_target_without_leading_slash_is_400),
        cmocka_unit_test(test_double_encoded_dotdot_decodes_once_to_literal_name),
        cmocka_unit_test(test_overlong_utf8_dots_are_literal_bytes),
        cmocka_unit_test(test_four_dots_is_literal_name),
        cmocka_unit_test(test_dotdot_prefix_is_literal_name),
        cmocka_unit_test(test_three_encoded_dots_is_literal_name),
        cmocka_unit_test(test_double_slash_etc_passwd_stays_relative),
        cmocka_unit_test(test_triple_slash_is_root),
        cmocka_unit_test(test_repeated_dot_segments_are_root),
        cmocka_unit_test(test_dot_segment_in_middle_is_removed),
        cmocka_unit_test(test_single_dot_is_root_in_directory_form),
        cmocka_unit_test(test_encoded_single_dot_is_root_in_directory_form),
        cmocka_unit_test(test_empty_segments_in_middle_collapse),
        cmocka_unit_test(test_dotdot_inside_root_pops_one_segment),
        cmocka_unit_test(test_trailing_dotdot_gives_directory_form),
        cmocka_unit_test(test_trailing_dot_gives_directory_form),
        cmocka_unit_test(test_dotdot_back_to_root_is_root),
        cmocka_unit_test(test_asterisk_form_is_400),
        cmocka_unit_test(test_authority_form_is_400),
        cmocka_unit_test(test_relative_path_is_400),
        cmocka_unit_test(test_empty_target_is_400),
        cmocka_unit_test(test_absolute_form_with_empty_authority_is_400),
        cmocka_unit_test(test_absolute_form_with_other_scheme_is_400),
        cmocka_unit_test(test_scheme_without_slashes_is_400),
        cmocka_unit_test(test_absolute_form_scheme_is_case_insensitive),
        cmocka_unit_test(test_absolute_form_without_path_is_root),
        cmocka_unit_test(test_absolute_form_with_query_but_no_path_is_root),
        cmocka_unit_test(test_absolute_form_with_userinfo_is_400),
        cmocka_unit_test(test_absolute_form_with_bad_port_or_host_is_400),
        cmocka_unit_test(test_absolute_form_with_ip_literal_resolves),
        cmocka_unit_test(test_host_names_addresses_and_ports_are_valid),
        cmocka_unit_test(test_host_with_userinfo_space_slash_or_bad_port_is_invalid),
        cmocka_unit_test(test_host_ip_literal_with_nul_is_invalid),
        cmocka_unit_test(test_query_with_dotdots_is_ignored),
        cmocka_unit_test(test_fragment_with_dotdots_is_ignored),
        cmocka_unit_test(test_fragment_ends_query),
        cmocka_unit_test(test_question_mark_inside_query_belongs_to_query),
        cmocka_unit_test(test_empty_query_is_present_but_empty),
        cmocka_unit_test(test_invalid_escape_in_query_is_not_checked),
        cmocka_unit_test(test_very_long_path_is_414),
        cmocka_unit_test(test_decoded_length_one_below_limit_is_accepted),
        cmocka_unit_test(test_decoded_length_at_limit_is_414),
        cmocka_unit_test(test_length_limit_counts_decoded_not_raw_bytes),
        cmocka_unit_test(test_length_limit_counts_segments_later_removed),
        cmocka_unit_test(test_long_path_of_trailing_slashes_is_414),
        cmocka_unit_test(test_root_is_empty_rel_with_trailing_slash),
        cmocka_unit_test(test_plain_file_resolves),
        cmocka_unit_test(test_directory_with_trailing_slash_resolves),
        cmocka_unit_test(test_plus_stays_plus),
        cmocka_unit_test(test_percent_encoded_space_decodes),
        cmocka_unit_test(test_percent_encoded_utf8_decodes_to_bytes),
        cmocka_unit_test(test_raw_utf8_bytes_pass_through),
        cmocka_unit_test(test_encoded_percent_decodes_to_literal_percent),
        cmocka_unit_test(test_length_argument_bounds_the_target),
        cmocka_unit_test(test_random_targets_never_yield_unsafe_rel),
        cmocka_unit_test(test_resolved_path_says_whether_it_is_hidden),
        cmocka_unit_test(test_hidden_empty_rel_is_not_hidden),
        cmocka_unit_test(test_hidden_dotfile_at_root_is_hidden),
        cmocka_unit_test(test_hidden_dot_directory_deeper_is_hidden),
        cmocka_unit_test(test_hidden_dotfile_as_last_segment_is_hidden),
        cmocka_unit_test(test_hidden_well_known_first_segment_is_served),
        cmocka_unit_test(test_hidden_well_known_alone_is_served),
        cmocka_unit_test(test_hidden_segment_under_well_known_is_hidden),
        cmocka_unit_test(test_hidden_well_known_not_first_is_hidden),
        cmocka_unit_test(test_hidden_well_known_nested_in_well_known_is_hidden),
        cmocka_unit_test(test_hidden_well_known_with_suffix_is_hidden),
        cmocka_unit_test(test_hidden_well_known_prefix_only_is_hidden),
        cmocka_unit_test(test_hidden_inner_and_trailing_dots_are_not_hidden),
        cmocka_unit_test(test_hidden_respects_length),
        cmocka_unit_test(test_plain_targets_resolve_as_the_full_resolution_does),
        cmocka_unit_test(test_join_puts_one_slash_between_dir_and_name),
        cmocka_unit_test(test_join_with_empty_dir_is_the_name_alone),
        cmocka_unit_test(test_join_that_exactly_fits_with_its_nul_succeeds),
        cmocka_unit_test(test_join_one_byte_too_long_returns_0_and_empty_string),
        cmocka_unit_test(test_join_into_no_room_returns_0_and_writes_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
