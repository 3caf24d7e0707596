/* Unit tests for extension to media type mapping (src/mime.c). */
/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
        {"a.xml", "application/xml; charset=utf-8"},  {"a.csv", "text/plain; charset=utf-8"},
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
        {"a.avi", "video/x-msvideo"},
        {"a.avif", "image/avif"},
        {"a.bmp", "image/bmp"},
        {"a.br", "application/x-brotli"},
        {"a.bz2", "application/x-bzip2"},
        {"a.c", "text/x-csrc; charset=utf-8"},
        {"a.cfg", "text/plain; charset=utf-8"},
        {"a.cjs", "text/javascript; charset=utf-8"},
        {"a.conf", "text/plain; charset=utf-8"},
        {"a.css", "text/css; charset=utf-8"},
        {"a.csv", "text/plain; charset=utf-8"},
        {"a.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
        {"a.eot", "application/vnd.ms-fontobject"},
        {"a.epub", "application/epub+zip"},
        {"a.flac", "audio/flac"},
        {"a.geojson", "application/geo+json; charset=utf-8"},
        {"a.gif", "image/gif"},
        {"a.glb", "model/gltf-binary"},
        {"a.gltf", "model/gltf+json; charset=utf-8"},
        {"a.go", "text/plain; charset=utf-8"},
        {"a.gz", "application/gzip"},
        {"a.h", "text/x-chdr; charset=utf-8"},
        {"a.heic", "image/heic"},
        {"a.heif", "image/heif"},
        {"a.htm", "text/html; charset=utf-8"},
        {"a.html", "text/html; charset=utf-8"},
        {"a.ico", "image/vnd.microsoft.icon"},
        {"a.ics", "text/calendar; charset=utf-8"},
        {"a.ini", "text/plain; charset=utf-8"},
        {"a.java", "text/x-java; charset=utf-8"},
        {"a.jpeg", "image/jpeg"},
        {"a.jpg", "image/jpeg"},
        {"a.js", "text/javascript; charset=utf-8"},
        {"a.json", "application/json; charset=utf-8"},
        {"a.jsonl", "text/plain; charset=utf-8"},
        {"a.jsonld", "application/ld+json; charset=utf-8"},
        {"a.jsx", "text/plain; charset=utf-8"},
        {"a.jxl", "image/jxl"},
        {"a.log", "text/plain; charset=utf-8"},
        {"a.m3u8", "application/vnd.apple.mpegurl"},
        {"a.m4a", "audio/mp4"},
        {"a.map", "application/json; charset=utf-8"},
        {"a.markdown", "text/markdown; charset=utf-8"},
        {"a.md", "text/markdown; charset=utf-8"},
        {"a.mjs", "text/javascript; charset=utf-8"},
        {"a.mkv", "video/x-matroska"},
        {"a.mov", "video/quicktime"},
        {"a.mp3", "audio/mpeg"},
        {"a.mp4", "video/mp4"},
        {"a.ndjson", "text/plain; charset=utf-8"},
        {"a.odp", "application/vnd.oasis.opendocument.presentation"},
        {"a.ods", "application/vnd.oasis.opendocument.spreadsheet"},
        {"a.odt", "application/vnd.oasis.opendocument.text"},
        {"a.oga", "audio/ogg"},
        {"a.ogg", "audio/ogg"},
        {"a.ogv", "video/ogg"},
        {"a.opus", "audio/ogg"},
        {"a.otf", "font/otf"},
        {"a.pdf", "application/pdf"},
        {"a.pl", "text/x-perl; charset=utf-8"},
        {"a.png", "image/png"},
        {"a.pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"},
        {"a.py", "text/x-python; charset=utf-8"},
        {"a.rb", "text/plain; charset=utf-8"},
        {"a.rs", "text/plain; charset=utf-8"},
        {"a.rss", "application/rss+xml; charset=utf-8"},
        {"a.rst", "text/prs.fallenstein.rst; charset=utf-8"},
        {"a.sh", "text/x-sh; charset=utf-8"},
        {"a.svg", "image/svg+xml; charset=utf-8"},
        {"a.svgz", "image/svg+xml; charset=utf-8"},
        {"a.tar", "application/x-tar"},
        {"a.tgz", "application/gzip"},
        {"a.tif", "image/tiff"},
        {"a.tiff", "image/tiff"},
        {"a.toml", "text/plain; charset=utf-8"},
        {"a.ts", "text/plain; charset=utf-8"},
        {"a.tsv", "text/plain; charset=utf-8"},
        {"a.tsx", "text/plain; charset=utf-8"},
        {"a.ttf", "font/ttf"},
        {"a.txt", "text/plain; charset=utf-8"},
        {"a.vtt", "text/vtt; charset=utf-8"},
        {"a.wasm", "application/wasm"},
        {"a.wav", "audio/wav"},
        {"a.webm", "video/webm"},
        {"a.webmanifest", "application/manifest+json; charset=utf-8"},
        {"a.webp", "image/webp"},
        {"a.woff", "font/woff"},
        {"a.woff2", "font/woff2"},
        {"a.xhtml", "application/xhtml+xml; charset=utf-8"},
        {"a.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
        {"a.xml", "application/xml; charset=utf-8"},
        {"a.xz", "application/x-xz"},
        {"a.yaml", "text/plain; charset=utf-8"},
        {"a.yml", "text/plain; charset=utf-8"},
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
    assert_string_equal(mime("a.hh"), OCTET);
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

/* Chromium downloads application/toml, application/yaml, application/x-ruby, text/csv
 * and the like instead of showing them: source, configuration and text data get a text
 * type it displays. */
static void test_source_and_config_files_get_a_displayable_text_type(void **state)
{
    static const char *const plain[] = {"yaml", "yml", "toml", "ini",   "conf",  "cfg",
                                        "log",  "tsv", "csv",  "rs",    "go",    "rb",
                                        "ts",   "tsx", "jsx",  "jsonl", "ndjson"};
    for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
        char name[32];
        snprintf(name, sizeof(name), "file.%s", plain[i]);
        if (strcmp(mime(name), "text/plain; charset=utf-8") != 0)
            fail_msg("%s: got \"%s\"", name, mime(name));
    }
    static const struct expect e[] = {
        {"a.py", "text/x-python; charset=utf-8"},
        {"a.sh", "text/x-sh; charset=utf-8"},
        {"a.c", "text/x-csrc; charset=utf-8"},
        {"a.h", "text/x-chdr; charset=utf-8"},
        {"a.java", "text/x-java; charset=utf-8"},
        {"a.pl", "text/x-perl; charset=utf-8"},
        {"a.rst", "text/prs.fallenstein.rst; charset=utf-8"},
        {"a.markdown", "text/markdown; charset=utf-8"},
        {"a.vtt", "text/vtt; charset=utf-8"},
        {"a.cjs", "text/javascript; charset=utf-8"},
        {"a.geojson", "application/geo+json; charset=utf-8"},
    };
    assert_all(e, sizeof(e) / sizeof(e[0]));
}

static void test_svgz_is_svg_sent_with_gzip_encoding(void **state)
{
    assert_string_equal(mime("logo.svgz"), "image/svg+xml; charset=utf-8");
    assert_string_equal(sl_mime_encoding("logo.svgz", 9), "gzip");
    assert_string_equal(sl_mime_encoding("LOGO.SVGZ", 9), "gzip");
    assert_null(sl_mime_encoding("logo.svg", 8));
    assert_null(sl_mime_encoding("a.tar.gz", 8)); /* a gzip file is the representation */
    assert_null(sl_mime_encoding("svgz", 4));
    assert_null(sl_mime_encoding(NULL, 0));
}

/* ---- mime.types files ---- */

/* Writes len bytes of text to a temporary file and loads it into t (which may hold an
 * earlier table). */
static void load_file(struct sl_mime_table *t, const char *text, size_t len)
{
    char path[] = "/tmp/sluice-mime-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
    assert_int_equal(sl_mime_load(t, path), 0);
    unlink(path);
}

/* Parses text as the contents of a mime.types file into t. */
static void load(struct sl_mime_table *t, const char *text)
{
    *t = (struct sl_mime_table){0};
    assert_int_equal(sl_mime_parse(t, text, strlen(text)), 0);
}

static const char *lookup(const struct sl_mime_table *t, const char *name)
{
    return sl_mime_lookup(t, name, strlen(name));
}

static void test_mime_types_lines_with_several_extensions_and_comments(void **state)
{
    struct sl_mime_table t;
    load(&t, "# a comment line\n"
             "\n"
             "   # an indented comment: image/x-no nope\n"
             "application/x-foo\tfoo foo2  foo3\n"
             "application/x-bar bar # baz is in a trailing comment\n"
             "application/x-nothing\n");
    assert_int_equal(t.count, 4);
    assert_string_equal(lookup(&t, "a.foo"), "application/x-foo");
    assert_string_equal(lookup(&t, "a.foo2"), "application/x-foo");
    assert_string_equal(lookup(&t, "a.foo3"), "application/x-foo");
    assert_string_equal(lookup(&t, "a.bar"), "application/x-bar");
    assert_string_equal(lookup(&t, "a.baz"), OCTET);
    assert_string_equal(lookup(&t, "a.nope"), OCTET);
    sl_mime_free(&t);
}

static void test_mime_types_later_line_wins_for_the_same_extension(void **state)
{
    struct sl_mime_table t;
    load(&t, "application/x-sh qsh\ntext/x-sh qsh\naudio/x-one dup\naudio/x-two dup\n");
    assert_string_equal(lookup(&t, "run.qsh"), "text/x-sh; charset=utf-8");
    assert_string_equal(lookup(&t, "a.dup"), "audio/x-two");
    assert_int_equal(t.count, 2);
    sl_mime_free(&t);
}

static void test_builtin_entries_win_over_mime_types(void **state)
{
    struct sl_mime_table t;
    /* What Debian's file says for these, which browsers would download or mis-handle. */
    load(&t, "application/rls-services+xml rs\n"
             "text/vnd.trolltech.linguist ts\n"
             "application/x-ruby rb\n"
             "application/octet-stream html css js\n");
    assert_string_equal(lookup(&t, "main.rs"), "text/plain; charset=utf-8");
    assert_string_equal(lookup(&t, "app.ts"), "text/plain; charset=utf-8");
    assert_string_equal(lookup(&t, "x.rb"), "text/plain; charset=utf-8");
    assert_string_equal(lookup(&t, "index.html"), "text/html; charset=utf-8");
    assert_string_equal(lookup(&t, "site.css"), "text/css; charset=utf-8");
    assert_string_equal(lookup(&t, "app.js"), "text/javascript; charset=utf-8");
    sl_mime_free(&t);
}

static void test_mime_types_textual_types_get_utf8_and_others_do_not(void **state)
{
    struct sl_mime_table t;
    load(&t, "text/x-tex tex\napplication/vnd.geo+json gj\napplication/mathml+xml mml\n"
             "application/json jsn\napplication/pgp-signature sig\nimage/x-pcx pcx\n");
    assert_string_equal(lookup(&t, "a.tex"), "text/x-tex; charset=utf-8");
    assert_string_equal(lookup(&t, "a.gj"), "application/vnd.geo+json; charset=utf-8");
    assert_string_equal(lookup(&t, "a.mml"), "application/mathml+xml; charset=utf-8");
    assert_string_equal(lookup(&t, "a.jsn"), "application/json; charset=utf-8");
    assert_string_equal(lookup(&t, "a.sig"), "application/pgp-signature");
    assert_string_equal(lookup(&t, "a.pcx"), "image/x-pcx");
    sl_mime_free(&t);
}

static void test_mime_types_extensions_are_case_insensitive(void **state)
{
    struct sl_mime_table t;
    load(&t, "audio/AMR AMR\naudio/x-up UPPER\n");
    assert_string_equal(lookup(&t, "voice.amr"), "audio/AMR");
    assert_string_equal(lookup(&t, "VOICE.AMR"), "audio/AMR");
    assert_string_equal(lookup(&t, "a.Upper"), "audio/x-up");
    sl_mime_free(&t);
}

static void test_mime_types_garbled_lines_are_skipped_whole(void **state)
{
    struct sl_mime_table t;
    load(&t, "not-a-type one\n"
             "text/ two\n"
             "/plain three\n"
             "te xt/plain four\n"
             "image/x-ok good \xff"
             "bad\n"
             "image/x-ok2 good2 nul\x01"
             "ctl\n"
             "image/x-ok3 fine\n"
             "text/pl\xc3\xa4in five\n");
    assert_int_equal(t.count, 1);
    assert_string_equal(lookup(&t, "a.fine"), "image/x-ok3");
    static const char *const gone[] = {"a.one",  "a.two",   "a.three", "a.four",
                                       "a.good", "a.good2", "a.five"};
    for (size_t i = 0; i < sizeof(gone) / sizeof(gone[0]); i++)
        assert_string_equal(lookup(&t, gone[i]), OCTET);
    sl_mime_free(&t);
}

static void test_mime_types_extensions_no_file_name_ends_in_are_skipped(void **state)
{
    struct sl_mime_table t;
    load(&t, "application/x-tar-like pkg.tar pkg\n"
             "application/x-long abcdefghijklmnopqrstuvwxyzabcdefghij short\n");
    assert_int_equal(t.count, 2);
    assert_string_equal(lookup(&t, "a.pkg"), "application/x-tar-like");
    assert_string_equal(lookup(&t, "a.short"), "application/x-long");
    assert_string_equal(lookup(&t, "a.pkg.tar"), "application/x-tar"); /* built-in */
    sl_mime_free(&t);
}

static void test_mime_types_crlf_and_missing_final_newline(void **state)
{
    struct sl_mime_table t;
    load(&t, "model/x-one one\r\nmodel/x-two two\r\nmodel/x-three three");
    assert_string_equal(lookup(&t, "a.one"), "model/x-one");
    assert_string_equal(lookup(&t, "a.two"), "model/x-two");
    assert_string_equal(lookup(&t, "a.three"), "model/x-three");
    sl_mime_free(&t);
}

static void test_mime_types_embedded_nul_garbles_only_its_line(void **state)
{
    static const char text[] = "video/x-a aaa\nvideo/x-b b\0b\nvideo/x-c ccc\n";
    struct sl_mime_table t = {0};
    load_file(&t, text, sizeof(text) - 1);
    assert_string_equal(lookup(&t, "a.aaa"), "video/x-a");
    assert_string_equal(lookup(&t, "a.b"), OCTET);
    assert_string_equal(lookup(&t, "a.ccc"), "video/x-c");
    sl_mime_free(&t);
}

static void test_mime_types_file_is_read_whole_and_parsed(void **state)
{
    static const char text[] = "# mime.types\nimage/x-a aaa\n\nimage/x-b bbb BBB2";
    struct sl_mime_table t = {0};
    load_file(&t, text, sizeof(text) - 1);
    assert_int_equal(t.count, 3);
    assert_string_equal(lookup(&t, "a.aaa"), "image/x-a");
    assert_string_equal(lookup(&t, "a.bbb2"), "image/x-b");
    sl_mime_free(&t);
}

static void test_mime_types_parse_reads_only_len_bytes(void **state)
{
    const char text[] = "image/x-a aaa\nimage/x-b bbb";
    struct sl_mime_table t = {0};
    assert_int_equal(sl_mime_parse(&t, text, strlen("image/x-a aa")), 0);
    assert_string_equal(lookup(&t, "a.aa"), "image/x-a");
    assert_string_equal(lookup(&t, "a.aaa"), OCTET);
    assert_string_equal(lookup(&t, "a.bbb"), OCTET);
    sl_mime_free(&t);
}

static void test_empty_mime_types_file_gives_an_empty_table(void **state)
{
    struct sl_mime_table t;
    load(&t, "");
    assert_int_equal(t.count, 0);
    assert_string_equal(lookup(&t, "a.png"), "image/png");
    assert_string_equal(lookup(&t, "a.nope"), OCTET);
    sl_mime_free(&t);
}

static void test_missing_mime_types_file_leaves_the_builtin_table(void **state)
{
    struct sl_mime_table t = {0};
    assert_int_equal(sl_mime_load(&t, "/nonexistent/sluice/mime.types"), -ENOENT);
    assert_int_equal(t.count, 0);
    assert_string_equal(lookup(&t, "a.py"), "text/x-python; charset=utf-8");
    assert_string_equal(lookup(&t, "a.docx"),
                        "application/vnd.openxmlformats-officedocument.wordprocessingml.document");
    assert_string_equal(lookup(&t, "a.unknown"), OCTET);
    assert_string_equal(sl_mime_lookup(NULL, "a.py", 4), "text/x-python; charset=utf-8");
    sl_mime_free(&t); /* an empty table frees fine, twice too */
    sl_mime_free(&t);
}

static void test_directory_is_not_a_mime_types_file(void **state)
{
    struct sl_mime_table t = {0};
    assert_int_equal(sl_mime_load(&t, "/tmp"), -EINVAL);
    assert_int_equal(t.count, 0);
}

static void test_reloading_replaces_the_previous_table(void **state)
{
    struct sl_mime_table t;
    load(&t, "image/x-first first\n");
    load_file(&t, "image/x-second second\n", 22);
    assert_string_equal(lookup(&t, "a.first"), OCTET);
    assert_string_equal(lookup(&t, "a.second"), "image/x-second");
    sl_mime_free(&t);
}

/* The file sluice loads in production, where Debian's media-types package installs it. */
static void test_debian_mime_types_loads_and_builtins_still_win(void **state)
{
    struct sl_mime_table t = {0};
    int rc = sl_mime_load(&t, SL_MIME_TYPES_PATH);
    if (rc == -ENOENT)
        skip();
    assert_int_equal(rc, 0);
    assert_true(t.count > 1000);
    for (size_t i = 1; i < t.count; i++)
        assert_true(strcmp(t.entries[i - 1].ext, t.entries[i].ext) < 0);
    assert_string_equal(lookup(&t, "a.rs"), "text/plain; charset=utf-8");
    assert_string_equal(lookup(&t, "a.ts"), "text/plain; charset=utf-8");
    assert_string_equal(lookup(&t, "a.tex"), "text/x-tex; charset=utf-8");
    assert_string_equal(lookup(&t, "a.deb"), "application/vnd.debian.binary-package");
    sl_mime_free(&t);
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
        cmocka_unit_test(test_source_and_config_files_get_a_displayable_text_type),
        cmocka_unit_test(test_svgz_is_svg_sent_with_gzip_encoding),
        cmocka_unit_test(test_mime_types_lines_with_several_extensions_and_comments),
        cmocka_unit_test(test_mime_types_later_line_wins_for_the_same_extension),
        cmocka_unit_test(test_builtin_entries_win_over_mime_types),
        cmocka_unit_test(test_mime_types_textual_types_get_utf8_and_others_do_not),
        cmocka_unit_test(test_mime_types_extensions_are_case_insensitive),
        cmocka_unit_test(test_mime_types_garbled_lines_are_skipped_whole),
        cmocka_unit_test(test_mime_types_extensions_no_file_name_ends_in_are_skipped),
        cmocka_unit_test(test_mime_types_crlf_and_missing_final_newline),
        cmocka_unit_test(test_mime_types_embedded_nul_garbles_only_its_line),
        cmocka_unit_test(test_mime_types_file_is_read_whole_and_parsed),
        cmocka_unit_test(test_mime_types_parse_reads_only_len_bytes),
        cmocka_unit_test(test_empty_mime_types_file_gives_an_empty_table),
        cmocka_unit_test(test_missing_mime_types_file_leaves_the_builtin_table),
        cmocka_unit_test(test_directory_is_not_a_mime_types_file),
        cmocka_unit_test(test_reloading_replaces_the_previous_table),
        cmocka_unit_test(test_debian_mime_types_loads_and_builtins_still_win),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
