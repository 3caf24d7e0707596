/* File name extension to Content-Type: a table sorted by extension, searched by binary
 * search with ASCII case folding (no locale). */
#include "sluice/mime.h"

#include <stdbool.h>

#define OCTET_STREAM "application/octet-stream"
#define UTF8 "; charset=utf-8"

/* Longest extension in the table; anything longer cannot match. */
#define EXT_MAX 16

struct mime_entry {
    const char *ext; /* lower case */
    const char *type;
};

/* Sorted by ext (strcmp order) for the binary search; test_mime looks every entry up.
 * Text types, and the textual application and image types (JSON, XML, SVG), name UTF-8
 * so browsers need not sniff the charset. */
static const struct mime_entry mime_table[] = {
    {"7z", "application/x-7z-compressed"},
    {"aac", "audio/aac"},
    {"apng", "image/apng"},
    {"atom", "application/atom+xml" UTF8},
    {"avif", "image/avif"},
    {"bmp", "image/bmp"},
    {"br", "application/x-brotli"},
    {"bz2", "application/x-bzip2"},
    {"css", "text/css" UTF8},
    {"csv", "text/csv" UTF8},
    {"epub", "application/epub+zip"},
    {"flac", "audio/flac"},
    {"gif", "image/gif"},
    {"gz", "application/gzip"},
    {"htm", "text/html" UTF8},
    {"html", "text/html" UTF8},
    {"ico", "image/vnd.microsoft.icon"},
    {"ics", "text/calendar" UTF8},
    {"jpeg", "image/jpeg"},
    {"jpg", "image/jpeg"},
    {"js", "text/javascript" UTF8},
    {"json", "application/json" UTF8},
    {"jsonld", "application/ld+json" UTF8},
    {"jxl", "image/jxl"},
    {"m4a", "audio/mp4"},
    {"map", "application/json" UTF8},
    {"md", "text/markdown" UTF8},
    {"mjs", "text/javascript" UTF8},
    {"mov", "video/quicktime"},
    {"mp3", "audio/mpeg"},
    {"mp4", "video/mp4"},
    {"oga", "audio/ogg"},
    {"ogg", "audio/ogg"},
    {"ogv", "video/ogg"},
    {"opus", "audio/ogg"},
    {"otf", "font/otf"},
    {"pdf", "application/pdf"},
    {"png", "image/png"},
    {"rss", "application/rss+xml" UTF8},
    {"svg", "image/svg+xml" UTF8},
    {"tar", "application/x-tar"},
    {"tif", "image/tiff"},
    {"tiff", "image/tiff"},
    {"ttf", "font/ttf"},
    {"txt", "text/plain" UTF8},
    {"wasm", "application/wasm"},
    {"wav", "audio/wav"},
    {"webm", "video/webm"},
    {"webmanifest", "application/manifest+json" UTF8},
    {"webp", "image/webp"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"xhtml", "application/xhtml+xml" UTF8},
    {"xml", "application/xml" UTF8},
    {"xz", "application/x-xz"},
    {"zip", "application/zip"},
    {"zst", "application/zstd"},
};

static unsigned char ascii_lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

/* strcmp order between ext[0..n) (folded to lower case) and a lower-case table key. */
static int compare_ext(const char *ext, size_t n, const char *key)
{
    size_t i = 0;
    for (; i < n && key[i] != '\0'; i++) {
        unsigned char a = ascii_lower((unsigned char)ext[i]);
        unsigned char b = (unsigned char)key[i];
        if (a != b)
            return a < b ? -1 : 1;
    }
    if (i < n)
        return 1; /* key is a prefix of ext */
    return key[i] == '\0' ? 0 : -1;
}

/* The extension of the last path segment, or false if it has none. A dot that begins
 * the segment marks a hidden file (".bashrc"), not an extension. */
static bool find_extension(const char *name, size_t len, const char **ext, size_t *ext_len)
{
    size_t seg = len;
    while (seg > 0 && name[seg - 1] != '/')
        seg--;
    size_t dot = len;
    while (dot > seg && name[dot - 1] != '.')
        dot--;
    if (dot <= seg + 1) /* no dot, or only the leading one */
        return false;
    *ext = name + dot;
    *ext_len = len - dot;
    return *ext_len > 0;
}

const char *sl_mime_type(const char *name, size_t len)
{
    const char *ext;
    size_t n;
    if (name == NULL || !find_extension(name, len, &ext, &n) || n > EXT_MAX)
        return OCTET_STREAM;

    size_t lo = 0, hi = sizeof(mime_table) / sizeof(mime_table[0]);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = compare_ext(ext, n, mime_table[mid].ext);
        if (c == 0)
            return mime_table[mid].type;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return OCTET_STREAM;
}
