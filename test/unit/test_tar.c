/* Unit tests for tar archives laid out in advance: header blocks and pax records
 * (src/tar.c) checked field by field, offsets and the offset-to-member search, the bytes
 * at any offset against a whole archive assembled in memory, the walk of a real
 * temporary tree (src/tarwalk.c), and the per-loop cache of layouts (src/tarcache.c) on a
 * real libuv loop and thread pool. */
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
#include <unistd.h>

#include "sluice/dircache.h"
#include "sluice/tar.h"
#include "sluice/tarcache.h"
#include "sluice/tarwalk.h"

#define T_2026 ((int64_t)1795459960) /* 2026-11-23 18:52:40 UTC */

/* ---- reading header blocks back ---- */

static uint64_t octal_field(const char *f, size_t width)
{
    uint64_t v = 0;
    for (size_t i = 0; i < width && f[i] >= '0' && f[i] <= '7'; i++)
        v = v * 8 + (uint64_t)(f[i] - '0');
    return v;
}

/* Checks a ustar block's checksum, magic and fixed fields; returns its typeflag. */
static char check_block(const char *b)
{
    unsigned sum = 0;
    for (size_t i = 0; i < SL_TAR_BLOCK; i++)
        sum += (i >= 148 && i < 156) ? ' ' : (unsigned char)b[i];
    assert_int_equal(octal_field(b + 148, 8), sum);
    assert_int_equal(b[148 + 6], '\0');
    assert_int_equal(b[148 + 7], ' ');
    assert_memory_equal(b + 257,
                        "ustar\0"
                        "00",
                        8);
    assert_string_equal(b + 108, "0000000"); /* uid */
    assert_string_equal(b + 116, "0000000"); /* gid */
    assert_int_equal(b[265], '\0');          /* uname */
    assert_int_equal(b[297], '\0');          /* gname */
    return b[156];
}

static struct sl_tar_entry file_entry(const char *path, uint64_t size, int64_t mtime)
{
    return (struct sl_tar_entry){
        .path = path, .path_len = strlen(path), .dir = false, .size = size, .mtime = mtime};
}

/* The records of a pax header's data, as one string (records are text). */
static char *pax_data(const char *head, size_t head_len)
{
    assert_true(head_len >= 3 * SL_TAR_BLOCK);
    assert_int_equal(check_block(head), 'x');
    size_t n = (size_t)octal_field(head + 124, 12);
    assert_int_equal(head_len, 2 * SL_TAR_BLOCK + (n + 511) / 512 * 512);
    char *s = malloc(n + 1);
    memcpy(s, head + SL_TAR_BLOCK, n);
    s[n] = '\0';
    return s;
}

/* ---- headers ---- */

static void test_short_ascii_file_is_one_ustar_block(void **state)
{
    char head[SL_TAR_HEAD_MAX];
    struct sl_tar_entry e = file_entry("site/a.txt", 1234, T_2026);
    assert_int_equal(sl_tar_head_len(&e), SL_TAR_BLOCK);
    assert_int_equal(sl_tar_head(&e, head), SL_TAR_BLOCK);
    assert_int_equal(check_block(head), '0');
    assert_string_equal(head, "site/a.txt");
    assert_string_equal(head + 100, "0000644");
    assert_string_equal(head + 124, "00000002322"); /* 1234 */
    assert_int_equal(octal_field(head + 136, 12), T_2026);
    assert_int_equal(head[136 + 11], '\0');
}

static void test_directory_is_type_5_with_mode_755_and_executable_file_755(void **state)
{
    char head[SL_TAR_HEAD_MAX];
    struct sl_tar_entry d = {.path = "site/sub/", .path_len = 9, .dir = true, .mtime = T_2026};
    sl_tar_head(&d, head);
    assert_int_equal(check_block(head), '5');
    assert_string_equal(head + 100, "0000755");
    assert_string_equal(head + 124, "00000000000");
    struct sl_tar_entry x = file_entry("site/run.sh", 10, T_2026);
    x.exec = true;
    sl_tar_head(&x, head);
    assert_string_equal(head + 100, "0000755");
}

static void test_name_of_exactly_100_bytes_fills_the_field_without_pax(void **state)
{
    char path[101];
    memset(path, 'a', 100);
    path[100] = '\0';
    char head[SL_TAR_HEAD_MAX];
    struct sl_tar_entry e = file_entry(path, 1, T_2026);
    assert_int_equal(sl_tar_head(&e, head), SL_TAR_BLOCK);
    assert_memory_equal(head, path, 100);
    assert_string_equal(head + 100, "0000644"); /* the next field, untouched */
}

static void test_long_name_goes_in_a_pax_path_record_with_a_cut_fallback(void **state)
{
    char path[301];
    for (int i = 0; i < 300; i++)
        path[i] = (char)('a' + i % 26);
    path[300] = '\0';
    char head[SL_TAR_HEAD_MAX];
    struct sl_tar_entry e = file_entry(path, 7, T_2026);
    size_t n = sl_tar_head(&e, head);
    assert_int_equal(n, sl_tar_head_len(&e));
    assert_int_equal(n, 3 * SL_TAR_BLOCK);
    char *pax = pax_data(head, n);
    char want[400];
    snprintf(want, sizeof(want), "310 path=%s\n", path);
    assert_string_equal(pax, want);
    free(pax);
    assert_string_equal(head, "././@PaxHeader");
    const char *ustar = head + n - SL_TAR_BLOCK;
    assert_int_equal(check_block(ustar), '0');
    assert_memory_equal(ustar, path, 100);
    assert_int_equal(octal_field(ustar + 124, 12), 7);
}

static void test_unicode_name_goes_in_pax_and_its_fallback_is_ascii(void **state)
{
    const char *path = "site/caf\xc3\xa9.txt";
    char head[SL_TAR_HEAD_MAX];
    struct sl_tar_entry e = file_entry(path, 1, T_2026);
    size_t n = sl_tar_head(&e, head);
    char *pax = pax_data(head, n);
    assert_string_equal(pax, "23 path=site/caf\xc3\xa9.txt\n");
    free(pax);
    assert_string_equal(head + n - SL_TAR_BLOCK, "site/caf__.txt");
}

static void test_name_that_is_not_utf8_says_hdrcharset_binary_first(void **state)
{
    const char *path = "site/\xff.bin";
    char head[SL_TAR_HEAD_MAX];
    struct sl_tar_entry e = file_entry(path, 1, T_2026);
    char *pax = pax_data(head, sl_tar_head(&e, head));
    assert_string_equal(pax, "21 hdrcharset=BINARY\n19 path=site/\xff.bin\n");
    free(pax);
}

static void test_size_of_8_gib_goes_in_pax_and_one_byte_less_does_not(void **state)
{
    const uint64_t limit = 8ull << 30;
    char head[SL_TAR_HEAD_MAX];
    struct sl_tar_entry e = file_entry("site/big", limit - 1, T_2026);
    assert_int_equal(sl_tar_head(&e, head), SL_TAR_BLOCK);
    assert_string_equal(head + 124, "77777777777");

    e.size = limit;
    size_t n = sl_tar_head(&e, head);
    char *pax = pax_data(head, n);
    assert_string_equal(pax, "19 size=8589934592\n");
    free(pax);
    const char *ustar = head + n - SL_TAR_BLOCK;
    assert_string_equal(ustar, "site/big"); /* short and ASCII: no path record */
    assert_string_equal(ustar + 124, "00000000000");
}

static void test_mtime_before_1970_goes_in_pax(void **state)
{
    char head[SL_TAR_HEAD_MAX];
    struct sl_tar_entry e = file_entry("site/old", 1, -86400);
    char *pax = pax_data(head, sl_tar_head(&e, head));
    assert_string_equal(pax, "16 mtime=-86400\n");
    free(pax);
}

static void test_pax_record_length_counts_its_own_digits_across_every_boundary(void **state)
{
    char value[2000];
    memset(value, 'v', sizeof(value));
    char out[2100];
    for (size_t len = 0; len < sizeof(value); len++) {
        size_t n = sl_tar_pax_record(out, sizeof(out), "path", value, len);
        char *end;
        unsigned long said = strtoul(out, &end, 10);
        assert_int_equal(said, n);
        assert_int_equal(*end, ' ');
        assert_int_equal(n, (size_t)(end - out) + 1 + 5 + len + 1);
        assert_int_equal(out[n - 1], '\n');
    }
    /* Around the boundaries: a record is never 10, 100 or 1,000 bytes long. */
    assert_int_equal(sl_tar_pax_record(out, sizeof(out), "path", value, 0), 8);
    assert_int_equal(sl_tar_pax_record(out, sizeof(out), "path", value, 1), 9);
    assert_int_equal(sl_tar_pax_record(out, sizeof(out), "path", value, 2), 11);
    assert_int_equal(sl_tar_pax_record(out, sizeof(out), "path", value, 90), 99);
    assert_int_equal(sl_tar_pax_record(out, sizeof(out), "path", value, 91), 101);
    assert_int_equal(sl_tar_pax_record(out, sizeof(out), "path", value, 989), 999);
    assert_int_equal(sl_tar_pax_record(out, sizeof(out), "path", value, 990), 1001);
}

/* ---- layouts ---- */

struct spec {
    const char *path; /* below the top; "" for the top */
    bool dir;
    uint64_t size;
};

/* A layout named "top" of the members in specs (the first must be ""). */
static struct sl_tar_layout layout_of(const struct spec *specs, size_t count)
{
    struct sl_tar_layout l = {.count = count, .name_len = 3};
    strcpy(l.name, "top");
    l.members = calloc(count, sizeof(*l.members));
    size_t paths = 0;
    for (size_t i = 0; i < count; i++)
        paths += strlen(specs[i].path) + 1;
    l.paths = malloc(paths);
    size_t at = 0;
    for (size_t i = 0; i < count; i++) {
        size_t n = strlen(specs[i].path);
        memcpy(l.paths + at, specs[i].path, n + 1);
        l.members[i] = (struct sl_tar_member){
            .size = specs[i].size,
            .ino = i + 1,
            .mtime = T_2026 + (int64_t)i,
            .ctime = T_2026,
            .path = (uint32_t)at,
            .path_len = (uint16_t)n,
            .type = specs[i].dir ? SL_TAR_DIR : SL_TAR_FILE,
        };
        at += n + 1;
    }
    l.paths_len = at;
    sl_tar_finish(&l);
    return l;
}

/* A byte of member i's data at offset off: a pattern that differs between members. */
static char data_byte(size_t i, uint64_t off)
{
    return (char)(i * 31 + off * 7 + 1);
}

/* The whole archive as memory: sl_tar_fill for what is not data, the pattern for data. */
static char *assemble(const struct sl_tar_layout *l, uint64_t from, uint64_t to, size_t cap)
{
    char *out = malloc(to - from + 1);
    uint64_t off = from;
    size_t at = SIZE_MAX;
    while (off < to) {
        size_t n = sl_tar_fill(l, off, to, out + (off - from), cap, &at);
        if (n == 0) {
            const struct sl_tar_member *m = &l->members[at];
            assert_true(off >= sl_tar_data_off(m) && off < sl_tar_data_off(m) + m->size);
            out[off - from] = data_byte(at, off - sl_tar_data_off(m));
            n = 1;
        }
        off += n;
    }
    return out;
}

static const struct spec tree[] = {
    {"", true, 0},
    {"a.txt", false, 1},
    {"empty", false, 0},
    {"sub", true, 0},
    {"sub/block", false, 512},
    {"sub/odd", false, 513},
    {"sub/this name is long enough to need a pax header because it is over one hundred "
     "bytes long, as many are",
     false, 1000},
    {"z", false, 511},
};
#define TREE_COUNT (sizeof(tree) / sizeof(tree[0]))

static void test_layout_offsets_are_block_aligned_and_add_up(void **state)
{
    struct sl_tar_layout l = layout_of(tree, TREE_COUNT);
    uint64_t off = 0;
    for (size_t i = 0; i < l.count; i++) {
        assert_int_equal(l.members[i].off, off);
        assert_int_equal(l.members[i].off % SL_TAR_BLOCK, 0);
        off = sl_tar_member_end(&l.members[i]);
    }
    assert_int_equal(l.members[6].head_len, 3 * SL_TAR_BLOCK);
    /* 8 headers, 2 more for the pax one, data blocks 1+0+1+2+2+1, the end. */
    assert_int_equal(l.size, (8 + 2 + 7) * SL_TAR_BLOCK + SL_TAR_END);
    assert_int_equal(l.changed.tv_sec, T_2026 + 7);
    assert_true(l.etag_len > 0);
    assert_non_null(strstr(l.etag, "-tar\""));
    sl_tar_layout_free(&l);
}

static void test_find_names_the_member_at_every_edge(void **state)
{
    struct sl_tar_layout l = layout_of(tree, TREE_COUNT);
    for (size_t i = 0; i < l.count; i++) {
        const struct sl_tar_member *m = &l.members[i];
        uint64_t end = sl_tar_member_end(m);
        assert_int_equal(sl_tar_find(&l, m->off), i);
        assert_int_equal(sl_tar_find(&l, sl_tar_data_off(m) - 1), i);
        assert_int_equal(sl_tar_find(&l, end - 1), i);
    }
    uint64_t members_end = l.size - SL_TAR_END;
    assert_int_equal(sl_tar_find(&l, members_end), l.count);
    assert_int_equal(sl_tar_find(&l, l.size - 1), l.count);
    sl_tar_layout_free(&l);
}

static void test_archive_assembled_in_memory_reads_back_header_by_header(void **state)
{
    struct sl_tar_layout l = layout_of(tree, TREE_COUNT);
    char *a = assemble(&l, 0, l.size, 100000);
    uint64_t off = 0;
    for (size_t i = 0; i < l.count; i++) {
        char path[SL_TAR_PATH_MAX];
        size_t n = sl_tar_member_path(&l, i, path);
        const char *h = a + off;
        if (l.members[i].head_len > SL_TAR_BLOCK) {
            char *pax = pax_data(h, l.members[i].head_len);
            assert_non_null(strstr(pax, path));
            free(pax);
            h += l.members[i].head_len - SL_TAR_BLOCK;
        } else {
            assert_memory_equal(h, path, n);
        }
        assert_int_equal(check_block(h), l.members[i].type == SL_TAR_DIR ? '5' : '0');
        assert_int_equal(octal_field(h + 124, 12), l.members[i].size);
        off = sl_tar_member_end(&l.members[i]);
    }
    for (uint64_t i = off; i < l.size; i++)
        assert_int_equal(a[i], 0);
    free(a);
    sl_tar_layout_free(&l);
}

static void test_bytes_from_any_offset_equal_the_whole_archives(void **state)
{
    struct sl_tar_layout l = layout_of(tree, TREE_COUNT);
    char *whole = assemble(&l, 0, l.size, 1 << 20);
    srand(12);
    for (int k = 0; k < 2000; k++) {
        uint64_t from = (uint64_t)rand() % l.size;
        uint64_t to = from + 1 + (uint64_t)rand() % (l.size - from);
        size_t cap = 1 + (size_t)rand() % 700; /* small buffers cut headers anywhere */
        char *part = assemble(&l, from, to, cap);
        assert_memory_equal(part, whole + from, to - from);
        free(part);
    }
    free(whole);
    sl_tar_layout_free(&l);
}

static void test_same_tree_same_tag_and_any_change_a_new_one(void **state)
{
    struct sl_tar_layout a = layout_of(tree, TREE_COUNT);
    struct sl_tar_layout b = layout_of(tree, TREE_COUNT);
    assert_string_equal(a.etag, b.etag);
    b.members[4].mtime_ns = 1; /* rewritten within the same second */
    sl_tar_finish(&b);
    assert_string_not_equal(a.etag, b.etag);
    b.members[4].mtime_ns = 0;
    b.members[4].ctime = T_2026 + 100; /* chmod, link count: not in the bytes */
    sl_tar_finish(&b);
    assert_string_equal(a.etag, b.etag);
    assert_int_equal(b.changed.tv_sec, T_2026 + 100);
    b.members[2].exec = true;
    sl_tar_finish(&b);
    assert_string_not_equal(a.etag, b.etag);
    sl_tar_layout_free(&a);
    sl_tar_layout_free(&b);
}

/* ---- the walk and the cache, on a real tree ---- */

struct fixture {
    char path[64];
    int root_fd;
    uv_loop_t loop;
    struct sl_config cfg;
};

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    return remove(path);
}

static void put_file(struct fixture *f, const char *rel, const char *text)
{
    int fd = openat(f->root_fd, rel, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    strcpy(f->path, "/tmp/sluice-test-tar-XXXXXX");
    if (!mkdtemp(f->path) || uv_loop_init(&f->loop) != 0)
        return -1;
    f->root_fd = open(f->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    f->cfg = (struct sl_config){.listing = true, .tar = true, .tar_max_entries = 1000};
    *state = f;
    return f->root_fd >= 0 ? 0 : -1;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(uv_loop_close(&f->loop), 0);
    close(f->root_fd);
    int rc = nftw(f->path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return rc;
}

/* Walks directory rel (under the fixture's root) into l, named "top". */
static int walk(struct fixture *f, const char *rel, struct sl_tar_layout *l)
{
    int fd = openat(f->root_fd, rel[0] ? rel : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(fd >= 0);
    memset(l, 0, sizeof(*l));
    strcpy(l->name, "top");
    l->name_len = 3;
    return sl_tar_walk(&f->cfg, f->root_fd, fd, rel, l); /* fd is taken */
}

static const char *member_path(const struct sl_tar_layout *l, size_t i)
{
    return l->paths + l->members[i].path;
}

static void test_walk_goes_depth_first_in_byte_order_and_leaves_out_what_is_not_served(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(mkdirat(f->root_fd, "d", 0755), 0);
    assert_int_equal(mkdirat(f->root_fd, "d/sub", 0755), 0);
    assert_int_equal(mkdirat(f->root_fd, "d/.git", 0755), 0);
    put_file(f, "d/b.txt", "b");
    put_file(f, "d/B.txt", "B");
    put_file(f, "d/sub/c.txt", "cc");
    put_file(f, "d/.env", "secret");
    put_file(f, "outside.txt", "not below d, but below the root");
    assert_int_equal(symlinkat("../outside.txt", f->root_fd, "d/in-root-link"), 0);
    assert_int_equal(symlinkat("/etc/passwd", f->root_fd, "d/out-link"), 0);
    assert_int_equal(symlinkat("..", f->root_fd, "d/sub/loop"), 0);
    assert_int_equal(symlinkat("missing", f->root_fd, "d/dangling"), 0);
    assert_int_equal(mkfifoat(f->root_fd, "d/fifo", 0644), 0);

    struct sl_tar_layout l;
    assert_int_equal(walk(f, "d", &l), 0);
    const char *want[] = {"", "B.txt", "b.txt", "in-root-link", "sub", "sub/c.txt"};
    assert_int_equal(l.count, 6);
    for (size_t i = 0; i < l.count; i++)
        assert_string_equal(member_path(&l, i), want[i]);
    assert_int_equal(l.members[3].type, SL_TAR_FILE); /* the file it leads to */
    assert_int_equal(l.members[3].size, strlen("not below d, but below the root"));
    assert_int_equal(l.members[4].type, SL_TAR_DIR);
    assert_int_equal(l.members[5].size, 2);
    sl_tar_layout_free(&l);

    f->cfg.dotfiles = true;
    assert_int_equal(walk(f, "d", &l), 0);
    assert_int_equal(l.count, 8); /* .env and .git/ */
    assert_string_equal(member_path(&l, 1), ".env");
    assert_string_equal(member_path(&l, 2), ".git");
    sl_tar_layout_free(&l);
}

static void test_walk_of_more_members_than_the_limit_fails_with_efbig(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(mkdirat(f->root_fd, "d", 0755), 0);
    put_file(f, "d/1", "");
    put_file(f, "d/2", "");
    put_file(f, "d/3", "");
    struct sl_tar_layout l;
    f->cfg.tar_max_entries = 3;
    assert_int_equal(walk(f, "d", &l), 0);
    assert_int_equal(l.count, 4); /* the top is not counted */
    sl_tar_layout_free(&l);
    f->cfg.tar_max_entries = 2;
    assert_int_equal(walk(f, "d", &l), -EFBIG);
    assert_null(l.members);
}

struct waiter {
    struct sl_wait w; /* first */
    int woken;
};

static void on_wake(struct sl_wait *w)
{
    ((struct waiter *)w)->woken++;
}

static int cache_get(struct fixture *f, struct sl_tarcache *tc, const char *rel, uint64_t now,
                     struct waiter *t, struct sl_tarlayout **out)
{
    int fd = openat(f->root_fd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    *out = NULL;
    return sl_tarcache_get(tc, fd, &st, f->root_fd, rel, "d", 1, now, &t->w, out);
}

/* The layout of rel after a walk that a request started and waited for. */
static struct sl_tarlayout *walked(struct fixture *f, struct sl_tarcache *tc, const char *rel,
                                   uint64_t now, struct waiter *t)
{
    struct sl_tarlayout *out;
    assert_int_equal(cache_get(f, tc, rel, now, t, &out), SL_KEPT_WAIT);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(cache_get(f, tc, rel, now, t, &out), 0);
    return out;
}

static void test_cache_shares_one_walk_and_walks_again_after_the_ttl(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(mkdirat(f->root_fd, "d", 0755), 0);
    put_file(f, "d/x", "x");
    struct sl_tarcache tc;
    sl_tarcache_init(&tc, &f->loop, &f->cfg, SL_TARCACHE_BYTES);
    struct waiter a = {.w.wake = on_wake}, b = {.w.wake = on_wake}, c = {.w.wake = on_wake};
    struct sl_tarlayout *t, *u, *v;
    assert_int_equal(cache_get(f, &tc, "d", 1000, &a, &t), SL_KEPT_WAIT);
    assert_int_equal(cache_get(f, &tc, "d", 1001, &b, &t), SL_KEPT_WAIT);
    assert_int_equal(tc.keep.making, 1);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(a.woken + b.woken, 2);
    assert_int_equal(cache_get(f, &tc, "d", 1002, &a, &t), 0);
    assert_int_equal(cache_get(f, &tc, "d", 1002, &b, &u), 0);
    assert_ptr_equal(t, u);
    assert_int_equal(t->status, 0);
    assert_int_equal(t->layout.count, 2);
    /* Within the TTL a later request gets it at once; after it, a new walk. */
    assert_int_equal(cache_get(f, &tc, "d", 1000 + SL_TARCACHE_TTL_MS - 1, &c, &v), 0);
    assert_ptr_equal(v, t);
    sl_tarlayout_release(v);
    assert_int_equal(cache_get(f, &tc, "d", 1000 + SL_TARCACHE_TTL_MS, &c, &v), SL_KEPT_WAIT);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(cache_get(f, &tc, "d", 1000 + SL_TARCACHE_TTL_MS, &c, &v), 0);
    assert_ptr_not_equal(v, t);
    /* The old layout, still in use, is out of the cache and freed by its last release. */
    sl_tarcache_expire(&tc, 1000 + SL_TARCACHE_TTL_MS);
    sl_tarlayout_release(t);
    sl_tarlayout_release(u);
    sl_tarlayout_release(v);
    sl_tarcache_clear(&tc);
    assert_int_equal(tc.keep.bytes, 0);
}

static void test_cache_refuses_a_layout_over_the_bound_while_another_is_in_use(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(mkdirat(f->root_fd, "d", 0755), 0);
    assert_int_equal(mkdirat(f->root_fd, "e", 0755), 0);
    struct sl_tarcache tc;
    sl_tarcache_init(&tc, NULL, &f->cfg, 1); /* walks at once; room for one layout only */
    struct waiter a = {.w.wake = on_wake}, b = {.w.wake = on_wake};
    struct sl_tarlayout *t, *u;
    assert_int_equal(cache_get(f, &tc, "d", 0, &a, &t), 0);
    assert_int_equal(t->status, 0); /* the only one: taken whatever its size */
    assert_int_equal(cache_get(f, &tc, "e", 0, &b, &u), 0);
    assert_int_equal(u->status, -ENOBUFS);
    sl_tarlayout_release(u);
    sl_tarlayout_release(t);
    sl_tarcache_clear(&tc);
    assert_int_equal(tc.keep.bytes, 0);
}

static void test_cache_counts_a_walks_descriptors_with_the_loops_body_files(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(mkdirat(f->root_fd, "d", 0755), 0);
    struct sl_tarcache tc;
    sl_tarcache_init(&tc, &f->loop, &f->cfg, SL_TARCACHE_BYTES);
    unsigned files = 2;
    tc.files = &files;
    f->cfg.files_per_loop = 3;
    struct waiter a = {.w.wake = on_wake};
    struct sl_tarlayout *t;
    assert_int_equal(cache_get(f, &tc, "d", 0, &a, &t), -EMFILE); /* no room for two */
    files = 1;
    assert_int_equal(cache_get(f, &tc, "d", 0, &a, &t), SL_KEPT_WAIT);
    assert_int_equal(files, 1 + SL_TARCACHE_FDS_PER_WALK);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(files, 1);
    assert_int_equal(cache_get(f, &tc, "d", 0, &a, &t), 0);
    sl_tarlayout_release(t);
    sl_tarcache_clear(&tc);
}

/* A walk that fails (here -EFBIG) is told to its waiters and not kept: it must not push
 * unused layouts out of the cache to make room for itself. */
static void test_cache_a_failed_walk_evicts_no_unused_layout(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(mkdirat(f->root_fd, "d", 0755), 0);
    assert_int_equal(mkdirat(f->root_fd, "e", 0755), 0);
    put_file(f, "e/1", "");
    put_file(f, "e/2", "");
    struct sl_tarcache tc;
    sl_tarcache_init(&tc, &f->loop, &f->cfg, 1); /* room for one layout only */
    struct waiter a = {.w.wake = on_wake}, b = {.w.wake = on_wake};
    struct sl_tarlayout *t = walked(f, &tc, "d", 0, &a);
    assert_int_equal(t->status, 0);
    sl_tarlayout_release(t); /* unused, kept */
    f->cfg.tar_max_entries = 1;
    struct sl_tarlayout *u = walked(f, &tc, "e", 1, &b);
    assert_int_equal(u->status, -EFBIG);
    sl_tarlayout_release(u);
    /* d's layout, within its TTL, answers at once: no new walk. */
    assert_int_equal(cache_get(f, &tc, "d", 2, &a, &t), 0);
    sl_tarlayout_release(t);
    sl_tarcache_clear(&tc);
}

/* A wait woken with a tar layout, then asked of the directory cache (the same exchange's
 * next request), lets the layout go and gets its list: no leak, no confusion of kinds. */
static void test_cache_a_wait_holding_a_layout_asks_the_directory_cache(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(mkdirat(f->root_fd, "d", 0755), 0);
    put_file(f, "d/x", "x");
    struct sl_tarcache tc;
    struct sl_dircache dc;
    sl_tarcache_init(&tc, &f->loop, &f->cfg, SL_TARCACHE_BYTES);
    sl_dircache_init(&dc, &f->loop, &f->cfg, SL_DIRCACHE_BYTES);
    struct waiter a = {.w.wake = on_wake};
    struct sl_tarlayout *t;
    assert_int_equal(cache_get(f, &tc, "d", 0, &a, &t), SL_KEPT_WAIT);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_non_null(a.w.got); /* the layout, not taken */
    struct stat st;
    struct sl_dirlist *d = NULL;
    int fd = openat(f->root_fd, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal(sl_dircache_get(&dc, fd, &st, f->root_fd, "d", 0, &a.w, &d), SL_KEPT_WAIT);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    fd = openat(f->root_fd, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_int_equal(sl_dircache_get(&dc, fd, &st, f->root_fd, "d", 0, &a.w, &d), 0);
    assert_int_equal(d->status, 0);
    assert_int_equal(d->list.count, 1);
    sl_dirlist_release(d);
    sl_dircache_clear(&dc);
    sl_tarcache_clear(&tc);
    assert_int_equal(dc.keep.bytes, 0);
    assert_int_equal(tc.keep.bytes, 0);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_short_ascii_file_is_one_ustar_block),
        cmocka_unit_test(test_directory_is_type_5_with_mode_755_and_executable_file_755),
        cmocka_unit_test(test_name_of_exactly_100_bytes_fills_the_field_without_pax),
        cmocka_unit_test(test_long_name_goes_in_a_pax_path_record_with_a_cut_fallback),
        cmocka_unit_test(test_unicode_name_goes_in_pax_and_its_fallback_is_ascii),
        cmocka_unit_test(test_name_that_is_not_utf8_says_hdrcharset_binary_first),
        cmocka_unit_test(test_size_of_8_gib_goes_in_pax_and_one_byte_less_does_not),
        cmocka_unit_test(test_mtime_before_1970_goes_in_pax),
        cmocka_unit_test(test_pax_record_length_counts_its_own_digits_across_every_boundary),
        cmocka_unit_test(test_layout_offsets_are_block_aligned_and_add_up),
        cmocka_unit_test(test_find_names_the_member_at_every_edge),
        cmocka_unit_test(test_archive_assembled_in_memory_reads_back_header_by_header),
        cmocka_unit_test(test_bytes_from_any_offset_equal_the_whole_archives),
        cmocka_unit_test(test_same_tree_same_tag_and_any_change_a_new_one),
        T(test_walk_goes_depth_first_in_byte_order_and_leaves_out_what_is_not_served),
        T(test_walk_of_more_members_than_the_limit_fails_with_efbig),
        T(test_cache_shares_one_walk_and_walks_again_after_the_ttl),
        T(test_cache_refuses_a_layout_over_the_bound_while_another_is_in_use),
        T(test_cache_counts_a_walks_descriptors_with_the_loops_body_files),
        T(test_cache_a_failed_walk_evicts_no_unused_layout),
        T(test_cache_a_wait_holding_a_layout_asks_the_directory_cache),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
