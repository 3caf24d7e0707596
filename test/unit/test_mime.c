/* Unit tests for extension to media type mapping (src/mime.c). */
/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <string.h>

#include "sluice/mime.h"

#define OCTET "application/octet-stream"

static const char *mime(const char *name)
{
    return sl_mime_type(name, strlen(name));
}

struct expect {
    const char *name;
    const char *type;
};

static void assert_all(const struct expect *e, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *got = mime(e[i].name);
        if (strcmp(got, e[i].type) != 0)
            fail_msg("%s: got \"%s\", want \"%s\"", e[i].name, got, e[i].type);
    }
}

static void test_text_types_carry_utf8_charset(void **state)
{
    static const struct expect e[] = {
        {"a.html", "text/html; charset=utf-8"},       {"a.htm", "text/html; charset=utf-8"},
        {"a.css", "text/css; charset=utf-8"},         {"a.js", "text/javascript; charset=utf-8"},
        {"a.mjs", "text/javascript; charset=utf-8"},  {"a.json", "application/json; charset=utf-8"},
        {"a.map", "application/json; charset=utf-8"}, {"a.svg", "image/svg+xml; charset=utf-8"},
        {"a.txt", "text/plain; charset=utf-8"},       {"a.md", "text/markdown; charset=utf-8"},
        {"a.xml", "application/xml; charset=utf-8"},  {"a.csv", "text/csv; charset=utf-8"},
    };
    assert_all(e, sizeof(e) / sizeof(e[0]));
}

static void test_binary_types_have_no_charset(void **state)
{
    static const struct expect e[] = {
        {"a.png", "image/png"},
        {"a.jpg", "image/jpeg"},
        {"a.jpeg", "image/jpeg"},
        {"a.gif", "image/gif"},
        {"a.webp", "image/webp"},
        {"a.avif", "image/avif"},
        {"a.ico", "image/vnd.microsoft.icon"},
        {"a.wasm", "application/wasm"},
        {"a.woff", "font/woff"},
        {"a.woff2", "font/woff2"},
        {"a.ttf", "font/ttf"},
        {"a.otf", "font/otf"},
        {"a.pdf", "application/pdf"},
        {"a.mp4", "video/mp4"},
        {"a.webm", "video/webm"},
        {"a.mp3", "audio/mpeg"},
        {"a.ogg", "audio/ogg"},
        {"a.wav", "audio/wav"},
        {"a.zip", "application/zip"},
        {"a.gz", "application/gzip"},
        {"a.tar", "application/x-tar"},
        {"a.br", "application/x-brotli"},
        {"a.zst", "application/zstd"},
    };
    assert_all(e, sizeof(e) / sizeof(e[0]));
}

/* Every entry of the table, including the first and last, so that a table that falls
 * out of sorted order (and so out of reach of the binary search) fails here. */
static void test_every_table_entry_is_found(void **state)
{
    static const struct expect e[] = {
        {"a.7z", "application/x-7z-compressed"},
        {"a.aac", "audio/aac"},
        {"a.apng", "image/apng"},
        {"a.atom", "application/atom+xml; charset=utf-8"},
        {"a.avif", "image/avif"},
        {"a.bmp", "image/bmp"},
        {"a.br", "application/x-brotli"},
        {"a.bz2", "application/x-bzip2"},
        {"a.css", "text/css; charset=utf-8"},
        {"a.csv", "text/csv; charset=utf-8"},
        {"a.epub", "application/epub+zip"},
        {"a.flac", "audio/flac"},
        {"a.gif", "image/gif"},
        {"a.gz", "application/gzip"},
        {"a.htm", "text/html; charset=utf-8"},
        {"a.html", "text/html; charset=utf-8"},
        {"a.ico", "image/vnd.microsoft.icon"},
        {"a.ics", "text/calendar; charset=utf-8"},
        {"a.jpeg", "image/jpeg"},
        {"a.jpg", "image/jpeg"},
        {"a.js", "text/javascript; charset=utf-8"},
        {"a.json", "application/json; charset=utf-8"},
        {"a.jsonld", "application/ld+json; charset=utf-8"},
        {"a.jxl", "image/jxl"},
        {"a.m4a", "audio/mp4"},
        {"a.map", "application/json; charset=utf-8"},
        {"a.md", "text/markdown; charset=utf-8"},
        {"a.mjs", "text/javascript; charset=utf-8"},
        {"a.mov", "video/quicktime"},
        {"a.mp3", "audio/mpeg"},
        {"a.mp4", "video/mp4"},
        {"a.oga", "audio/ogg"},
        {"a.ogg", "audio/ogg"},
        {"a.ogv", "video/ogg"},
        {"a.opus", "audio/ogg"},
        {"a.otf", "font/otf"},
        {"a.pdf", "application/pdf"},
        {"a.png", "image/png"},
        {"a.rss", "application/rss+xml; charset=utf-8"},
        {"a.svg", "image/svg+xml; charset=utf-8"},
        {"a.tar", "application/x-tar"},
        {"a.tif", "image/tiff"},
        {"a.tiff", "image/tiff"},
        {"a.ttf", "font/ttf"},
        {"a.txt", "text/plain; charset=utf-8"},
        {"a.wasm", "application/wasm"},
        {"a.wav", "audio/wav"},
        {"a.webm", "video/webm"},
        {"a.webmanifest", "application/manifest+json; charset=utf-8"},
        {"a.webp", "image/webp"},
        {"a.woff", "font/woff"},
        {"a.woff2", "font/woff2"},
        {"a.xhtml", "application/xhtml+xml; charset=utf-8"},
        {"a.xml", "application/xml; charset=utf-8"},
        {"a.xz", "application/x-xz"},
        {"a.zip", "application/zip"},
        {"a.zst", "application/zstd"},
    };
    assert_all(e, sizeof(e) / sizeof(e[0]));
}

static void test_extension_match_is_case_insensitive(void **state)
{
    assert_string_equal(mime("INDEX.HTML"), "text/html; charset=utf-8");
    assert_string_equal(mime("photo.JpG"), "image/jpeg");
    assert_string_equal(mime("font.WOFF2"), "font/woff2");
}

static void test_only_the_last_extension_counts(void **state)
{
    assert_string_equal(mime("a.tar.gz"), "application/gzip");
    assert_string_equal(mime("app.js.br"), "application/x-brotli");
    assert_string_equal(mime("page.html.bak"), OCTET);
}

static void test_unknown_extension_is_octet_stream(void **state)
{
    assert_string_equal(mime("a.exe"), OCTET);
    assert_string_equal(mime("a.htmlx"), OCTET);
    assert_string_equal(mime("a.ht"), OCTET);
    assert_string_equal(mime("a.h"), OCTET);
    assert_string_equal(mime("a.zzzz"), OCTET);
    assert_string_equal(mime("a.0"), OCTET);
}

static void test_missing_extension_is_octet_stream(void **state)
{
    assert_string_equal(mime("Makefile"), OCTET);
    assert_string_equal(mime(""), OCTET);
    assert_string_equal(mime("README."), OCTET);
    assert_string_equal(mime("/"), OCTET);
}

static void test_leading_dot_of_hidden_file_is_not_an_extension(void **state)
{
    assert_string_equal(mime(".bashrc"), OCTET);
    assert_string_equal(mime(".html"), OCTET);
    assert_string_equal(mime("dir/.css"), OCTET);
    assert_string_equal(mime("/srv/www/.json"), OCTET);
}

static void test_hidden_file_with_extension_uses_it(void **state)
{
    assert_string_equal(mime(".config.json"), "application/json; charset=utf-8");
    assert_string_equal(mime("dir/.site.css"), "text/css; charset=utf-8");
}

static void test_dot_in_directory_name_does_not_count(void **state)
{
    assert_string_equal(mime("dir.html/file"), OCTET);
    assert_string_equal(mime("v1.2/README"), OCTET);
    assert_string_equal(mime("a.css/"), OCTET);
    assert_string_equal(mime("static.d/app.js"), "text/javascript; charset=utf-8");
}

static void test_paths_use_last_segment(void **state)
{
    assert_string_equal(mime("/var/www/index.html"), "text/html; charset=utf-8");
    assert_string_equal(mime("a/b/c/d.png"), "image/png");
}

static void test_only_len_bytes_are_read(void **state)
{
    const char name[] = "index.html.gz";
    assert_string_equal(sl_mime_type(name, 10), "text/html; charset=utf-8");
    assert_string_equal(sl_mime_type(name, 8), OCTET); /* "index.ht" */
    assert_string_equal(sl_mime_type(name, 0), OCTET);
}

static void test_embedded_nul_does_not_match(void **state)
{
    const char name[] = "a.js\0x";
    assert_string_equal(sl_mime_type(name, sizeof(name) - 1), OCTET);
    const char name2[] = "a.j\0s";
    assert_string_equal(sl_mime_type(name2, sizeof(name2) - 1), OCTET);
}

static void test_very_long_extension_is_octet_stream(void **state)
{
    assert_string_equal(mime("a.htmlhtmlhtmlhtmlhtmlhtmlhtmlhtmlhtmlhtml"), OCTET);
}

static void test_null_name_is_octet_stream(void **state)
{
    assert_string_equal(sl_mime_type(NULL, 0), OCTET);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_types_carry_utf8_charset),
        cmocka_unit_test(test_binary_types_have_no_charset),
        cmocka_unit_test(test_every_table_entry_is_found),
        cmocka_unit_test(test_extension_match_is_case_insensitive),
        cmocka_unit_test(test_only_the_last_extension_counts),
        cmocka_unit_test(test_unknown_extension_is_octet_stream),
        cmocka_unit_test(test_missing_extension_is_octet_stream),
        cmocka_unit_test(test_leading_dot_of_hidden_file_is_not_an_extension),
        cmocka_unit_test(test_hidden_file_with_extension_uses_it),
        cmocka_unit_test(test_dot_in_directory_name_does_not_count),
        cmocka_unit_test(test_paths_use_last_segment),
        cmocka_unit_test(test_only_len_bytes_are_read),
        cmocka_unit_test(test_embedded_nul_does_not_match),
        cmocka_unit_test(test_very_long_extension_is_octet_stream),
        cmocka_unit_test(test_null_name_is_octet_stream),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
