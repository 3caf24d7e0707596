/* Unit tests for the openat2-less fallback walk (sl_open_beneath_walk): it must follow
 * symlinks that stay beneath the root and refuse everything else, agreeing with
 * openat2(RESOLVE_BENEATH) on every case. */
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

#include "sluice/beneath.h"

static char base[64];
static int root_fd = -1;

static void put_file(const char *rel, const char *text)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", base, rel);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void put_link(const char *target, const char *rel)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", base, rel);
    assert_int_equal(symlink(target, path), 0);
}

/* base/outside.txt lies outside the root base/root. */
static int tree_setup(void **state)
{
    strcpy(base, "/tmp/sluice-test-router-XXXXXX");
    if (!mkdtemp(base))
        return -1;
    char path[256];
    snprintf(path, sizeof(path), "%s/root", base);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/root/sub", base);
    mkdir(path, 0755);
    put_file("outside.txt", "secret");
    put_file("root/a.txt", "a");
    put_file("root/sub/b.txt", "b");
    put_link("a.txt", "root/in");
    put_link("in", "root/chain");
    put_link("sub", "root/dirlink");
    put_link("../a.txt", "root/sub/back");
    put_link("..", "root/sub/parent");
    put_link("../outside.txt", "root/up");
    put_link("../../outside.txt", "root/sub/esc");
    put_link("/etc/passwd", "root/abs");
    put_link("loop2", "root/loop1");
    put_link("loop1", "root/loop2");
    snprintf(path, sizeof(path), "%s/root", base);
    root_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return root_fd >= 0 ? 0 : -1;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static int tree_teardown(void **state)
{
    close(root_fd);
    return nftw(base, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Opens rel with the walk and returns the file's first byte, or the negative errno. */
static int first_byte(const char *rel)
{
    int fd = sl_open_beneath_walk(root_fd, rel, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fd;
    char c = 0;
    ssize_t n = read(fd, &c, 1);
    close(fd);
    return n == 1 ? c : -EIO;
}

static void test_walk_opens_plain_files_and_nested_ones(void **state)
{
    assert_int_equal(first_byte("a.txt"), 'a');
    assert_int_equal(first_byte("sub/b.txt"), 'b');
    assert_int_equal(first_byte("sub//b.txt"), 'b');
    assert_int_equal(first_byte("missing.txt"), -ENOENT);
    assert_int_equal(first_byte("a.txt/x"), -ENOTDIR);
}

static void test_walk_follows_symlinks_that_stay_beneath_the_root(void **state)
{
    assert_int_equal(first_byte("in"), 'a');
    assert_int_equal(first_byte("chain"), 'a');
    assert_int_equal(first_byte("dirlink/b.txt"), 'b');
    assert_int_equal(first_byte("sub/back"), 'a');
    assert_int_equal(first_byte("sub/parent/a.txt"), 'a');
    assert_int_equal(first_byte("dirlink/parent/sub/b.txt"), 'b');
}

static void test_walk_refuses_symlinks_leading_out_of_the_root(void **state)
{
    assert_int_equal(first_byte("up"), -EXDEV);
    assert_int_equal(first_byte("sub/esc"), -EXDEV);
    assert_int_equal(first_byte("abs"), -EXDEV);
    assert_int_equal(first_byte("sub/parent/up"), -EXDEV);
    assert_int_equal(first_byte("sub/parent/sub/parent/../outside.txt"), -EXDEV);
}

static void test_walk_refuses_dot_dot_above_the_root(void **state)
{
    assert_int_equal(first_byte(".."), -EXDEV);
    assert_int_equal(first_byte("../outside.txt"), -EXDEV);
    assert_int_equal(first_byte("sub/../../outside.txt"), -EXDEV);
}

static void test_walk_stops_symlink_loops(void **state)
{
    assert_int_equal(first_byte("loop1"), -ELOOP);
}

static void test_walk_opens_the_root_itself_for_an_empty_path(void **state)
{
    int fd = sl_open_beneath_walk(root_fd, "", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(fd >= 0);
    struct stat a, b;
    assert_int_equal(fstat(fd, &a), 0);
    assert_int_equal(fstat(root_fd, &b), 0);
    assert_int_equal(a.st_ino, b.st_ino);
    close(fd);
}

static void test_walk_agrees_with_openat2_on_every_case(void **state)
{
    static const char *cases[] = {
        "a.txt", "sub/b.txt", "in",  "chain", "dirlink/b.txt", "sub/back", "sub/parent/a.txt",
        "up",    "sub/esc",   "abs", "loop1", "missing.txt",   "a.txt/x",  "dirlink",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int a = sl_open_beneath(root_fd, cases[i], O_RDONLY | O_CLOEXEC);
        int b = sl_open_beneath_walk(root_fd, cases[i], O_RDONLY | O_CLOEXEC);
        if ((a >= 0) != (b >= 0))
            fail_msg("%s: openat2 gave %d, the walk %d", cases[i], a, b);
        if (a >= 0)
            close(a);
        if (b >= 0)
            close(b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_walk_opens_plain_files_and_nested_ones),
        cmocka_unit_test(test_walk_follows_symlinks_that_stay_beneath_the_root),
        cmocka_unit_test(test_walk_refuses_symlinks_leading_out_of_the_root),
        cmocka_unit_test(test_walk_refuses_dot_dot_above_the_root),
        cmocka_unit_test(test_walk_stops_symlink_loops),
        cmocka_unit_test(test_walk_opens_the_root_itself_for_an_empty_path),
        cmocka_unit_test(test_walk_agrees_with_openat2_on_every_case),
    };
    return cmocka_run_group_tests(tests, tree_setup, tree_teardown);
}
