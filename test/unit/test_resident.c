/* Unit tests for src/resident.c: the residency probes agree with what the page cache
 * holds, on a file the test writes, then evicts, then reads back in. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "sluice/resident.h"

#define SMALL (40u << 10)
#define LARGE (6u << 20)

struct fixture {
    char dir[64];
    char path[96];
    int fd;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    /* Not /dev/shm: tmpfs pages cannot be evicted. The build directory is on a disk. */
    snprintf(f->dir, sizeof(f->dir), "resident-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof(f->path), "%s/file", f->dir);
    f->fd = open(f->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    *state = f;
    return f->fd >= 0 ? 0 : -1;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    close(f->fd);
    unlink(f->path);
    rmdir(f->dir);
    free(f);
    return 0;
}

static void fill(int fd, size_t size)
{
    char block[4096];
    memset(block, 'x', sizeof(block));
    for (size_t at = 0; at < size; at += sizeof(block))
        assert_int_equal(pwrite(fd, block, sizeof(block), (off_t)at), sizeof(block));
}

/* How many pages of [0, size) of fd are in the page cache and up to date, told by mincore,
 * which starts no read (a peek that misses may start the kernel's readahead). */
static size_t resident_pages(int fd, size_t size)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t pages = (size + page - 1) / page;
    void *map = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
    assert_true(map != MAP_FAILED);
    unsigned char *vec = malloc(pages);
    assert_non_null(vec);
    assert_int_equal(mincore(map, size, vec), 0);
    size_t n = 0;
    for (size_t i = 0; i < pages; i++)
        n += vec[i] & 1;
    free(vec);
    munmap(map, size);
    return n;
}

#define EVICT_SECONDS 10

/* Drops every page of the file; false when this file system keeps them (tmpfs, ramfs, or
 * none has left after EVICT_SECONDS of asking). DONTNEED passes over a page that someone
 * else holds at that moment (a sync(2) waiting on writeback holds a batch of 31, reclaim
 * or compaction one), and a loaded machine has more such moments: so it is asked again
 * until mincore sees the whole file gone, not only its first page. */
static bool evict(int fd, size_t size)
{
    struct statfs fs;
    assert_int_equal(fstatfs(fd, &fs), 0);
    if (fs.f_type == TMPFS_MAGIC || fs.f_type == RAMFS_MAGIC)
        return false;
    size_t all = resident_pages(fd, size), left;
    struct timespec start, now, poll = {0, 1000000};
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        fsync(fd);
        posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        left = resident_pages(fd, size);
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (left == 0 || now.tv_sec - start.tv_sec > EVICT_SECONDS)
            break;
        nanosleep(&poll, NULL);
    }
    if (left == 0 || left == all)
        return left == 0;
    fail_msg("%zu of %zu pages still cached after %d s of evicting", left, all, EVICT_SECONDS);
    return false;
}

static void test_peek_sees_written_pages_and_then_their_eviction(void **state)
{
    struct fixture *f = *state;
    fill(f->fd, SMALL);
    assert_int_equal(sl_resident_peek(f->fd, 0, SMALL), 1);
    /* A peek that misses starts the kernel reading the pages in (RWF_NOWAIT does not stop
     * its readahead), and on a loaded machine that read can end before the kernel looks at
     * the page again, so the peek copies it and rightly says 1: one 1 proves nothing. A
     * peek that wrongly calls evicted pages resident says 1 every time, so evict and peek
     * again, a bounded number of times, until one misses. */
    int peek = 1;
    for (int i = 0; i < 10 && peek == 1; i++) {
        if (!evict(f->fd, SMALL))
            skip();
        peek = sl_resident_peek(f->fd, 0, SMALL);
    }
    assert_int_equal(peek, 0);
    char buf[4096];
    assert_int_equal(pread(f->fd, buf, sizeof(buf), 8192), sizeof(buf)); /* read back */
    assert_int_equal(sl_resident_peek(f->fd, 8192, 4096), 1);
}

static void test_peek_refuses_more_than_its_scratch(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(sl_resident_peek(f->fd, 0, SL_RESIDENT_PEEK_MAX + 1), -EINVAL);
}

static void test_probe_tells_a_window_of_a_large_file(void **state)
{
    struct fixture *f = *state;
    fill(f->fd, LARGE);
    struct sl_resident r = {0};
    assert_int_equal(sl_resident_probe(&r, f->fd, LARGE, 0, SL_RESIDENT_WINDOW), 1);
    if (!evict(f->fd, LARGE)) {
        sl_resident_release(&r);
        skip();
    }
    assert_int_equal(sl_resident_probe(&r, f->fd, LARGE, 0, SL_RESIDENT_WINDOW), 0);
    sl_resident_fetch(f->fd, SL_RESIDENT_WINDOW, SL_RESIDENT_WINDOW, 0);
    assert_int_equal(sl_resident_probe(&r, f->fd, LARGE, SL_RESIDENT_WINDOW, SL_RESIDENT_WINDOW),
                     1);
    r.lo = 1;
    r.hi = 2;
    sl_resident_release(&r);
    assert_null(r.map);
    assert_true(r.lo == 0 && r.hi == 0 && r.len == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_peek_sees_written_pages_and_then_their_eviction, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_peek_refuses_more_than_its_scratch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_probe_tells_a_window_of_a_large_file, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
