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
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* Drops the file's pages; false when this file system keeps them (tmpfs, overlay). Told
 * by mincore, which starts no read (a peek that misses may start the kernel's
 * readahead, so only the first peek after an eviction is sure to miss). */
static bool evict(int fd, size_t size)
{
    fsync(fd);
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    struct sl_resident r = {0};
    bool gone = sl_resident_probe(&r, fd, size, 0, 4096) == 0;
    sl_resident_release(&r);
    return gone;
}

static void test_peek_sees_written_pages_and_then_their_eviction(void **state)
{
    struct fixture *f = *state;
    fill(f->fd, SMALL);
    assert_int_equal(sl_resident_peek(f->fd, 0, SMALL), 1);
    if (!evict(f->fd, SMALL))
        skip();
    assert_int_equal(sl_resident_peek(f->fd, 0, SMALL), 0);
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
        cmocka_unit_test_setup_teardown(test_peek_sees_written_pages_and_then_their_eviction,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_peek_refuses_more_than_its_scratch, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_probe_tells_a_window_of_a_large_file, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
