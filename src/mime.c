/* File name extension to Content-Type: a built-in table compiled in, and the long tail
 * from a mime.types file read once at start-up. Both are sorted arrays searched with
 * bsearch(3) on a lower-cased copy of the extension (ASCII folding, no locale). */
#include "sluice/mime.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define OCTET_STREAM "application/octet-stream"
#define UTF8 "; charset=utf-8"

/* Longest extension looked up; longer ones cannot match. Debian's mime.types has a few
 * of 20-odd letters ("sarif-external-properties" is the longest without a dot). */
#define EXT_MAX 32

/* A mime.types bigger than this is not one (Debian's is about 60 KB). */
#define FILE_MAX (4u << 20)

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Sorted by ext (strcmp order) for bsearch; test_mime looks every entry up. Text types,
 * and the textual application and image types (JSON, XML, SVG), name UTF-8 so browsers
 * need not sniff the charset.
 *
 * Source code, configuration and text data must display in the browser. Headless
 * Chromium 156 shows a page of any text type but text/csv, text/tab-separated-values and
 * text/calendar, and downloads application types other than JSON, XML, JavaScript and
 * the +json/+xml ones. So these get Debian's text name where it has one (text/x-python),
 * else text/plain: YAML and TOML are registered as application types, mime.types gives
 * .rs and .ts to other formats (RLS services XML, Qt Linguist), and CSV, TSV and JSON
 * lines are shown rather than downloaded (?download still makes an attachment).
 * Calendars stay text/calendar: they are for importing, not reading. */
static const struct sl_mime_entry builtin[] = {
    {"7z", "application/x-7z-compressed"},
    {"aac", "audio/aac"},
    {"apng", "image/apng"},
    {"atom", "application/atom+xml" UTF8},
    {"avi", "video/x-msvideo"},
    {"avif", "image/avif"},
    {"bmp", "image/bmp"},
    {"br", "application/x-brotli"},
    {"bz2", "application/x-bzip2"},
    {"c", "text/x-csrc" UTF8},
    {"cfg", "text/plain" UTF8},
    {"cjs", "text/javascript" UTF8},
    {"conf", "text/plain" UTF8},
    {"css", "text/css" UTF8},
    {"csv", "text/plain" UTF8},
    {"docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
    {"eot", "application/vnd.ms-fontobject"},
    {"epub", "application/epub+zip"},
    {"flac", "audio/flac"},
    {"geojson", "application/geo+json" UTF8},
    {"gif", "image/gif"},
    {"glb", "model/gltf-binary"},
    {"gltf", "model/gltf+json" UTF8},
    {"go", "text/plain" UTF8},
    {"gz", "application/gzip"},
    {"h", "text/x-chdr" UTF8},
    {"heic", "image/heic"},
    {"heif", "image/heif"},
    {"htm", "text/html" UTF8},
    {"html", "text/html" UTF8},
    {"ico", "image/vnd.microsoft.icon"},
    {"ics", "text/calendar" UTF8},
    {"ini", "text/plain" UTF8},
    {"java", "text/x-java" UTF8},
    {"jpeg", "image/jpeg"},
    {"jpg", "image/jpeg"},
    {"js", "text/javascript" UTF8},
    {"json", "application/json" UTF8},
    {"jsonl", "text/plain" UTF8},
    {"jsonld", "application/ld+json" UTF8},
    {"jsx", "text/plain" UTF8},
    {"jxl", "image/jxl"},
    {"log", "text/plain" UTF8},
    {"m3u8", "application/vnd.apple.mpegurl"},
    {"m4a", "audio/mp4"},
    {"map", "application/json" UTF8},
    {"markdown", "text/markdown" UTF8},
    {"md", "text/markdown" UTF8},
    {"mjs", "text/javascript" UTF8},
    {"mkv", "video/x-matroska"},
    {"mov", "video/quicktime"},
    {"mp3", "audio/mpeg"},
    {"mp4", "video/mp4"},
    {"ndjson", "text/plain" UTF8},
    {"odp", "application/vnd.oasis.opendocument.presentation"},
    {"ods", "application/vnd.oasis.opendocument.spreadsheet"},
    {"odt", "application/vnd.oasis.opendocument.text"},
    {"oga", "audio/ogg"},
    {"ogg", "audio/ogg"},
    {"ogv", "video/ogg"},
    {"opus", "audio/ogg"},
    {"otf", "font/otf"},
    {"pdf", "application/pdf"},
    {"pl", "text/x-perl" UTF8},
    {"png", "image/png"},
    {"pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"},
    {"py", "text/x-python" UTF8},
    {"rb", "text/plain" UTF8},
    {"rs", "text/plain" UTF8},
    {"rss", "application/rss+xml" UTF8},
    {"rst", "text/prs.fallenstein.rst" UTF8},
    {"sh", "text/x-sh" UTF8},
    {"svg", "image/svg+xml" UTF8},
    {"svgz", "image/svg+xml" UTF8},
    {"tar", "application/x-tar"},
    {"tgz", "application/gzip"},
    {"tif", "image/tiff"},
    {"tiff", "image/tiff"},
    {"toml", "text/plain" UTF8},
    {"ts", "text/plain" UTF8},
    {"tsv", "text/plain" UTF8},
    {"tsx", "text/plain" UTF8},
    {"ttf", "font/ttf"},
    {"txt", "text/plain" UTF8},
    {"vtt", "text/vtt" UTF8},
    {"wasm", "application/wasm"},
    {"wav", "audio/wav"},
    {"webm", "video/webm"},
    {"webmanifest", "application/manifest+json" UTF8},
    {"webp", "image/webp"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"xhtml", "application/xhtml+xml" UTF8},
    {"xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
    {"xml", "application/xml" UTF8},
    {"xz", "application/x-xz"},
    {"yaml", "text/plain" UTF8},
    {"yml", "text/plain" UTF8},
    {"zip", "application/zip"},
    {"zst", "application/zstd"},
};

static char ascii_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static int compare_ext(const void *a, const void *b)
{
    return strcmp(((const struct sl_mime_entry *)a)->ext, ((const struct sl_mime_entry *)b)->ext);
}

/* The type for a lower-case extension in a sorted table, or NULL. */
static const char *search(const struct sl_mime_entry *table, size_t count, const char *ext)
{
    if (count == 0)
        return NULL; /* an empty table may have a NULL array, which bsearch must not get */
    struct sl_mime_entry key = {.ext = ext};
    const struct sl_mime_entry *e = bsearch(&key, table, count, sizeof(*table), compare_ext);
    return e ? e->type : NULL;
}

/* The lower-cased extension of the last path segment into key, or false if there is
 * none or it cannot be in a table. A dot that begins the segment marks a hidden file
 * (".bashrc"), not an extension. */
static bool extension_key(const char *name, size_t len, char key[EXT_MAX + 1])
{
    if (name == NULL)
        return false;
    size_t seg = len;
    while (seg > 0 && name[seg - 1] != '/')
        seg--;
    size_t dot = len;
    while (dot > seg && name[dot - 1] != '.')
        dot--;
    if (dot <= seg + 1 || dot == len || len - dot > EXT_MAX)
        return false; /* no dot, only the leading one, nothing after it, or too long */
    for (size_t i = dot; i < len; i++) {
        if (name[i] == '\0')
            return false; /* "a.js\0x" must not be taken for "a.js" */
        key[i - dot] = ascii_lower(name[i]);
    }
    key[len - dot] = '\0';
    return true;
}

const char *sl_mime_type(const char *name, size_t len)
{
    return sl_mime_lookup(NULL, name, len);
}

const char *sl_mime_lookup(const struct sl_mime_table *table, const char *name, size_t len)
{
    char key[EXT_MAX + 1];
    if (!extension_key(name, len, key))
        return OCTET_STREAM;
    const char *type = search(builtin, COUNT(builtin), key);
    if (type == NULL && table != NULL)
        type = search(table->entries, table->count, key);
    return type ? type : OCTET_STREAM;
}

const char *sl_mime_encoding(const char *name, size_t len)
{
    char key[EXT_MAX + 1];
    if (extension_key(name, len, key) && strcmp(key, "svgz") == 0)
        return "gzip";
    return NULL;
}

/* ---- loading mime.types ---- */

void sl_mime_free(struct sl_mime_table *table)
{
    free(table->entries);
    free(table->text);
    free(table->types);
    *table = (struct sl_mime_table){0};
}

/* The whole file into a malloc'd buffer: stdio's fread does the read loop. */
static int read_whole(const char *path, char **text, size_t *len)
{
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return -errno;
    struct stat st;
    int rc = fstat(fileno(f), &st) != 0 ? -errno : 0;
    if (rc == 0 && !S_ISREG(st.st_mode))
        rc = -EINVAL;
    if (rc == 0 && st.st_size > FILE_MAX)
        rc = -EFBIG;
    char *buf = rc == 0 ? malloc((size_t)st.st_size + 1) : NULL; /* + 1: never malloc(0) */
    if (rc == 0 && buf == NULL)
        rc = -ENOMEM;
    size_t got = rc == 0 ? fread(buf, 1, (size_t)st.st_size, f) : 0;
    if (rc == 0 && ferror(f))
        rc = -EIO;
    fclose(f);
    if (rc != 0) {
        free(buf);
        return rc;
    }
    *text = buf; /* got < st_size: it shrank meanwhile, so parse what was read */
    *len = got;
    return 0;
}

struct builder {
    struct sl_mime_table *t;
    size_t types_used; /* bytes of t->types filled */
};

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

/* The next whitespace-separated token of the line [*p, end) as tok/n, or false at the
 * line's end or at a '#' that starts a comment. */
static bool next_token(char **p, char *end, char **tok, size_t *n)
{
    char *s = *p;
    while (s < end && is_space(*s))
        s++;
    char *e = s;
    while (e < end && !is_space(*e))
        e++;
    *p = e < end ? e + 1 : e; /* past one separator, which the caller may overwrite */
    *tok = s;
    *n = (size_t)(e - s);
    return s < e && *s != '#';
}

/* RFC 6838 §4.2 restricted-name: a letter or digit, then up to 126 of those or
 * "!#$&-^_.+". */
static bool valid_name(const char *s, size_t n)
{
    if (n == 0 || n > 127)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        if (!alnum && (i == 0 || c == '\0' || strchr("!#$&-^_.+", c) == NULL))
            return false;
    }
    return true;
}

static bool valid_type(const char *s, size_t n)
{
    const char *slash = memchr(s, '/', n);
    return slash && valid_name(s, (size_t)(slash - s)) &&
           valid_name(slash + 1, n - (size_t)(slash - s) - 1);
}

static bool same(const char *s, size_t n, const char *lit)
{
    return n == strlen(lit) && strncasecmp(s, lit, n) == 0;
}

static bool ends_with(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n >= k && strncasecmp(s + n - k, suffix, k) == 0;
}

/* Types browsers decode as text, which sluice labels UTF-8 as it does its own. */
static bool is_textual(const char *type, size_t n)
{
    return (n > 5 && strncasecmp(type, "text/", 5) == 0) || ends_with(type, n, "+json") ||
           ends_with(type, n, "+xml") || same(type, n, "application/json") ||
           same(type, n, "application/xml") || same(type, n, "application/javascript");
}

/* 1: an extension to add; 0: one that a file name can never end in (it has a dot, or is
 * too long), skipped alone; -1: bytes no extension has, so the line is garbled. */
static int classify_ext(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] <= ' ' || s[i] > '~' || s[i] == '/')
            return -1;
    }
    return memchr(s, '.', n) || n > EXT_MAX ? 0 : 1;
}

/* Copies a line's type into t->types, with the charset where it is textual. */
static const char *store_type(struct builder *b, const char *type, size_t n)
{
    char *dst = b->t->types + b->types_used;
    memcpy(dst, type, n);
    size_t extra = is_textual(type, n) ? strlen(UTF8) : 0;
    memcpy(dst + n, UTF8, extra);
    dst[n + extra] = '\0';
    b->types_used += n + extra + 1;
    return dst;
}

/* One line "type ext ext ..."; its extensions are lower-cased and NUL-terminated in
 * place. A garbled extension takes back what the line added. */
static void parse_line(struct builder *b, char *p, char *end)
{
    char *tok;
    size_t n;
    if (!next_token(&p, end, &tok, &n) || !valid_type(tok, n))
        return; /* blank, comment, or no media type */
    size_t mark = b->t->count, used = b->types_used;
    const char *type = store_type(b, tok, n);
    int ok = 1;
    while (ok >= 0 && next_token(&p, end, &tok, &n)) {
        ok = classify_ext(tok, n);
        if (ok <= 0)
            continue;
        for (size_t i = 0; i < n; i++)
            tok[i] = ascii_lower(tok[i]);
        tok[n] = '\0'; /* over the separator after it, or the buffer's final NUL */
        b->t->entries[b->t->count++] = (struct sl_mime_entry){tok, type};
    }
    if (ok < 0 || b->t->count == mark) { /* a garbled extension, or none at all */
        b->t->count = mark;
        b->types_used = used;
    }
}

/* qsort order: by extension, then by line, since a line's type is stored after those of
 * the lines before it (all in one array, so comparing the pointers is defined). */
static int compare_ext_then_line(const void *a, const void *b)
{
    const struct sl_mime_entry *x = a, *y = b;
    int c = strcmp(x->ext, y->ext);
    return c != 0 ? c : (x->type > y->type) - (x->type < y->type);
}

/* Sorts for bsearch and keeps the last line's type for each extension. */
static void sort_and_dedupe(struct sl_mime_table *t)
{
    qsort(t->entries, t->count, sizeof(*t->entries), compare_ext_then_line);
    size_t kept = 0;
    for (size_t i = 0; i < t->count; i++) {
        if (i + 1 < t->count && strcmp(t->entries[i].ext, t->entries[i + 1].ext) == 0)
            continue; /* a later line names this extension again */
        t->entries[kept++] = t->entries[i];
    }
    t->count = kept;
}

/* Room for the worst case, so the parser never grows (and so never moves) anything:
 * every token is at least one byte and one separator, and each line's type is at most
 * the line plus the charset. */
static int allocate(struct sl_mime_table *t, const char *text, size_t len)
{
    size_t lines = 1;
    for (const char *p = text; (p = memchr(p, '\n', len - (size_t)(p - text))); p++)
        lines++;
    t->entries = malloc((len / 2 + 1) * sizeof(*t->entries));
    t->types = malloc(len + lines * sizeof(UTF8));
    return t->entries && t->types ? 0 : -ENOMEM;
}

int sl_mime_parse(struct sl_mime_table *table, const char *text, size_t len)
{
    sl_mime_free(table);
    table->text = malloc(len + 1);
    if (table->text == NULL || allocate(table, text, len) != 0) {
        sl_mime_free(table);
        return -ENOMEM;
    }
    memcpy(table->text, text, len);
    table->text[len] = '\0'; /* the last extension may end the text */
    struct builder b = {.t = table};
    for (char *line = table->text, *end; line < table->text + len; line = end + 1) {
        end = memchr(line, '\n', len - (size_t)(line - table->text));
        if (end == NULL)
            end = table->text + len;
        parse_line(&b, line, end);
    }
    sort_and_dedupe(table);
    return 0;
}

int sl_mime_load(struct sl_mime_table *table, const char *path)
{
    char *text = NULL;
    size_t len = 0;
    int rc = read_whole(path, &text, &len);
    if (rc != 0) {
        sl_mime_free(table);
        return rc;
    }
    rc = sl_mime_parse(table, text, len);
    free(text);
    return rc;
}
