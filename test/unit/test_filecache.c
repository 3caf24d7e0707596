/* Unit tests for the per-loop open-file cache (src/filecache.c), black-box through
 * filecache.h over real files in a temporary directory: entries in memory and with
 * descriptors, remembered misses, the TTL, generations and the epochs shared between
 * loops, files changed in place, the bounds and their LRU order by clock tick, idle
 * expiry, and references that keep evicted entries alive until released. The loop clock
 * is the `now` argument. */
/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sluice/filecache.h"

#define T0 ((uint64_t)100000)         /* the loop clock (ms) when a test begins */
#define OLD ((time_t)1600000000)      /* every file's mtime: a write in place changes it */
#define SMALL 100                     /* bytes: kept in memory */
#define BIG (SL_CACHE_FILE_MAX + 512) /* bytes: kept as a descriptor, also when truncated */
#define FULL_ENTRIES (SL_CACHE_BYTES_MAX / SL_CACHE_FILE_MAX) /* in-memory files to the bound */

#define PER_TICK 4 /* remembered misses the bound tests put at one tick of the clock */

/* The bound tests put their entries at ticks spread over less than a TTL, so that the
 * order they expect is the clock's (the cache keeps none finer) and every survivor can
 * still be asked for at the end. */
_Static_assert(SL_CACHE_BYTES_MAX % SL_CACHE_FILE_MAX == 0, "files fill the bound exactly");
_Static_assert(FULL_ENTRIES < SL_CACHE_TTL_MS, "one tick per file, within a TTL");
_Static_assert(2 * SL_CACHE_ENTRIES_MAX / PER_TICK + 2 < SL_CACHE_TTL_MS, "two fills in a TTL");

struct fixture {
    char path[64];
    int dir_fd;
    int fds_at_start;
    struct sl_cache_epochs epochs;
    struct sl_cache cache;
    struct sl_cache other; /* another loop's, sharing the epochs */
};

static int count_open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int n = 0;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

static bool fd_open(int fd)
{
    return fcntl(fd, F_GETFD) != -1;
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    return remove(path);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    f->fds_at_start = count_open_fds();
    strcpy(f->path, "/tmp/sluice-test-filecache-XXXXXX");
    if (!mkdtemp(f->path))
        return -1;
    f->dir_fd = open(f->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    sl_cache_init(&f->cache, 8, &f->epochs);
    sl_cache_init(&f->other, 8, &f->epochs);
    *state = f;
    return f->dir_fd >= 0 ? 0 : -1;
}

static void assert_empty(const struct sl_cache *c)
{
    assert_int_equal(c->count, 0);
    assert_int_equal(c->bytes, 0);
    assert_int_equal(c->fds, 0);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    sl_cache_free(&f->cache);
    sl_cache_free(&f->other);
    assert_empty(&f->cache);
    assert_empty(&f->other);
    close(f->dir_fd);
    int rc = nftw(f->path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    assert_int_equal(count_open_fds(), f->fds_at_start); /* every descriptor closed */
    free(f);
    return rc;
}

static void set_mtime(int fd, struct timespec t)
{
    struct timespec times[2] = {t, t};
    assert_int_equal(futimens(fd, times), 0);
}

/* File `name`: `size` bytes of `fill`, its mtime OLD. */
static void write_file(struct fixture *f, const char *name, size_t size, char fill)
{
    int fd = openat(f->dir_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    char buf[4096];
    memset(buf, fill, sizeof(buf));
    for (size_t done = 0; done < size;) {
        size_t n = size - done < sizeof(buf) ? size - done : sizeof(buf);
        assert_int_equal(write(fd, buf, n), (ssize_t)n);
        done += n;
    }
    set_mtime(fd, (struct timespec){.tv_sec = OLD});
    close(fd);
}

/* Replaces file `name` with a new one (another inode), as a deploy does. */
static void replace_file(struct fixture *f, const char *name, size_t size, char fill)
{
    write_file(f, "replacement", size, fill);
    assert_int_equal(renameat(f->dir_fd, "replacement", f->dir_fd, name), 0);
}

/* Opens `name` as the router does: its descriptor, and rep filled from fstat. */
static int open_rep(struct fixture *f, const char *name, struct sl_file_rep *rep)
{
    int fd = openat(f->dir_fd, name, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    memset(rep, 0, sizeof(*rep));
    assert_int_equal(fstat(fd, &rep->st), 0);
    rep->mime = "text/plain";
    rep->name = name;
    rep->name_len = strlen(name);
    return fd;
}

/* After a miss, as respond.c does: opens file `key`, puts it in c and closes the
 * descriptor unless the cache took it. Returns the entry, referenced. */
static struct sl_cache_entry *put(struct fixture *f, struct sl_cache *c, const char *key,
                                  uint64_t now)
{
    struct sl_file_rep rep;
    int fd = open_rep(f, key, &rep);
    struct sl_cache_entry *e = sl_cache_put(c, key, strlen(key), now, &rep, &fd);
    if (fd >= 0)
        close(fd);
    assert_non_null(e);
    return e;
}

static struct sl_cache_entry *get(struct sl_cache *c, const char *key, uint64_t now)
{
    return sl_cache_get(c, key, strlen(key), now);
}

/* An entry c must return for key at now, referenced. */
static struct sl_cache_entry *hit(struct sl_cache *c, const char *key, uint64_t now)
{
    struct sl_cache_entry *e = get(c, key, now);
    assert_non_null(e);
    return e;
}

/* Answers key as respond.c does: from the cache, or else from file `key`, put in. */
static struct sl_cache_entry *serve(struct fixture *f, struct sl_cache *c, const char *key,
                                    uint64_t now)
{
    struct sl_cache_entry *e = get(c, key, now);
    return e ? e : put(f, c, key, now);
}

/* Whether c answers key from an entry at now (the reference goes back at once). */
static bool cached(struct sl_cache *c, const char *key, uint64_t now)
{
    struct sl_cache_entry *e = get(c, key, now);
    if (e)
        sl_cache_release(c, e);
    return e != NULL;
}

static void put_missing(struct sl_cache *c, const char *key, uint64_t now)
{
    sl_cache_put_missing(c, key, strlen(key), now);
}

/* The cache as one loop's with no epochs shared, for the bound tests: there a get tells
 * only whether an entry is still held. (With epochs, a new entry makes the entries whose
 * keys share its epoch slot re-checked; of a thousand keys, a hundred do.) */
static void cache_alone(struct fixture *f)
{
    sl_cache_init(&f->cache, 8, NULL);
}

/* Key number i of a numbered series. */
static const char *key_n(char buf[16], unsigned i)
{
    snprintf(buf, 16, "k%05u", i);
    return buf;
}

/* Remembered misses for keys from..to-1, PER_TICK to a tick from `tick`. Returns the
 * last tick. */
static uint64_t put_missing_run(struct sl_cache *c, unsigned from, unsigned to, uint64_t tick)
{
    char k[16];
    for (unsigned i = from; i < to; i++)
        put_missing(c, key_n(k, i), tick + (i - from) / PER_TICK);
    return tick + (to - 1 - from) / PER_TICK;
}

/* How many of keys from..to-1 c answers at now. A key it does not answer leaves the
 * LRU order as it was. */
static unsigned count_cached(struct sl_cache *c, unsigned from, unsigned to, uint64_t now)
{
    char k[16];
    unsigned n = 0;
    for (unsigned i = from; i < to; i++)
        n += cached(c, key_n(k, i), now);
    return n;
}

/* Whether `len` bytes at p are all `fill`. */
static bool all_bytes(const char *p, size_t len, char fill)
{
    for (size_t i = 0; i < len; i++) {
        if (p[i] != fill)
            return false;
    }
    return true;
}

/* Whether descriptor fd holds `len` bytes of `fill` at offset 0. */
static bool fd_holds(int fd, size_t len, char fill)
{
    char buf[BIG];
    assert_true(len <= sizeof(buf));
    return pread(fd, buf, len, 0) == (ssize_t)len && all_bytes(buf, len, fill);
}

/* ---- entries in memory and with descriptors ---- */

static void test_a_small_file_is_kept_in_memory_with_copies_of_its_name_and_fields(void **state)
{
    struct fixture *f = *state;
    write_file(f, "page.html", SL_CACHE_FILE_MAX, 'p');
    struct sl_file_rep rep;
    int fd = open_rep(f, "page.html", &rep);
    char name[] = "page.html";
    char fields[] = "HTTP/1.1 200 OK\r\n";
    rep.name = name;
    rep.fields = fields;
    rep.fields_len = strlen(fields);
    struct sl_cache_entry *e = sl_cache_put(&f->cache, "/page.html", 10, T0, &rep, &fd);
    assert_non_null(e);
    assert_true(fd >= 0); /* read into memory: the descriptor is still the caller's */
    close(fd);
    memset(name, 'x', strlen(name));
    memset(fields, 'x', strlen(fields));

    assert_int_equal(e->status, 0);
    assert_int_equal(e->fd, -1);
    assert_int_equal(e->rep.st.st_size, SL_CACHE_FILE_MAX);
    assert_non_null(e->rep.data);
    assert_true(all_bytes(e->rep.data, SL_CACHE_FILE_MAX, 'p'));
    assert_memory_equal(e->rep.name, "page.html", e->rep.name_len);
    assert_int_equal(e->rep.fields_len, strlen("HTTP/1.1 200 OK\r\n"));
    assert_memory_equal(e->rep.fields, "HTTP/1.1 200 OK\r\n", e->rep.fields_len);
    assert_int_equal(f->cache.bytes, SL_CACHE_FILE_MAX);
    sl_cache_release(&f->cache, e);
}

static void test_get_and_get_hashed_return_the_entry_for_its_key_only(void **state)
{
    struct fixture *f = *state;
    write_file(f, "a.txt", SMALL, 'a');
    struct sl_cache_entry *e = put(f, &f->cache, "a.txt", T0);
    struct sl_cache_entry *g = get(&f->cache, "a.txt", T0 + 1);
    struct sl_cache_entry *h =
        sl_cache_get_hashed(&f->cache, "a.txt", 5, sl_cache_hash("a.txt", 5), T0 + 2);
    assert_ptr_equal(g, e);
    assert_ptr_equal(h, e);
    assert_false(cached(&f->cache, "a.tx", T0 + 2));
    assert_false(cached(&f->cache, "a.txt2", T0 + 2));
    assert_false(cached(&f->cache, "b.txt", T0 + 2));
    assert_null(sl_cache_get_hashed(&f->cache, "a.txX", 5, sl_cache_hash("a.txX", 5), T0 + 2));
    sl_cache_release(&f->cache, h);
    sl_cache_release(&f->cache, g);
    sl_cache_release(&f->cache, e);
}

static void test_a_larger_file_keeps_the_descriptor_the_cache_takes_from_the_caller(void **state)
{
    struct fixture *f = *state;
    write_file(f, "big.bin", BIG, 'b');
    struct sl_file_rep rep;
    int fd = open_rep(f, "big.bin", &rep);
    int opened = fd;
    struct sl_cache_entry *e = sl_cache_put(&f->cache, "big.bin", 7, T0, &rep, &fd);
    assert_non_null(e);
    assert_int_equal(fd, -1); /* the cache owns it now */
    assert_int_equal(e->fd, opened);
    assert_null(e->rep.data);
    assert_int_equal(e->rep.st.st_size, BIG);
    assert_true(fd_holds(e->fd, BIG, 'b'));
    assert_int_equal(f->cache.bytes, 0); /* only contents in memory count */
    assert_int_equal(f->cache.fds, 1);

    struct sl_cache_entry *g = get(&f->cache, "big.bin", T0 + 1);
    assert_ptr_equal(g, e);
    sl_cache_release(&f->cache, g);
    sl_cache_release(&f->cache, e);
}

static void test_larger_files_beyond_max_fds_are_not_taken_but_small_ones_are(void **state)
{
    struct fixture *f = *state;
    sl_cache_init(&f->cache, 1, &f->epochs);
    write_file(f, "one.bin", BIG, '1');
    write_file(f, "two.bin", BIG, '2');
    write_file(f, "small", SMALL, 's');
    sl_cache_release(&f->cache, put(f, &f->cache, "one.bin", T0));

    struct sl_file_rep rep;
    int fd = open_rep(f, "two.bin", &rep);
    assert_null(sl_cache_put(&f->cache, "two.bin", 7, T0, &rep, &fd));
    assert_true(fd >= 0 && fd_open(fd)); /* still the caller's */
    close(fd);
    sl_cache_release(&f->cache, put(f, &f->cache, "small", T0));
    assert_true(cached(&f->cache, "one.bin", T0 + 1));
    assert_false(cached(&f->cache, "two.bin", T0 + 1));
    assert_true(cached(&f->cache, "small", T0 + 1));
}

static void test_a_small_file_whose_size_changed_after_its_stat_is_not_cached(void **state)
{
    struct fixture *f = *state;
    const off_t sizes[] = {SMALL + 1, SMALL - 1}; /* grew, shrank */
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        write_file(f, "page", SMALL, 'p');
        struct sl_file_rep rep;
        int fd = open_rep(f, "page", &rep);
        int w = openat(f->dir_fd, "page", O_WRONLY | O_CLOEXEC);
        assert_true(w >= 0);
        assert_int_equal(ftruncate(w, sizes[i]), 0);
        close(w);
        assert_null(sl_cache_put(&f->cache, "page", 4, T0, &rep, &fd));
        assert_true(fd >= 0); /* still the caller's */
        close(fd);
        assert_false(cached(&f->cache, "page", T0));
        assert_int_equal(f->cache.count, 0);
    }
}

/* ---- remembered misses ---- */

static void test_a_remembered_miss_is_returned_with_a_non_zero_status(void **state)
{
    struct fixture *f = *state;
    put_missing(&f->cache, "gone.html", T0);
    struct sl_cache_entry *e = hit(&f->cache, "gone.html", T0 + 1);
    assert_int_not_equal(e->status, 0);
    sl_cache_release(&f->cache, e);
    put_missing(&f->cache, "gone.html", T0 + 2); /* still missing: one entry */
    assert_int_equal(f->cache.count, 1);
    assert_true(cached(&f->cache, "gone.html", T0 + 3));
}

static void test_a_file_put_at_a_remembered_miss_replaces_it_and_back(void **state)
{
    struct fixture *f = *state;
    write_file(f, "x", SMALL, 'x');
    put_missing(&f->cache, "x", T0);
    sl_cache_release(&f->cache, put(f, &f->cache, "x", T0 + 1));
    struct sl_cache_entry *e = hit(&f->cache, "x", T0 + 2);
    assert_int_equal(e->status, 0);
    assert_true(all_bytes(e->rep.data, SMALL, 'x'));
    sl_cache_release(&f->cache, e);

    put_missing(&f->cache, "x", T0 + 3);
    e = hit(&f->cache, "x", T0 + 4);
    assert_int_not_equal(e->status, 0);
    sl_cache_release(&f->cache, e);
    assert_int_equal(f->cache.count, 1);
    assert_int_equal(f->cache.bytes, 0);
}

/* ---- the TTL ---- */

static void test_an_entry_is_not_returned_once_the_ttl_has_passed_since_its_check(void **state)
{
    struct fixture *f = *state;
    write_file(f, "big.bin", BIG, 'b');
    struct sl_cache_entry *e = put(f, &f->cache, "big.bin", T0);
    int cached_fd = e->fd;
    sl_cache_release(&f->cache, e);
    put_missing(&f->cache, "gone", T0);
    assert_true(cached(&f->cache, "big.bin", T0 + 1));
    assert_true(cached(&f->cache, "big.bin", T0 + SL_CACHE_TTL_MS - 1));
    assert_true(cached(&f->cache, "gone", T0 + SL_CACHE_TTL_MS - 1));
    assert_false(cached(&f->cache, "big.bin", T0 + SL_CACHE_TTL_MS)); /* hits do not extend */
    assert_false(cached(&f->cache, "gone", T0 + SL_CACHE_TTL_MS));

    /* Re-checked and unchanged: the entry is kept, with its own descriptor. */
    struct sl_file_rep rep;
    int fd = open_rep(f, "big.bin", &rep);
    e = sl_cache_put(&f->cache, "big.bin", 7, T0 + SL_CACHE_TTL_MS, &rep, &fd);
    assert_non_null(e);
    assert_int_equal(e->fd, cached_fd);
    assert_true(fd >= 0);
    close(fd);
    sl_cache_release(&f->cache, e);
    put_missing(&f->cache, "gone", T0 + SL_CACHE_TTL_MS);
    assert_true(cached(&f->cache, "big.bin", T0 + 2 * SL_CACHE_TTL_MS - 1));
    assert_true(cached(&f->cache, "gone", T0 + 2 * SL_CACHE_TTL_MS - 1));
    assert_false(cached(&f->cache, "big.bin", T0 + 2 * SL_CACHE_TTL_MS));
    assert_int_equal(f->cache.count, 2);
}

static void test_a_replaced_file_gets_a_new_entry_and_the_old_stays_valid_while_held(void **state)
{
    struct fixture *f = *state;
    write_file(f, "index.html", SMALL, 'a');
    struct sl_cache_entry *held = put(f, &f->cache, "index.html", T0); /* a response */
    replace_file(f, "index.html", 2 * SMALL, 'b');
    assert_true(cached(&f->cache, "index.html", T0 + 1)); /* trusted within the TTL */

    struct sl_cache_entry *e = serve(f, &f->cache, "index.html", T0 + SL_CACHE_TTL_MS);
    assert_ptr_not_equal(e, held);
    assert_int_equal(e->rep.st.st_size, 2 * SMALL);
    assert_true(all_bytes(e->rep.data, 2 * SMALL, 'b'));
    assert_true(all_bytes(held->rep.data, SMALL, 'a'));
    assert_int_equal(f->cache.count, 1);
    assert_int_equal(f->cache.bytes, 2 * SMALL);
    sl_cache_release(&f->cache, e);
    sl_cache_release(&f->cache, held);
}

/* ---- generations (--live) ---- */

static void test_a_new_generation_makes_every_entry_stale_until_re_checked(void **state)
{
    struct fixture *f = *state;
    write_file(f, "small", SMALL, 's');
    write_file(f, "big", BIG, 'b');
    sl_cache_release(&f->cache, put(f, &f->cache, "small", T0));
    sl_cache_release(&f->cache, put(f, &f->cache, "big", T0));
    put_missing(&f->cache, "gone", T0);

    sl_cache_set_generation(&f->cache, 1);
    assert_false(cached(&f->cache, "small", T0 + 1));
    assert_false(cached(&f->cache, "big", T0 + 1));
    assert_false(cached(&f->cache, "gone", T0 + 1));

    sl_cache_release(&f->cache, put(f, &f->cache, "small", T0 + 2));
    assert_true(cached(&f->cache, "small", T0 + 3));
    assert_false(cached(&f->cache, "big", T0 + 3)); /* each entry is re-checked itself */
    sl_cache_release(&f->cache, put(f, &f->cache, "big", T0 + 3));
    put_missing(&f->cache, "gone", T0 + 3);
    sl_cache_set_generation(&f->cache, 1); /* the same generation: nothing changed */
    assert_true(cached(&f->cache, "small", T0 + 4));
    assert_true(cached(&f->cache, "big", T0 + 4));
    assert_true(cached(&f->cache, "gone", T0 + 4));
    assert_int_equal(f->cache.count, 3);
}

/* ---- epochs shared between loops ---- */

/* This loop puts "page" in at T0, the other loop later: this loop's TTL runs out at
 * SEEN, while the other loop's entry is still within its TTL. */
#define SEEN (T0 + SL_CACHE_TTL_MS)

static void both_loops_put_page(struct fixture *f)
{
    write_file(f, "page", SMALL, 'a');
    sl_cache_release(&f->cache, put(f, &f->cache, "page", T0));
    sl_cache_release(&f->other, put(f, &f->other, "page", T0 + 600));
}

static void test_loops_that_checked_the_same_file_both_answer_from_their_entries(void **state)
{
    struct fixture *f = *state;
    both_loops_put_page(f);
    sl_cache_release(&f->cache, serve(f, &f->cache, "page", T0 + 601));
    for (uint64_t now = T0 + 602; now < T0 + 605; now++) {
        assert_true(cached(&f->cache, "page", now));
        assert_true(cached(&f->other, "page", now));
    }
}

static void test_a_file_change_one_loop_has_seen_is_not_served_by_another(void **state)
{
    struct fixture *f = *state;
    both_loops_put_page(f);
    replace_file(f, "page", 2 * SMALL, 'b');
    struct sl_cache_entry *e = serve(f, &f->cache, "page", SEEN);
    assert_true(all_bytes(e->rep.data, 2 * SMALL, 'b'));
    sl_cache_release(&f->cache, e);

    assert_false(cached(&f->other, "page", SEEN + 1));
    e = serve(f, &f->other, "page", SEEN + 1);
    assert_true(all_bytes(e->rep.data, 2 * SMALL, 'b'));
    sl_cache_release(&f->other, e);
}

static void test_a_file_gone_for_one_loop_is_not_served_by_another(void **state)
{
    struct fixture *f = *state;
    both_loops_put_page(f);
    assert_int_equal(unlinkat(f->dir_fd, "page", 0), 0);
    assert_false(cached(&f->cache, "page", SEEN));
    put_missing(&f->cache, "page", SEEN);
    assert_false(cached(&f->other, "page", SEEN + 1));
}

/* ---- descriptor entries of files changed in place ---- */

static void truncate_file(int fd)
{
    assert_int_equal(ftruncate(fd, BIG - 1), 0);
}

static void rewrite_same_size(int fd)
{
    char buf[BIG];
    memset(buf, 'c', sizeof(buf));
    assert_int_equal(pwrite(fd, buf, sizeof(buf), 0), BIG);
}

static void touch(int fd)
{
    set_mtime(fd, (struct timespec){.tv_nsec = UTIME_NOW});
}

/* What "cp -p" or "rsync --inplace -t" do: new bytes, the old size and mtime put back.
 * Only the change time tells; it moves by the kernel's clock tick, so this waits for
 * one if the rewrite fell in the tick of the file's creation. */
static void rewrite_keeping_size_and_mtime(int fd)
{
    struct stat before;
    assert_int_equal(fstat(fd, &before), 0);
    rewrite_same_size(fd);
    struct stat now;
    for (int i = 0; i < 100; i++) {
        set_mtime(fd, (struct timespec){.tv_sec = OLD});
        assert_int_equal(fstat(fd, &now), 0);
        if (now.st_ctim.tv_sec != before.st_ctim.tv_sec ||
            now.st_ctim.tv_nsec != before.st_ctim.tv_nsec)
            break;
        nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
    }
    assert_int_equal(now.st_mtim.tv_sec, OLD);
    assert_int_equal(now.st_size, BIG);
}

/* A descriptor entry for a file that `change` then alters in place is not returned,
 * within the TTL; a response holding it keeps its descriptor; the file as it is now is
 * cached again. */
static void check_change_in_place_is_not_served(struct fixture *f, void (*change)(int fd))
{
    write_file(f, "big", BIG, 'b');
    struct sl_cache_entry *held = put(f, &f->cache, "big", T0);
    int held_fd = held->fd;
    assert_true(cached(&f->cache, "big", T0 + 1));

    int fd = openat(f->dir_fd, "big", O_WRONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    change(fd);
    close(fd);
    assert_false(cached(&f->cache, "big", T0 + 2));
    assert_true(fd_open(held_fd));
    sl_cache_release(&f->cache, held);

    sl_cache_release(&f->cache, put(f, &f->cache, "big", T0 + 3));
    assert_true(cached(&f->cache, "big", T0 + 4));
    assert_int_equal(f->cache.fds, 1);
}

static void test_a_descriptor_entry_of_a_truncated_file_is_not_returned(void **state)
{
    check_change_in_place_is_not_served(*state, truncate_file);
}

static void
test_a_descriptor_entry_of_a_file_rewritten_with_the_same_size_is_not_returned(void **state)
{
    check_change_in_place_is_not_served(*state, rewrite_same_size);
}

static void test_a_descriptor_entry_of_a_touched_file_is_not_returned(void **state)
{
    check_change_in_place_is_not_served(*state, touch);
}

static void
test_a_descriptor_entry_of_a_file_rewritten_with_its_mtime_put_back_is_not_returned(void **state)
{
    check_change_in_place_is_not_served(*state, rewrite_keeping_size_and_mtime);
}

/* ---- the bounds and the LRU order ---- */

static void test_entries_beyond_entries_max_evict_the_least_recently_used_first(void **state)
{
    struct fixture *f = *state;
    cache_alone(f);
    unsigned max = SL_CACHE_ENTRIES_MAX;
    uint64_t tick = put_missing_run(&f->cache, 0, max, T0);
    assert_int_equal(f->cache.count, max);
    put_missing_run(&f->cache, max, max + PER_TICK, tick + 1);
    assert_int_equal(f->cache.count, max);
    put_missing_run(&f->cache, max + PER_TICK, max + 2 * PER_TICK, tick + 2);
    assert_int_equal(f->cache.count, max);
    assert_int_equal(count_cached(&f->cache, 0, 2 * PER_TICK, tick + 2), 0); /* first two ticks */
    assert_int_equal(count_cached(&f->cache, 2 * PER_TICK, max + 2 * PER_TICK, tick + 2), max);
}

static void test_bytes_beyond_bytes_max_evict_the_least_recently_used_first(void **state)
{
    struct fixture *f = *state;
    cache_alone(f);
    write_file(f, "full", SL_CACHE_FILE_MAX, 'f');
    struct sl_file_rep rep;
    int fd = open_rep(f, "full", &rep);
    char k[16];
    for (unsigned i = 0; i <= FULL_ENTRIES; i++) {
        struct sl_cache_entry *e =
            sl_cache_put(&f->cache, key_n(k, i), strlen(k), T0 + i, &rep, &fd);
        assert_non_null(e);
        sl_cache_release(&f->cache, e);
        if (i == FULL_ENTRIES - 1) /* exactly at the bound: all kept */
            assert_int_equal(f->cache.bytes, SL_CACHE_BYTES_MAX);
    }
    close(fd);
    assert_int_equal(f->cache.bytes, SL_CACHE_BYTES_MAX);
    assert_int_equal(f->cache.count, FULL_ENTRIES);
    assert_false(cached(&f->cache, key_n(k, 0), T0 + FULL_ENTRIES));
    assert_int_equal(count_cached(&f->cache, 1, FULL_ENTRIES + 1, T0 + FULL_ENTRIES), FULL_ENTRIES);
}

static void test_entries_hit_at_later_ticks_are_evicted_last_in_tick_order(void **state)
{
    struct fixture *f = *state;
    cache_alone(f);
    unsigned max = SL_CACHE_ENTRIES_MAX;
    uint64_t tick = put_missing_run(&f->cache, 0, max, T0) + 1;
    char k[16];
    /* Hits at one tick, one of them twice; then one at the next. */
    assert_true(cached(&f->cache, key_n(k, 0), tick));
    assert_true(cached(&f->cache, key_n(k, 2), tick));
    assert_true(cached(&f->cache, key_n(k, 0), tick));
    assert_true(cached(&f->cache, key_n(k, 1), tick + 1));

    /* As many new entries as old ones left unused: all of those go, so the three hit
     * stay (the cache holds its bound). */
    unsigned end = 2 * max - 3;
    tick = put_missing_run(&f->cache, max, end, tick + 1);
    assert_int_equal(f->cache.count, max);
    assert_int_equal(count_cached(&f->cache, 3, max, tick), 0);

    /* Two more: the two hit at the earlier tick go, the one hit at the later stays. */
    tick = put_missing_run(&f->cache, end, end + 2, tick + 1);
    assert_false(cached(&f->cache, key_n(k, 0), tick));
    assert_false(cached(&f->cache, key_n(k, 2), tick));
    assert_true(cached(&f->cache, key_n(k, 1), tick));
    assert_int_equal(count_cached(&f->cache, max, end + 2, tick), end + 2 - max);
}

/* ---- idle expiry ---- */

static void test_expire_drops_entries_unused_for_the_idle_time_and_keeps_used_ones(void **state)
{
    struct fixture *f = *state;
    write_file(f, "small", SMALL, 's');
    write_file(f, "big", BIG, 'b');
    write_file(f, "hot", SMALL, 'h');
    sl_cache_release(&f->cache, put(f, &f->cache, "small", T0));
    sl_cache_release(&f->cache, put(f, &f->cache, "hot", T0));
    put_missing(&f->cache, "gone", T0 + 500);
    struct sl_cache_entry *held = put(f, &f->cache, "big", T0 + 500);
    int held_fd = held->fd;
    assert_true(cached(&f->cache, "hot", T0 + 900)); /* a use keeps it */

    sl_cache_expire(&f->cache, T0 + SL_CACHE_IDLE_MS - 1);
    assert_int_equal(f->cache.count, 4);
    sl_cache_expire(&f->cache, T0 + SL_CACHE_IDLE_MS);
    assert_int_equal(f->cache.count, 3); /* small went */
    assert_int_equal(f->cache.bytes, SMALL);
    sl_cache_expire(&f->cache, T0 + 500 + SL_CACHE_IDLE_MS);
    assert_int_equal(f->cache.count, 1); /* gone and big went */
    assert_int_equal(f->cache.fds, 0);
    assert_true(fd_holds(held_fd, BIG, 'b')); /* still sending */
    sl_cache_release(&f->cache, held);
    assert_false(fd_open(held_fd));
    sl_cache_expire(&f->cache, T0 + 900 + SL_CACHE_IDLE_MS);
    assert_int_equal(f->cache.count, 0); /* hot went */
    assert_int_equal(f->cache.bytes, 0);
}

/* ---- references ---- */

static void test_entries_evicted_while_referenced_stay_valid_until_the_last_release(void **state)
{
    struct fixture *f = *state;
    write_file(f, "small", SMALL, 's');
    write_file(f, "big", BIG, 'b');
    struct sl_cache_entry *s1 = put(f, &f->cache, "small", T0);
    struct sl_cache_entry *s2 = hit(&f->cache, "small", T0);
    struct sl_cache_entry *big = put(f, &f->cache, "big", T0);
    int big_fd = big->fd;

    uint64_t tick = put_missing_run(&f->cache, 0, SL_CACHE_ENTRIES_MAX, T0 + 1);
    assert_false(cached(&f->cache, "small", tick));
    assert_false(cached(&f->cache, "big", tick));
    assert_int_equal(f->cache.count, SL_CACHE_ENTRIES_MAX);
    assert_int_equal(f->cache.bytes, 0);
    assert_int_equal(f->cache.fds, 0);

    sl_cache_release(&f->cache, s1);
    assert_true(all_bytes(s2->rep.data, SMALL, 's'));
    sl_cache_release(&f->cache, s2);
    assert_true(fd_holds(big_fd, BIG, 'b'));
    sl_cache_release(&f->cache, big);
    assert_false(fd_open(big_fd));
}

static void test_clear_drops_every_entry_and_held_ones_stay_valid_until_released(void **state)
{
    struct fixture *f = *state;
    write_file(f, "small", SMALL, 's');
    write_file(f, "big", BIG, 'b');
    struct sl_cache_entry *small = put(f, &f->cache, "small", T0);
    struct sl_cache_entry *big = put(f, &f->cache, "big", T0);
    int big_fd = big->fd;
    put_missing(&f->cache, "gone", T0);

    sl_cache_clear(&f->cache);
    assert_empty(&f->cache);
    assert_false(cached(&f->cache, "small", T0 + 1));
    assert_false(cached(&f->cache, "big", T0 + 1));
    assert_false(cached(&f->cache, "gone", T0 + 1));
    assert_true(all_bytes(small->rep.data, SMALL, 's'));
    assert_true(fd_holds(big_fd, BIG, 'b'));
    sl_cache_release(&f->cache, small);
    sl_cache_release(&f->cache, big);
    assert_false(fd_open(big_fd));

    sl_cache_release(&f->cache, put(f, &f->cache, "small", T0 + 2)); /* usable again */
    assert_true(cached(&f->cache, "small", T0 + 3));
}

/* ---- revisiting a held entry (the 404 page) ---- */

/* Whether revisiting e at now gives e back, referenced (the reference goes back at
 * once), as a get of its key would. */
static bool revisited(struct sl_cache *c, struct sl_cache_entry *e, uint64_t now)
{
    struct sl_cache_entry *got = sl_cache_revisit(c, e, now);
    if (got) {
        assert_ptr_equal(got, e);
        sl_cache_release(c, got);
    }
    return got != NULL;
}

static void test_a_held_entry_is_revisited_exactly_while_a_get_would_return_it(void **state)
{
    struct fixture *f = *state;
    write_file(f, "404.html", SMALL, 'a');
    write_file(f, "big.html", BIG, 'b');
    struct sl_cache_entry *page = put(f, &f->cache, "404.html", T0); /* held, as respond.c */
    struct sl_cache_entry *big = put(f, &f->cache, "big.html", T0);
    put_missing(&f->cache, "gone.html", T0);
    struct sl_cache_entry *gone = sl_cache_hold(hit(&f->cache, "gone.html", T0));
    sl_cache_release(&f->cache, gone); /* hit's reference; hold's stays */
    assert_true(revisited(&f->cache, page, T0 + SL_CACHE_TTL_MS - 1));
    assert_true(revisited(&f->cache, gone, T0 + SL_CACHE_TTL_MS - 1));
    assert_int_equal(page->refs, 1);
    assert_false(revisited(&f->cache, page, T0 + SL_CACHE_TTL_MS)); /* the TTL */

    /* Another loop saw the file change: not revisited until re-checked here. */
    replace_file(f, "big.html", BIG, 'c');
    sl_cache_release(&f->other, serve(f, &f->other, "big.html", T0 + 1));
    assert_false(revisited(&f->cache, big, T0 + 2));

    /* A descriptor entry's file changed in place: not revisited, and gone. */
    sl_cache_release(&f->cache, big);
    big = put(f, &f->cache, "big.html", T0 + 3);
    int fd = openat(f->dir_fd, "big.html", O_WRONLY | O_TRUNC | O_CLOEXEC);
    assert_true(fd >= 0);
    close(fd);
    assert_false(revisited(&f->cache, big, T0 + 4));
    assert_true(big->dead);
    sl_cache_release(&f->cache, big);

    /* Dropped from the cache (a rebuild): never revisited, even within the TTL. */
    sl_cache_clear(&f->cache);
    assert_false(revisited(&f->cache, gone, T0 + 5));
    sl_cache_release(&f->cache, gone);
    sl_cache_release(&f->cache, page);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_a_small_file_is_kept_in_memory_with_copies_of_its_name_and_fields),
        T(test_get_and_get_hashed_return_the_entry_for_its_key_only),
        T(test_a_larger_file_keeps_the_descriptor_the_cache_takes_from_the_caller),
        T(test_larger_files_beyond_max_fds_are_not_taken_but_small_ones_are),
        T(test_a_small_file_whose_size_changed_after_its_stat_is_not_cached),
        T(test_a_remembered_miss_is_returned_with_a_non_zero_status),
        T(test_a_file_put_at_a_remembered_miss_replaces_it_and_back),
        T(test_an_entry_is_not_returned_once_the_ttl_has_passed_since_its_check),
        T(test_a_replaced_file_gets_a_new_entry_and_the_old_stays_valid_while_held),
        T(test_a_new_generation_makes_every_entry_stale_until_re_checked),
        T(test_loops_that_checked_the_same_file_both_answer_from_their_entries),
        T(test_a_file_change_one_loop_has_seen_is_not_served_by_another),
        T(test_a_file_gone_for_one_loop_is_not_served_by_another),
        T(test_a_descriptor_entry_of_a_truncated_file_is_not_returned),
        T(test_a_descriptor_entry_of_a_file_rewritten_with_the_same_size_is_not_returned),
        T(test_a_descriptor_entry_of_a_touched_file_is_not_returned),
        T(test_a_descriptor_entry_of_a_file_rewritten_with_its_mtime_put_back_is_not_returned),
        T(test_entries_beyond_entries_max_evict_the_least_recently_used_first),
        T(test_bytes_beyond_bytes_max_evict_the_least_recently_used_first),
        T(test_entries_hit_at_later_ticks_are_evicted_last_in_tick_order),
        T(test_expire_drops_entries_unused_for_the_idle_time_and_keeps_used_ones),
        T(test_entries_evicted_while_referenced_stay_valid_until_the_last_release),
        T(test_clear_drops_every_entry_and_held_ones_stay_valid_until_released),
        T(test_a_held_entry_is_revisited_exactly_while_a_get_would_return_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
