/* Fuzz target for request-target resolution, the router's security boundary: whatever
 * the target, an accepted path must be root-relative and free of empty, "." and ".."
 * segments and of NULs, fit SL_PATH_MAX, point its raw spans into the target, and
 * resolve to itself again once re-encoded. The whole input is the target, and also a
 * Host value: an accepted one never holds userinfo, a path or whitespace. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/path.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_path: invariant failed at line %d: %s\n", __LINE__, #cond);      \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Whether some segment of rel starts with '.', other than a leading ".well-known". */
static bool expect_hidden(const char *rel, size_t len)
{
    size_t i = 0;
    while (i < len) {
        const char *slash = memchr(rel + i, '/', len - i);
        size_t end = slash ? (size_t)(slash - rel) : len;
        if (end > i && rel[i] == '.' &&
            !(i == 0 && end - i == 11 && memcmp(rel, ".well-known", 11) == 0))
            return true;
        i = end + 1;
    }
    return false;
}

static bool within(const char *p, size_t n, const char *base, size_t base_len)
{
    return p >= base && p <= base + base_len && n <= (size_t)(base + base_len - p);
}

static bool unreserved(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '~';
}

static void check_resolved(const struct sl_path *out)
{
    CHECK(out->len < SL_PATH_MAX);
    CHECK(out->rel[out->len] == '\0');
    CHECK(memchr(out->rel, '\0', out->len) == NULL);
    if (out->len == 0) {
        CHECK(out->trailing_slash); /* the root is always in directory form */
        return;
    }
    CHECK(out->rel[0] != '/');
    CHECK(out->rel[out->len - 1] != '/');
    size_t i = 0;
    while (i <= out->len) {
        const char *slash = memchr(out->rel + i, '/', out->len - i);
        size_t end = slash ? (size_t)(slash - out->rel) : out->len;
        size_t n = end - i;
        CHECK(n > 0);
        CHECK(!(n == 1 && out->rel[i] == '.'));
        CHECK(!(n == 2 && out->rel[i] == '.' && out->rel[i + 1] == '.'));
        i = end + 1;
    }
}

/* A Host value sl_host_valid accepts: printable ASCII without '@', '/', '?', '#', '\\'
 * or a space, a port of digits only after a host that is not a bracketed literal. */
static void check_host(const char *h, size_t n)
{
    if (!sl_host_valid(h, n))
        return;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)h[i];
        CHECK(c > ' ' && c < 0x7f);
        CHECK(memchr("@/?#\\\"<>{}|^`", c, 13) == NULL);
    }
    const char *close = n > 0 && h[0] == '[' ? memchr(h, ']', n) : NULL;
    const char *port = memchr(close ? close : h, ':', n - (size_t)((close ? close : h) - h));
    if (port != NULL)
        for (const char *p = port + 1; p < h + n; p++)
            CHECK(*p >= '0' && *p <= '9');
}

/* Percent-encodes rel (every byte but unreserved ones and '/') as an origin-form
 * target; resolving it must give back the same path. */
static void check_reencoded(const struct sl_path *out)
{
    size_t cap = 3 * out->len + 3;
    char *t = malloc(cap);
    if (!t)
        abort();
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    t[n++] = '/';
    for (size_t i = 0; i < out->len; i++) {
        unsigned char c = (unsigned char)out->rel[i];
        if (unreserved(c) || c == '/' || c == '.') {
            t[n++] = (char)c;
        } else {
            t[n++] = '%';
            t[n++] = hex[c >> 4];
            t[n++] = hex[c & 15];
        }
    }
    if (out->trailing_slash && out->len > 0)
        t[n++] = '/';
    struct sl_path *again = malloc(sizeof(*again));
    if (!again)
        abort();
    int rc = sl_path_resolve(t, n, again);
    if (rc != 0)
        fprintf(stderr, "fuzz_path: re-encoded path refused with %d\n", rc);
    CHECK(rc == 0);
    CHECK(again->len == out->len && memcmp(again->rel, out->rel, out->len) == 0);
    CHECK(again->trailing_slash == out->trailing_slash);
    free(again);
    free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Exact-size copy: a read past the target's end is a heap overflow ASan reports. */
    char *target = malloc(size > 0 ? size : 1);
    if (!target)
        return 0;
    if (size > 0)
        memcpy(target, data, size);
    struct sl_path *out = malloc(sizeof(*out));
    if (!out)
        abort();

    int rc = sl_path_resolve(size > 0 ? target : NULL, size, out);
    CHECK(rc == 0 || rc == 400 || rc == 414);
    if (rc == 0) {
        check_resolved(out);
        CHECK(out->raw_path != NULL && out->raw_path_len >= 1 && out->raw_path[0] == '/');
        CHECK(within(out->raw_path, out->raw_path_len, target, size) ||
              (out->raw_path_len == 1 && out->raw_path[0] == '/'));
        if (out->raw_query != NULL)
            CHECK(within(out->raw_query, out->raw_query_len, target, size));
        CHECK(sl_path_has_hidden_segment(out->rel, out->len) == expect_hidden(out->rel, out->len));
        CHECK(out->hidden == expect_hidden(out->rel, out->len));
        check_reencoded(out);
    } else {
        CHECK(out->len == 0 && out->rel[0] == '\0');
    }
    /* Not only on clean paths: any bytes, exact size. */
    CHECK(sl_path_has_hidden_segment(target, size) == expect_hidden(target, size));
    check_host(target, size);

    free(out);
    free(target);
    return 0;
}
