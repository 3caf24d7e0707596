/* Unit tests for directory listings (src/listing.c): human-readable sizes, the HTML and
 * JSON renderers on entries built in memory (hostile names included), and
 * sl_listing_read on real temporary directories, including a 10,000-entry timing check. */
/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sluice/listing.h"

/* 2026-11-23 18:52:40 UTC */
#define T_2026 ((time_t)1795459960)

/* ---- helpers ---- */

static struct sl_listing_entry entry(const char *name, bool is_dir, uint64_t size, time_t mtime)
{
    return (struct sl_listing_entry){
        .name = (char *)name,
        .name_len = strlen(name),
        .is_dir = is_dir,
        .size = size,
        .mtime = mtime,
    };
}

static struct sl_listing listing_of(struct sl_listing_entry *entries, size_t count)
{
    return (struct sl_listing){.entries = entries, .count = count, .names = NULL};
}

/* Renders and checks that the reported length is the NUL-terminated length. */
static char *html_of(struct sl_listing_entry *entries, size_t count, const char *path)
{
    struct sl_listing l = listing_of(entries, count);
    size_t len = 0;
    char *html = sl_listing_html(&l, path, &len);
    assert_non_null(html);
    assert_int_equal(len, strlen(html));
    return html;
}

static char *json_of(struct sl_listing_entry *entries, size_t count, const char *path)
{
    struct sl_listing l = listing_of(entries, count);
    size_t len = 0;
    char *json = sl_listing_json(&l, path, &len);
    assert_non_null(json);
    assert_int_equal(len, strlen(json));
    return json;
}

static void expect_human(uint64_t bytes, const char *expected)
{
    char out[16];
    memset(out, 'X', sizeof(out));
    sl_human_size(bytes, out);
    assert_string_equal(out, expected);
}

static size_t count_occurrences(const char *haystack, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(haystack, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    return remove(path);
}

static void make_file(int dirfd, const char *name, off_t size, time_t mtime)
{
    int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, size), 0);
    struct timespec times[2] = {{.tv_sec = mtime}, {.tv_sec = mtime}};
    assert_int_equal(futimens(fd, times), 0);
    assert_int_equal(close(fd), 0);
}

static void make_dir(int dirfd, const char *name)
{
    assert_int_equal(mkdirat(dirfd, name, 0755), 0);
}

/* A fresh temporary directory per sl_listing_read test, removed by the teardown even when
 * the test fails. */
struct tmpdir {
    char path[64];
    int fd;
};

static int tmpdir_setup(void **state)
{
    struct tmpdir *t = malloc(sizeof(*t));
    if (!t)
        return -1;
    strcpy(t->path, "/tmp/sluice-test-listing-XXXXXX");
    if (!mkdtemp(t->path)) {
        free(t);
        return -1;
    }
    t->fd = open(t->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    *state = t;
    return t->fd >= 0 ? 0 : -1;
}

static int tmpdir_teardown(void **state)
{
    struct tmpdir *t = *state;
    if (t->fd >= 0)
        close(t->fd);
    int rc = nftw(t->path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    free(t);
    return rc;
}

static int tmpdir_fd(void **state)
{
    return ((struct tmpdir *)*state)->fd;
}

static double seconds_since(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

/* ---- sl_human_size ---- */

static void test_human_size_zero_is_0_B(void **state)
{
    expect_human(0, "0 B");
}

static void test_human_size_1023_stays_in_bytes(void **state)
{
    expect_human(1023, "1023 B");
}

static void test_human_size_1024_is_1_0_KiB(void **state)
{
    expect_human(1024, "1.0 KiB");
}

static void test_human_size_one_and_a_half_MiB(void **state)
{
    expect_human(1536 * 1024, "1.5 MiB");
    expect_human(1536, "1.5 KiB");
}

static void test_human_size_five_GiB(void **state)
{
    expect_human(5ULL << 30, "5.0 GiB");
}

static void test_human_size_ten_and_above_have_no_decimal(void **state)
{
    expect_human(12ULL << 20, "12 MiB");
    expect_human(10 * 1024, "10 KiB");
    expect_human(1000ULL << 30, "1000 GiB");
}

static void test_human_size_rounds_to_nearest_tenth(void **state)
{
    expect_human(1024 + 51, "1.0 KiB");      /* 1.0498 */
    expect_human(1024 + 52, "1.1 KiB");      /* 1.0508 */
    expect_human(10 * 1024 - 52, "9.9 KiB"); /* 9.949 */
}

static void test_human_size_rounding_carries_to_ten_and_to_next_unit(void **state)
{
    expect_human(10 * 1024 - 51, "10 KiB");      /* 9.950 rounds to 10 */
    expect_human(1024 * 1024 - 1, "1.0 MiB");    /* 1023.999 KiB */
    expect_human(1024 * 1024 - 513, "1023 KiB"); /* 1023.499 KiB */
    expect_human(1024 * 1024 - 512, "1.0 MiB");  /* 1023.5 KiB rounds up */
}

static void test_human_size_largest_value_is_16_EiB(void **state)
{
    expect_human(UINT64_MAX, "16 EiB");
    expect_human(1ULL << 60, "1.0 EiB");
    expect_human(1ULL << 50, "1.0 PiB");
    expect_human(3ULL << 40, "3.0 TiB");
}

/* ---- sl_listing_html ---- */

static void test_html_is_an_html5_page_with_charset_viewport_and_title(void **state)
{
    struct sl_listing_entry e[] = {entry("a.txt", false, 3, T_2026)};
    char *html = html_of(e, 1, "/docs/");
    assert_memory_equal(html, "<!DOCTYPE html>\n", 16);
    assert_non_null(strstr(html, "<meta charset=\"utf-8\">"));
    assert_non_null(
        strstr(html, "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"));
    assert_non_null(strstr(html, "<link rel=\"icon\" href=\"data:,\">"));
    assert_non_null(strstr(html, "<title>Index of /docs/</title>"));
    assert_non_null(strstr(html, "<h1>Index of /docs/</h1>"));
    assert_non_null(strstr(html, "<th>Name</th><th class=\"size\">Size</th>"
                                 "<th class=\"time\">Modified (UTC)</th>"));
    assert_non_null(strstr(html, "<footer>sluice</footer>"));
    assert_string_equal(html + strlen(html) - 8, "</html>\n");
    free(html);
}

static void test_html_has_inline_css_with_dark_mode_and_no_javascript(void **state)
{
    struct sl_listing_entry e[] = {entry("a.txt", false, 3, T_2026)};
    char *html = html_of(e, 1, "/");
    assert_non_null(strstr(html, "<style>"));
    assert_non_null(strstr(html, "@media (prefers-color-scheme:dark)"));
    assert_non_null(strstr(html, ".size{text-align:right}"));
    assert_null(strstr(html, "<script"));
    assert_null(strstr(html, " on")); /* no onclick= or other event handler attributes */
    assert_null(strstr(html, "javascript:"));
    free(html);
}

static void test_html_escapes_script_tag_file_name(void **state)
{
    struct sl_listing_entry e[] = {entry("<script>alert(1)</script>.txt", false, 5, T_2026)};
    char *html = html_of(e, 1, "/");
    assert_null(strstr(html, "<script"));
    assert_non_null(strstr(html, "<a href=\"./%3Cscript%3Ealert(1)%3C%2Fscript%3E.txt\">"
                                 "&lt;script&gt;alert(1)&lt;/script&gt;.txt</a>"));
    free(html);
}

static void test_html_javascript_scheme_name_stays_a_relative_path(void **state)
{
    struct sl_listing_entry e[] = {entry("javascript:alert(1)", false, 5, T_2026)};
    char *html = html_of(e, 1, "/");
    assert_non_null(strstr(html, "<a href=\"./javascript:alert(1)\">javascript:alert(1)</a>"));
    assert_null(strstr(html, "href=\"javascript:"));
    free(html);
}

static void test_html_link_percent_encodes_hash_query_percent_and_space(void **state)
{
    struct sl_listing_entry e[] = {entry("a#b?c%d e.txt", false, 5, T_2026)};
    char *html = html_of(e, 1, "/");
    assert_non_null(strstr(html, "<a href=\"./a%23b%3Fc%25d%20e.txt\">a#b?c%d e.txt</a>"));
    free(html);
}

static void test_html_quote_in_name_cannot_break_out_of_attribute(void **state)
{
    struct sl_listing_entry e[] = {entry("x\" onmouseover=\"alert(1)'.txt", false, 5, T_2026)};
    char *html = html_of(e, 1, "/");
    assert_non_null(strstr(html, "<a href=\"./x%22%20onmouseover=%22alert(1)%27.txt\">"
                                 "x&quot; onmouseover=&quot;alert(1)&#39;.txt</a>"));
    free(html);
}

static void test_html_utf8_name_is_encoded_in_link_and_kept_in_text(void **state)
{
    struct sl_listing_entry e[] = {entry("caf\xc3\xa9.txt", false, 5, T_2026)};
    char *html = html_of(e, 1, "/");
    assert_non_null(strstr(html, "<a href=\"./caf%C3%A9.txt\">caf\xc3\xa9.txt</a>"));
    free(html);
}

static void test_html_directory_row_ends_in_slash_and_shows_dash_for_size(void **state)
{
    struct sl_listing_entry e[] = {entry("my docs", true, 4096, T_2026)};
    char *html = html_of(e, 1, "/");
    assert_non_null(strstr(html, "<tr class=\"dir\"><td class=\"name\">"
                                 "<a href=\"./my%20docs/\">my docs/</a></td>"
                                 "<td class=\"size\">\xe2\x80\x94</td>"));
    free(html);
}

static void test_html_file_row_shows_human_size_and_utc_minute(void **state)
{
    struct sl_listing_entry e[] = {entry("big.iso", false, 1536 * 1024, T_2026)};
    char *html = html_of(e, 1, "/");
    assert_non_null(strstr(html, "<tr><td class=\"name\"><a href=\"./big.iso\">big.iso</a></td>"
                                 "<td class=\"size\" title=\"1572864 bytes\">1.5 MiB</td>"
                                 "<td class=\"time\"><time datetime=\"2026-11-23T18:52:40Z\">"
                                 "2026-11-23 18:52</time></td></tr>\n"));
    free(html);
}

static void test_tar_offer_is_a_link_in_html_and_an_encoded_url_in_json(void **state)
{
    struct sl_listing_entry e[] = {entry("a.txt", false, 1, T_2026)};
    struct sl_listing l = listing_of(e, 1);
    size_t len;
    char *html = sl_listing_html(&l, "/docs/", &len);
    assert_null(strstr(html, "?tar")); /* not offered unless asked */
    free(html);
    char *json = sl_listing_json(&l, "/docs/", &len);
    assert_null(strstr(json, "\"tar\""));
    free(json);

    l.tar = true;
    html = sl_listing_html(&l, "/docs/", &len);
    assert_non_null(
        strstr(html, "</h1>\n<p class=\"tar\"><a href=\"./?tar\" download>Download as .tar</a>"));
    free(html);
    json = sl_listing_json(&l, "/d\xc3\xa9j\xc3\xa0 vu #1/\"x\"/", &len);
    assert_non_null(strstr(json, ",\"tar\":\"/d%C3%A9j%C3%A0%20vu%20%231/%22x%22/?tar\","));
    free(json);
    /* The length measured is the length rendered, offer included. */
    assert_int_equal(sl_listing_body_len(&l, SL_LISTING_JSON, "/a b/"),
                     strlen("{\"path\":\"/a b/\",\"tar\":\"/a%20b/?tar\",\"entries\":[]}") +
                         l.rows_len[SL_LISTING_JSON]);
}

static void test_html_has_parent_link_below_root(void **state)
{
    struct sl_listing_entry e[] = {entry("a.txt", false, 3, T_2026)};
    char *html = html_of(e, 1, "/docs/sub/");
    assert_int_equal(count_occurrences(html, "<a href=\"../\">Parent directory</a>"), 1);
    /* The parent row comes before the first entry. */
    assert_true(strstr(html, "Parent directory") < strstr(html, "a.txt"));
    free(html);
}

static void test_html_has_no_parent_link_at_root(void **state)
{
    struct sl_listing_entry e[] = {entry("a.txt", false, 3, T_2026)};
    char *html = html_of(e, 1, "/");
    assert_null(strstr(html, "Parent directory"));
    assert_null(strstr(html, "href=\"../\""));
    free(html);
}

static void test_html_escapes_url_path_in_title_and_heading(void **state)
{
    char *html = html_of(NULL, 0, "/<b>&\"x\"/");
    assert_non_null(strstr(html, "<title>Index of /&lt;b&gt;&amp;&quot;x&quot;/</title>"));
    assert_non_null(strstr(html, "<h1>Index of /&lt;b&gt;&amp;&quot;x&quot;/</h1>"));
    assert_null(strstr(html, "<b>"));
    free(html);
}

static void test_html_rows_keep_the_listing_order(void **state)
{
    struct sl_listing_entry e[] = {
        entry("zdir", true, 0, T_2026),
        entry("B.txt", false, 1, T_2026),
        entry("a.txt", false, 2, T_2026),
    };
    char *html = html_of(e, 3, "/");
    const char *z = strstr(html, "./zdir/");
    const char *b = strstr(html, "./B.txt");
    const char *a = strstr(html, "./a.txt");
    assert_non_null(z);
    assert_non_null(b);
    assert_non_null(a);
    assert_true(z < b && b < a);
    assert_int_equal(count_occurrences(html, "<tr><td class=\"name\">"), 2);
    assert_int_equal(count_occurrences(html, "<tr class=\"dir\">"), 1);
    free(html);
}

static void test_html_empty_directory_says_so(void **state)
{
    char *html = html_of(NULL, 0, "/empty/");
    assert_non_null(strstr(html, "<td colspan=\"3\">This directory is empty.</td>"));
    assert_non_null(strstr(html, "<a href=\"../\">Parent directory</a>"));
    free(html);
}

/* ---- sl_listing_json ---- */

static void test_json_has_exact_shape_for_directory_and_file(void **state)
{
    struct sl_listing_entry e[] = {
        entry("sub", true, 4096, T_2026),
        entry("a.txt", false, 123, T_2026 + 1),
    };
    char *json = json_of(e, 2, "/docs/");
    assert_string_equal(json, "{\"path\":\"/docs/\",\"entries\":["
                              "{\"name\":\"sub\",\"type\":\"directory\",\"size\":4096,"
                              "\"mtime\":\"2026-11-23T18:52:40Z\"},"
                              "{\"name\":\"a.txt\",\"type\":\"file\",\"size\":123,"
                              "\"mtime\":\"2026-11-23T18:52:41Z\"}]}");
    free(json);
}

static void test_json_empty_directory_has_empty_array(void **state)
{
    char *json = json_of(NULL, 0, "/");
    assert_string_equal(json, "{\"path\":\"/\",\"entries\":[]}");
    free(json);
}

static void test_json_escapes_quote_backslash_controls_and_invalid_utf8(void **state)
{
    struct sl_listing_entry e[] = {entry("q\"b\\n\nt\x01\xff.txt", false, 0, 0)};
    char *json = json_of(e, 1, "/a\"b/");
    assert_string_equal(json, "{\"path\":\"/a\\\"b/\",\"entries\":["
                              "{\"name\":\"q\\\"b\\\\n\\nt\\u0001\xef\xbf\xbd.txt\","
                              "\"type\":\"file\",\"size\":0,"
                              "\"mtime\":\"1970-01-01T00:00:00Z\"}]}");
    free(json);
}

static void test_json_keeps_script_tag_name_as_data(void **state)
{
    struct sl_listing_entry e[] = {entry("<script>alert(1)</script>.txt", false, 7, T_2026)};
    char *json = json_of(e, 1, "/");
    assert_non_null(strstr(json, "{\"name\":\"<script>alert(1)</script>.txt\",\"type\":\"file\""));
    free(json);
}

static void test_json_size_is_exact_byte_count_up_to_uint64_max(void **state)
{
    struct sl_listing_entry e[] = {entry("huge", false, UINT64_MAX, T_2026)};
    char *json = json_of(e, 1, "/");
    assert_non_null(strstr(json, "\"size\":18446744073709551615,"));
    free(json);
}

/* ---- rendering piece by piece ---- */

/* Hostile and ordinary names, a directory, an empty name list: what every body test uses. */
static struct sl_listing_entry mixed[] = {
    {"sub dir", 7, true, 4096, T_2026},
    {"<script>&\"'.txt", 15, false, 1536 * 1024, T_2026},
    {"caf\xc3\xa9 \xff.txt", 11, false, 0, 0},
    {"javascript:alert(1)", 19, false, UINT64_MAX, T_2026},
};

/* Renders every piece into buffers of `cap` bytes the way a streamed body does (a piece
 * that does not fit is taken back and starts the next buffer), joined. */
static char *render_in_buffers(const struct sl_listing *l, enum sl_listing_format f,
                               const char *url_path, size_t cap, size_t *len)
{
    struct sl_buf all;
    sl_buf_init_growing(&all, 1024);
    char *chunk = malloc(cap);
    assert_non_null(chunk);
    size_t piece = 0;
    while (piece < sl_listing_pieces(l)) {
        struct sl_buf b = sl_buf_make(chunk, cap);
        while (piece < sl_listing_pieces(l)) {
            size_t mark = b.len;
            sl_listing_render_piece(l, f, url_path, piece, &b);
            if (b.overflow) {
                sl_buf_truncate(&b, mark);
                break;
            }
            piece++;
        }
        assert_true(b.len > 0); /* every piece fits in an empty buffer of this size */
        sl_buf_append(&all, chunk, b.len);
    }
    free(chunk);
    return sl_buf_take(&all, len);
}

static void check_pieces_make_the_whole_body(struct sl_listing_entry *e, size_t count,
                                             const char *url_path)
{
    struct sl_listing l = listing_of(e, count);
    sl_listing_measure(&l);
    for (int f = 0; f < SL_LISTING_FORMATS; f++) {
        size_t whole_len = 0;
        char *whole = f == SL_LISTING_JSON ? sl_listing_json(&l, url_path, &whole_len)
                                           : sl_listing_html(&l, url_path, &whole_len);
        assert_non_null(whole);
        assert_int_equal(sl_listing_body_len(&l, (enum sl_listing_format)f, url_path), whole_len);
        size_t caps[] = {4096, 16384};
        for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
            size_t len = 0;
            char *joined =
                render_in_buffers(&l, (enum sl_listing_format)f, url_path, caps[i], &len);
            assert_int_equal(len, whole_len);
            assert_memory_equal(joined, whole, len);
            free(joined);
        }
        free(whole);
    }
}

static void
test_pieces_rendered_into_small_buffers_make_the_whole_body_of_exact_length(void **state)
{
    check_pieces_make_the_whole_body(mixed, 4, "/docs/a & b/");
    check_pieces_make_the_whole_body(mixed, 4, "/");
}

static void test_pieces_of_an_empty_listing_make_the_whole_body_of_exact_length(void **state)
{
    check_pieces_make_the_whole_body(NULL, 0, "/empty/");
    check_pieces_make_the_whole_body(NULL, 0, "/");
}

static void test_measure_stores_the_etag_of_each_format(void **state)
{
    struct sl_listing l = listing_of(mixed, 4);
    sl_listing_measure(&l);
    char want[SL_LISTING_ETAG_MAX];
    assert_int_equal(l.etag_len[SL_LISTING_HTML], sl_listing_etag(&l, false, want, sizeof(want)));
    assert_string_equal(l.etag[SL_LISTING_HTML], want);
    assert_int_equal(l.etag_len[SL_LISTING_JSON], sl_listing_etag(&l, true, want, sizeof(want)));
    assert_string_equal(l.etag[SL_LISTING_JSON], want);
}

static void test_url_path_has_both_slashes_and_says_when_it_does_not_fit(void **state)
{
    char out[SL_LISTING_URL_MAX];
    assert_int_equal(sl_listing_url_path("", 0, out, sizeof(out)), 1);
    assert_string_equal(out, "/");
    assert_int_equal(sl_listing_url_path("a/b", 3, out, sizeof(out)), 5);
    assert_string_equal(out, "/a/b/");
    assert_int_equal(sl_listing_url_path("a/b", 3, out, 5), 0);
    assert_int_equal(sl_listing_url_path("a/b", 3, out, 6), 5);
}

/* ---- sl_listing_name_cmp ---- */

static int name_cmp(const char *a, const char *b)
{
    return sl_listing_name_cmp(a, strlen(a), b, strlen(b));
}

/* Checks a < b both ways round, so the result is antisymmetric too. */
static void expect_before(const char *a, const char *b)
{
    int ab = name_cmp(a, b);
    int ba = name_cmp(b, a);
    if (ab >= 0 || ba <= 0)
        print_error("expected \"%s\" before \"%s\" (got %d, %d)\n", a, b, ab, ba);
    assert_true(ab < 0);
    assert_true(ba > 0);
}

static void test_name_cmp_orders_digit_runs_by_value(void **state)
{
    expect_before("chapter2", "chapter10");
    expect_before("9.txt", "10.txt");
    expect_before("x99", "x100");
    expect_before("v1.9.2", "v1.10.0");
    expect_before("img2-b", "img10-a");
    /* Runs longer than any integer type still compare by value. */
    expect_before("x99999999999999999999999999", "x100000000000000000000000000");
    expect_before("x18446744073709551615", "x18446744073709551616");
}

static void test_name_cmp_ignores_ascii_case_so_readme_sits_among_the_rs(void **state)
{
    expect_before("apple", "README");
    expect_before("README", "zebra");
    expect_before("quux", "README");
    expect_before("README", "rust");
    expect_before("a.txt", "B.txt");
    expect_before("B.txt", "c.txt");
}

static void test_name_cmp_breaks_case_ties_by_bytes(void **state)
{
    expect_before("B.txt", "b.txt");
    expect_before("README", "readme");
    expect_before("ReadMe", "readme");
    assert_int_equal(name_cmp("readme", "readme"), 0);
}

static void test_name_cmp_leading_zeros_put_the_shorter_run_first_only_on_a_tie(void **state)
{
    expect_before("1", "01");
    expect_before("01", "001");
    expect_before("x1y", "x01y");
    /* Equal values: what follows decides before the zeros do. */
    expect_before("a01b", "a1c");
    /* Unequal values: the value decides, whatever the zeros. */
    expect_before("007", "8");
    expect_before("0", "00");
}

static void test_name_cmp_prefix_and_punctuation_come_first(void **state)
{
    expect_before("", "a");
    expect_before("a", "a1");
    expect_before("file", "file.txt");
    expect_before("file-1", "file1"); /* '-' is below the digits */
    expect_before("9", "a");
    expect_before("_x", "a"); /* letters fold down, so '_' sorts before them */
}

static void test_name_cmp_non_ascii_bytes_compare_bytewise_after_ascii(void **state)
{
    expect_before("zebra", "\xc3\xa9t\xc3\xa9"); /* é (C3 A9) after every ASCII letter */
    expect_before("\xc3\x89t\xc3\xa9", "\xc3\xa9t\xc3\xa9"); /* É (C3 89): not folded */
    expect_before("a\x7f", "a\x80");
    expect_before("a\xfe", "a\xff");
}

/* Every triple of a mixed set is ordered consistently: antisymmetric, transitive, and 0
 * only for the same name, which is what qsort needs to give one answer. */
static void test_name_cmp_is_a_total_order(void **state)
{
    static const char *const names[] = {
        "",      "0",     "00",     "000",    "1",      "01",       "10",       "2",
        "a",     "A",     "a0",     "a00",    "a1",     "A1",       "a01",      "a01b",
        "a1b",   "A1B",   "a1c",    "a10",    "a9",     "b",        "B",        "_",
        "-",     ".",     "~",      "Z",      "z",      "\xc3\xa9", "\xc3\x89", "x1y2",
        "x01y2", "x1y02", "x01y02", "README", "readme",
    };
    size_t n = sizeof(names) / sizeof(names[0]);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++) {
            int ij = name_cmp(names[i], names[j]);
            assert_int_equal(ij == 0, i == j);
            assert_int_equal(ij<0, name_cmp(names[j], names[i])> 0);
            for (size_t k = 0; k < n; k++) {
                if (ij < 0 && name_cmp(names[j], names[k]) < 0)
                    assert_true(name_cmp(names[i], names[k]) < 0);
            }
        }
    }
}

/* ---- sl_listing_etag ---- */

static void etag_of(struct sl_listing_entry *entries, size_t count, bool json,
                    char out[SL_LISTING_ETAG_MAX])
{
    struct sl_listing l = listing_of(entries, count);
    size_t n = sl_listing_etag(&l, json, out, SL_LISTING_ETAG_MAX);
    assert_int_equal(n, strlen(out));
    assert_true(n > 0);
}

static void test_etag_is_weak_quoted_hex_hash_with_the_format(void **state)
{
    struct sl_listing_entry e[] = {entry("a.txt", false, 3, T_2026)};
    char html[SL_LISTING_ETAG_MAX];
    char json[SL_LISTING_ETAG_MAX];
    etag_of(e, 1, false, html);
    etag_of(e, 1, true, json);
    assert_int_equal(strlen(html), strlen("W/\"0123456789abcdef-html\""));
    assert_memory_equal(html, "W/\"", 3);
    assert_int_equal(strspn(html + 3, "0123456789abcdef"), 16);
    assert_string_equal(html + 19, "-html\"");
    assert_string_equal(json + 19, "-json\"");
    /* Two representations of one directory never share a tag. */
    assert_string_not_equal(html, json);
}

static void test_etag_is_the_same_for_the_same_entries_wherever_they_are(void **state)
{
    char name1[] = "a.txt";
    char name2[] = "a.txt";
    struct sl_listing_entry e1[] = {entry(name1, false, 3, T_2026), entry("sub", true, 0, 0)};
    struct sl_listing_entry e2[] = {entry(name2, false, 3, T_2026), entry("sub", true, 0, 0)};
    char t1[SL_LISTING_ETAG_MAX];
    char t2[SL_LISTING_ETAG_MAX];
    etag_of(e1, 2, false, t1);
    etag_of(e2, 2, false, t2);
    assert_string_equal(t1, t2);
}

/* Any change a reader of the listing could see changes the tag. */
static void test_etag_changes_with_every_field_and_entry(void **state)
{
    struct sl_listing_entry base[] = {entry("a.txt", false, 3, T_2026), entry("b", false, 0, 0)};
    struct sl_listing_entry changed[][2] = {
        {entry("A.txt", false, 3, T_2026), entry("b", false, 0, 0)},     /* name */
        {entry("a.txt", true, 3, T_2026), entry("b", false, 0, 0)},      /* type */
        {entry("a.txt", false, 4, T_2026), entry("b", false, 0, 0)},     /* size */
        {entry("a.txt", false, 3, T_2026 + 1), entry("b", false, 0, 0)}, /* mtime */
        {entry("b", false, 0, 0), entry("a.txt", false, 3, T_2026)},     /* order */
        {entry("a.tx", false, 3, T_2026), entry("tb", false, 0, 0)},     /* name boundary */
    };
    char want[SL_LISTING_ETAG_MAX];
    char got[SL_LISTING_ETAG_MAX];
    etag_of(base, 2, false, want);
    for (size_t i = 0; i < sizeof(changed) / sizeof(changed[0]); i++) {
        etag_of(changed[i], 2, false, got);
        if (strcmp(want, got) == 0)
            print_error("change %zu kept the tag %s\n", i, got);
        assert_string_not_equal(want, got);
    }
    etag_of(base, 1, false, got); /* an entry gone */
    assert_string_not_equal(want, got);
    etag_of(NULL, 0, false, got); /* all gone */
    assert_string_not_equal(want, got);
}

static void test_etag_reports_zero_when_the_buffer_is_too_small(void **state)
{
    struct sl_listing l = listing_of(NULL, 0);
    char out[SL_LISTING_ETAG_MAX];
    size_t n = sl_listing_etag(&l, false, out, sizeof(out));
    assert_int_equal(n, 25);
    assert_int_equal(sl_listing_etag(&l, false, out, n), 0);
    assert_int_equal(sl_listing_etag(&l, false, out, n + 1), n);
}

/* ---- sl_listing_read ---- */

static void test_read_sorts_directories_first_then_naturally(void **state)
{
    int fd = tmpdir_fd(state);
    make_file(fd, "b.txt", 1, T_2026);
    make_file(fd, "B.txt", 1, T_2026);
    make_file(fd, "a.txt", 1, T_2026);
    make_file(fd, "\xc3\xa9.txt", 1, T_2026);
    make_file(fd, "10.txt", 1, T_2026);
    make_file(fd, "9.txt", 1, T_2026);
    make_file(fd, "README", 1, T_2026);
    make_file(fd, "chapter10", 1, T_2026);
    make_file(fd, "chapter2", 1, T_2026);
    make_dir(fd, "zdir");
    make_dir(fd, "Adir");
    make_dir(fd, "bdir");

    struct sl_listing l;
    assert_int_equal(sl_listing_read(fd, -1, "", false, 0, &l), 0);
    const char *expected[] = {"Adir",  "bdir",  "zdir",     "9.txt",     "10.txt", "a.txt",
                              "B.txt", "b.txt", "chapter2", "chapter10", "README", "\xc3\xa9.txt"};
    size_t n = sizeof(expected) / sizeof(expected[0]);
    assert_int_equal(l.count, n);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(l.entries[i].name, expected[i]);
        assert_int_equal(l.entries[i].name_len, strlen(expected[i]));
        assert_int_equal(l.entries[i].is_dir, i < 3);
    }
    sl_listing_free(&l);
}

static void test_read_lists_only_symlinks_that_stay_beneath_the_root(void **state)
{
    /* tmpdir/outside.txt is outside the served root tmpdir/root. */
    int fd = tmpdir_fd(state);
    make_file(fd, "outside.txt", 7, T_2026);
    make_dir(fd, "root");
    int root = openat(fd, "root", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(root >= 0);
    make_dir(root, "dir");
    make_file(root, "inside.txt", 3, T_2026);
    int dir = openat(root, "dir", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(dir >= 0);
    assert_int_equal(symlinkat("../inside.txt", dir, "to-inside"), 0);
    assert_int_equal(symlinkat("../../outside.txt", dir, "to-outside"), 0);
    struct sl_listing l;
    assert_int_equal(sl_listing_read(dir, root, "dir", false, 0, &l), 0);
    assert_int_equal(l.count, 1);
    assert_string_equal(l.entries[0].name, "to-inside");
    assert_int_equal(l.entries[0].size, 3);
    sl_listing_free(&l);
    /* Without a root to check against, both are followed. */
    assert_int_equal(sl_listing_read(dir, -1, "", false, 0, &l), 0);
    assert_int_equal(l.count, 2);
    sl_listing_free(&l);
    close(dir);
    close(root);
}

static void test_read_reports_size_and_mtime(void **state)
{
    int fd = tmpdir_fd(state);
    make_file(fd, "data.bin", 12345, T_2026);

    struct sl_listing l;
    assert_int_equal(sl_listing_read(fd, -1, "", false, 0, &l), 0);
    assert_int_equal(l.count, 1);
    assert_string_equal(l.entries[0].name, "data.bin");
    assert_false(l.entries[0].is_dir);
    assert_int_equal(l.entries[0].size, 12345);
    assert_int_equal(l.entries[0].mtime, T_2026);
    sl_listing_free(&l);
    assert_null(l.entries);
    assert_null(l.names);
    assert_int_equal(l.count, 0);
}

static void test_read_skips_dot_entries_and_dotfiles_unless_asked(void **state)
{
    int fd = tmpdir_fd(state);
    make_file(fd, ".hidden", 1, T_2026);
    make_dir(fd, ".git");
    make_file(fd, "shown", 1, T_2026);

    struct sl_listing l;
    assert_int_equal(sl_listing_read(fd, -1, "", false, 0, &l), 0);
    assert_int_equal(l.count, 1);
    assert_string_equal(l.entries[0].name, "shown");
    sl_listing_free(&l);

    assert_int_equal(sl_listing_read(fd, -1, "", true, 0, &l), 0);
    assert_int_equal(l.count, 3); /* never "." or ".." */
    assert_string_equal(l.entries[0].name, ".git");
    assert_string_equal(l.entries[1].name, ".hidden");
    assert_string_equal(l.entries[2].name, "shown");
    sl_listing_free(&l);
}

static void test_read_follows_symlinks_and_skips_dangling_ones(void **state)
{
    int fd = tmpdir_fd(state);
    make_dir(fd, "real-dir");
    make_file(fd, "real-file", 42, T_2026);
    assert_int_equal(symlinkat("real-dir", fd, "link-dir"), 0);
    assert_int_equal(symlinkat("real-file", fd, "link-file"), 0);
    assert_int_equal(symlinkat("nowhere", fd, "dangling"), 0);

    struct sl_listing l;
    assert_int_equal(sl_listing_read(fd, -1, "", false, 0, &l), 0);
    assert_int_equal(l.count, 4);
    assert_string_equal(l.entries[0].name, "link-dir");
    assert_true(l.entries[0].is_dir);
    assert_string_equal(l.entries[1].name, "real-dir");
    assert_true(l.entries[1].is_dir);
    assert_string_equal(l.entries[2].name, "link-file");
    assert_false(l.entries[2].is_dir);
    assert_int_equal(l.entries[2].size, 42);
    assert_string_equal(l.entries[3].name, "real-file");
    sl_listing_free(&l);
}

static void test_read_leaves_callers_fd_open_and_rereads_from_start(void **state)
{
    int fd = tmpdir_fd(state);
    make_file(fd, "one", 1, T_2026);
    make_file(fd, "two", 1, T_2026);

    struct sl_listing l;
    assert_int_equal(sl_listing_read(fd, -1, "", false, 0, &l), 0);
    assert_int_equal(l.count, 2);
    sl_listing_free(&l);

    /* The caller's descriptor still works, and a second read (sharing the offset the
     * first one moved to the end) still sees everything. */
    assert_true(fcntl(fd, F_GETFD) >= 0);
    assert_int_equal(sl_listing_read(fd, -1, "", false, 0, &l), 0);
    assert_int_equal(l.count, 2);
    assert_string_equal(l.entries[0].name, "one");
    assert_string_equal(l.entries[1].name, "two");
    sl_listing_free(&l);
}

static void test_read_empty_directory_gives_zero_entries(void **state)
{
    int fd = tmpdir_fd(state);

    struct sl_listing l;
    assert_int_equal(sl_listing_read(fd, -1, "", false, 0, &l), 0);
    assert_int_equal(l.count, 0);
    size_t len = 0;
    char *json = sl_listing_json(&l, "/", &len);
    assert_string_equal(json, "{\"path\":\"/\",\"entries\":[]}");
    free(json);
    sl_listing_free(&l);
}

static void test_read_of_regular_file_fails_with_enotdir(void **state)
{
    int dfd = tmpdir_fd(state);
    make_file(dfd, "plain", 1, T_2026);
    int fd = openat(dfd, "plain", O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);

    struct sl_listing l;
    assert_int_equal(sl_listing_read(fd, -1, "", false, 0, &l), -ENOTDIR);
    assert_null(l.entries);
    assert_int_equal(l.count, 0);
    assert_int_equal(close(fd), 0); /* still ours to close */
}

static void test_read_stops_past_max_entries_with_efbig(void **state)
{
    int fd = tmpdir_fd(state);
    make_file(fd, "a", 1, T_2026);
    make_file(fd, "b", 1, T_2026);
    make_file(fd, ".hidden", 1, T_2026); /* not listed, so not counted */

    struct sl_listing l;
    assert_int_equal(sl_listing_read(fd, -1, "", false, 2, &l), 0);
    assert_int_equal(l.count, 2);
    sl_listing_free(&l);
    assert_int_equal(sl_listing_read(fd, -1, "", false, 1, &l), -EFBIG);
    assert_null(l.entries);
    assert_int_equal(sl_listing_read(fd, -1, "", true, 2, &l), -EFBIG);
}

static void test_read_measures_what_it_read(void **state)
{
    int fd = tmpdir_fd(state);
    make_file(fd, "a <b>.txt", 10, T_2026);
    make_dir(fd, "d");

    struct sl_listing l;
    assert_int_equal(sl_listing_read(fd, -1, "", false, 0, &l), 0);
    size_t len = 0;
    char *html = sl_listing_html(&l, "/x/", &len);
    assert_int_equal(sl_listing_body_len(&l, SL_LISTING_HTML, "/x/"), len);
    free(html);
    char *json = sl_listing_json(&l, "/x/", &len);
    assert_int_equal(sl_listing_body_len(&l, SL_LISTING_JSON, "/x/"), len);
    free(json);
    assert_true(l.etag_len[SL_LISTING_HTML] > 0);
    sl_listing_free(&l);
}

static void test_read_and_render_10000_entries_in_under_a_second(void **state)
{
    int fd = tmpdir_fd(state);
    for (int i = 0; i < 10000; i++) {
        char name[64];
        snprintf(name, sizeof(name), "file-%05d <&> %d.txt", 9999 - i, i % 7);
        int f = openat(fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        assert_true(f >= 0);
        close(f);
    }
    for (int i = 0; i < 100; i++) {
        char name[64];
        snprintf(name, sizeof(name), "dir-%03d", i);
        make_dir(fd, name);
    }

    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    struct sl_listing l;
    assert_int_equal(sl_listing_read(fd, -1, "", false, 0, &l), 0);
    size_t html_len = 0;
    size_t json_len = 0;
    char *html = sl_listing_html(&l, "/many/", &html_len);
    char *json = sl_listing_json(&l, "/many/", &json_len);
    double elapsed = seconds_since(&start);

    assert_int_equal(l.count, 10100);
    assert_string_equal(l.entries[0].name, "dir-000");
    assert_string_equal(l.entries[99].name, "dir-099");
    assert_string_equal(l.entries[100].name, "file-00000 <&> 3.txt");
    assert_string_equal(l.entries[10099].name, "file-09999 <&> 0.txt");
    assert_non_null(html);
    assert_non_null(json);
    assert_int_equal(html_len, strlen(html));
    assert_int_equal(json_len, strlen(json));
    assert_int_equal(count_occurrences(html, "<tr><td class=\"name\">"), 10000);
    assert_int_equal(count_occurrences(json, "\"type\":\"file\""), 10000);
    assert_int_equal(count_occurrences(json, "\"type\":\"directory\""), 100);
    print_message("read + HTML + JSON of 10,100 entries: %.1f ms\n", elapsed * 1e3);
    assert_true(elapsed < 1.0);

    free(html);
    free(json);
    sl_listing_free(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_human_size_zero_is_0_B),
        cmocka_unit_test(test_human_size_1023_stays_in_bytes),
        cmocka_unit_test(test_human_size_1024_is_1_0_KiB),
        cmocka_unit_test(test_human_size_one_and_a_half_MiB),
        cmocka_unit_test(test_human_size_five_GiB),
        cmocka_unit_test(test_human_size_ten_and_above_have_no_decimal),
        cmocka_unit_test(test_human_size_rounds_to_nearest_tenth),
        cmocka_unit_test(test_human_size_rounding_carries_to_ten_and_to_next_unit),
        cmocka_unit_test(test_human_size_largest_value_is_16_EiB),
        cmocka_unit_test(test_html_is_an_html5_page_with_charset_viewport_and_title),
        cmocka_unit_test(test_html_has_inline_css_with_dark_mode_and_no_javascript),
        cmocka_unit_test(test_html_escapes_script_tag_file_name),
        cmocka_unit_test(test_html_javascript_scheme_name_stays_a_relative_path),
        cmocka_unit_test(test_html_link_percent_encodes_hash_query_percent_and_space),
        cmocka_unit_test(test_html_quote_in_name_cannot_break_out_of_attribute),
        cmocka_unit_test(test_html_utf8_name_is_encoded_in_link_and_kept_in_text),
        cmocka_unit_test(test_html_directory_row_ends_in_slash_and_shows_dash_for_size),
        cmocka_unit_test(test_html_file_row_shows_human_size_and_utc_minute),
        cmocka_unit_test(test_tar_offer_is_a_link_in_html_and_an_encoded_url_in_json),
        cmocka_unit_test(test_html_has_parent_link_below_root),
        cmocka_unit_test(test_html_has_no_parent_link_at_root),
        cmocka_unit_test(test_html_escapes_url_path_in_title_and_heading),
        cmocka_unit_test(test_html_rows_keep_the_listing_order),
        cmocka_unit_test(test_html_empty_directory_says_so),
        cmocka_unit_test(test_json_has_exact_shape_for_directory_and_file),
        cmocka_unit_test(test_json_empty_directory_has_empty_array),
        cmocka_unit_test(test_json_escapes_quote_backslash_controls_and_invalid_utf8),
        cmocka_unit_test(test_json_keeps_script_tag_name_as_data),
        cmocka_unit_test(test_json_size_is_exact_byte_count_up_to_uint64_max),
        cmocka_unit_test(
            test_pieces_rendered_into_small_buffers_make_the_whole_body_of_exact_length),
        cmocka_unit_test(test_pieces_of_an_empty_listing_make_the_whole_body_of_exact_length),
        cmocka_unit_test(test_measure_stores_the_etag_of_each_format),
        cmocka_unit_test(test_url_path_has_both_slashes_and_says_when_it_does_not_fit),
        cmocka_unit_test(test_name_cmp_orders_digit_runs_by_value),
        cmocka_unit_test(test_name_cmp_ignores_ascii_case_so_readme_sits_among_the_rs),
        cmocka_unit_test(test_name_cmp_breaks_case_ties_by_bytes),
        cmocka_unit_test(test_name_cmp_leading_zeros_put_the_shorter_run_first_only_on_a_tie),
        cmocka_unit_test(test_name_cmp_prefix_and_punctuation_come_first),
        cmocka_unit_test(test_name_cmp_non_ascii_bytes_compare_bytewise_after_ascii),
        cmocka_unit_test(test_name_cmp_is_a_total_order),
        cmocka_unit_test(test_etag_is_weak_quoted_hex_hash_with_the_format),
        cmocka_unit_test(test_etag_is_the_same_for_the_same_entries_wherever_they_are),
        cmocka_unit_test(test_etag_changes_with_every_field_and_entry),
        cmocka_unit_test(test_etag_reports_zero_when_the_buffer_is_too_small),
        cmocka_unit_test_setup_teardown(test_read_sorts_directories_first_then_naturally,
                                        tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_read_lists_only_symlinks_that_stay_beneath_the_root,
                                        tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_read_reports_size_and_mtime, tmpdir_setup,
                                        tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_read_skips_dot_entries_and_dotfiles_unless_asked,
                                        tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_read_follows_symlinks_and_skips_dangling_ones,
                                        tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_read_leaves_callers_fd_open_and_rereads_from_start,
                                        tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_read_empty_directory_gives_zero_entries, tmpdir_setup,
                                        tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_read_of_regular_file_fails_with_enotdir, tmpdir_setup,
                                        tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_read_stops_past_max_entries_with_efbig, tmpdir_setup,
                                        tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_read_measures_what_it_read, tmpdir_setup,
                                        tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_read_and_render_10000_entries_in_under_a_second,
                                        tmpdir_setup, tmpdir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
