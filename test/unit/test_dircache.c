/* Unit tests for the directory cache (src/dircache.c) on a real libuv loop and thread
 * pool over temporary directories: reads are shared, kept, refused, queued and dropped
 * as dircache.h says, waiters are woken exactly once or, once gone, never. */
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
#include <time.h>
#include <unistd.h>

#include "sluice/dircache.h"

#define OLD ((time_t)1600000000) /* an mtime long past: lists of it are kept */
#define NOW ((time_t)0)          /* make_dir: the mtime is now, to the nanosecond */

struct fixture {
    char path[64];
    int root_fd;
    uv_loop_t loop;
    struct sl_config cfg;
    struct sl_dircache dc;
    uint64_t now; /* the loop clock the cache is given */
};

/* A waiter that counts its wake-ups. */
struct waiter {
    struct sl_wait w; /* first */
    int woken;
};

static void on_wake(struct sl_wait *w)
{
    ((struct waiter *)w)->woken++;
}

static void waiter_init(struct waiter *t)
{
    memset(t, 0, sizeof(*t));
    t->w.wake = on_wake;
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    return remove(path);
}

static void make_file(int dirfd, const char *name)
{
    int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    struct timespec times[2] = {{.tv_sec = OLD}, {.tv_sec = OLD}};
    assert_int_equal(futimens(fd, times), 0);
    assert_int_equal(close(fd), 0);
}

/* Directory `name` under the root with `files` files, its own mtime set to `mtime`
 * (NOW: the current time). */
static void make_dir(struct fixture *f, const char *name, int files, time_t mtime)
{
    assert_int_equal(mkdirat(f->root_fd, name, 0755), 0);
    int fd = openat(f->root_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(fd >= 0);
    for (int i = 0; i < files; i++) {
        char file[32];
        snprintf(file, sizeof(file), "file-%d.txt", i);
        make_file(fd, file);
    }
    struct timespec t =
        mtime == NOW ? (struct timespec){.tv_nsec = UTIME_NOW} : (struct timespec){.tv_sec = mtime};
    struct timespec times[2] = {t, t};
    assert_int_equal(futimens(fd, times), 0);
    close(fd);
}

static void cache_init(struct fixture *f, size_t max_bytes)
{
    sl_dircache_init(&f->dc, &f->loop, &f->cfg, max_bytes);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    strcpy(f->path, "/tmp/sluice-test-dircache-XXXXXX");
    if (!mkdtemp(f->path) || uv_loop_init(&f->loop) != 0)
        return -1;
    f->root_fd = open(f->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    f->cfg = (struct sl_config){.listing = true, .listing_max_entries = 1000, .threads = 1};
    f->now = 10000;
    cache_init(f, SL_DIRCACHE_BYTES);
    *state = f;
    return f->root_fd >= 0 ? 0 : -1;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    sl_dircache_clear(&f->dc);
    assert_int_equal(f->dc.keep.bytes, 0); /* every list freed */
    assert_int_equal(uv_loop_close(&f->loop), 0);
    close(f->root_fd);
    int rc = nftw(f->path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return rc;
}

/* Asks for the list of directory `name` as respond.c does: opened and stat'ed first. */
static int get(struct fixture *f, const char *name, struct waiter *t, struct sl_dirlist **out)
{
    int fd = openat(f->root_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    *out = NULL;
    return sl_dircache_get(&f->dc, fd, &st, f->root_fd, name, f->now, &t->w, out);
}

/* A list that is ready now. */
static struct sl_dirlist *get_ready(struct fixture *f, const char *name, struct waiter *t)
{
    struct sl_dirlist *d;
    assert_int_equal(get(f, name, t, &d), 0);
    assert_non_null(d);
    return d;
}

/* Waits for the read w waits for and takes what it left. */
static struct sl_dirlist *get_after_read(struct fixture *f, const char *name, struct waiter *t)
{
    struct sl_dirlist *d;
    assert_int_equal(get(f, name, t, &d), SL_KEPT_WAIT);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(t->woken, 1);
    return get_ready(f, name, t);
}

static void test_requests_for_one_directory_share_one_read_in_the_pool(void **state)
{
    struct fixture *f = *state;
    make_dir(f, "d", 3, OLD);
    struct waiter a, b;
    waiter_init(&a);
    waiter_init(&b);
    struct sl_dirlist *d;
    assert_int_equal(get(f, "d", &a, &d), SL_KEPT_WAIT);
    assert_int_equal(get(f, "d", &b, &d), SL_KEPT_WAIT);
    assert_int_equal(f->dc.keep.making, 1); /* b joined a's read */
    assert_int_equal(a.woken + b.woken, 0);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(a.woken, 1);
    assert_int_equal(b.woken, 1);
    assert_non_null(a.w.got);
    assert_ptr_equal(a.w.got, b.w.got);
    assert_int_equal(f->dc.keep.making, 0);

    struct sl_dirlist *da = get_ready(f, "d", &a);
    struct sl_dirlist *db = get_ready(f, "d", &b);
    assert_ptr_equal(da, db);
    assert_null(a.w.got);
    assert_int_equal(da->status, 0);
    assert_int_equal(da->list.count, 3);
    assert_int_equal(da->kept.refs, 2);
    sl_dirlist_release(da);
    sl_dirlist_release(db);
}

static void test_a_kept_list_answers_a_later_request_without_a_read(void **state)
{
    struct fixture *f = *state;
    make_dir(f, "d", 2, OLD);
    struct waiter a, b;
    waiter_init(&a);
    waiter_init(&b);
    struct sl_dirlist *first = get_after_read(f, "d", &a);
    sl_dirlist_release(first);
    f->now += SL_DIRCACHE_TTL_MS - 1;
    struct sl_dirlist *again = get_ready(f, "d", &b);
    assert_ptr_equal(again, first);
    assert_int_equal(b.woken, 0);
    sl_dirlist_release(again);
}

static void test_a_list_older_than_the_ttl_is_read_again(void **state)
{
    struct fixture *f = *state;
    make_dir(f, "d", 2, OLD);
    struct waiter a, b;
    waiter_init(&a);
    waiter_init(&b);
    sl_dirlist_release(get_after_read(f, "d", &a));
    f->now += SL_DIRCACHE_TTL_MS;
    struct sl_dirlist *d = get_after_read(f, "d", &b);
    sl_dirlist_release(d);
}

static void test_a_changed_directory_is_read_again_at_once(void **state)
{
    struct fixture *f = *state;
    make_dir(f, "d", 2, OLD);
    struct waiter a, b;
    waiter_init(&a);
    waiter_init(&b);
    struct sl_dirlist *before = get_after_read(f, "d", &a);
    int fd = openat(f->root_fd, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    make_file(fd, "new.txt");
    struct timespec times[2] = {{.tv_sec = OLD + 60}, {.tv_sec = OLD + 60}};
    assert_int_equal(futimens(fd, times), 0);
    close(fd);
    struct sl_dirlist *after = get_after_read(f, "d", &b);
    assert_ptr_not_equal(after, before);
    assert_int_equal(before->list.count, 2);
    assert_int_equal(after->list.count, 3);
    sl_dirlist_release(before);
    sl_dirlist_release(after);
}

static void test_a_directory_changed_just_now_is_read_again_for_a_later_request(void **state)
{
    struct fixture *f = *state;
    make_dir(f, "d", 2, NOW);
    struct waiter a, b;
    waiter_init(&a);
    waiter_init(&b);
    struct sl_dirlist *first = get_after_read(f, "d", &a);
    assert_int_equal(first->list.count, 2); /* its waiter is answered from it */
    struct sl_dirlist *d;
    assert_int_equal(get(f, "d", &b, &d), SL_KEPT_WAIT);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    struct sl_dirlist *second = get_ready(f, "d", &b);
    assert_ptr_not_equal(second, first);
    sl_dirlist_release(first);
    sl_dirlist_release(second);
}

static void test_a_waiter_that_went_away_is_not_woken_and_the_read_is_kept(void **state)
{
    struct fixture *f = *state;
    make_dir(f, "d", 2, OLD);
    struct waiter a, b;
    waiter_init(&a);
    waiter_init(&b);
    struct sl_dirlist *d;
    assert_int_equal(get(f, "d", &a, &d), SL_KEPT_WAIT);
    sl_wait_cancel(&a.w); /* the connection closed while its directory was read */
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(a.woken, 0);
    assert_null(a.w.got);
    d = get_ready(f, "d", &b);
    assert_int_equal(d->list.count, 2);
    sl_dirlist_release(d);
}

static void test_a_waiter_that_goes_away_after_waking_lets_its_list_go(void **state)
{
    struct fixture *f = *state;
    make_dir(f, "d", 2, NOW); /* not kept: only the waiter holds it */
    struct waiter a;
    waiter_init(&a);
    struct sl_dirlist *d;
    assert_int_equal(get(f, "d", &a, &d), SL_KEPT_WAIT);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_non_null(a.w.got);
    assert_true(f->dc.keep.bytes > 0);
    sl_wait_cancel(&a.w);
    assert_null(a.w.got);
    assert_int_equal(f->dc.keep.bytes, 0); /* freed with its last reference */
}

static void test_lists_in_use_past_the_bound_refuse_another(void **state)
{
    struct fixture *f = *state;
    sl_dircache_clear(&f->dc);
    cache_init(f, 1); /* any two lists are over the bound, one alone is allowed */
    make_dir(f, "a", 2, OLD);
    make_dir(f, "b", 2, OLD);
    struct waiter a, b, c;
    waiter_init(&a);
    waiter_init(&b);
    waiter_init(&c);
    struct sl_dirlist *la = get_after_read(f, "a", &a);
    assert_int_equal(la->status, 0);
    struct sl_dirlist *lb = get_after_read(f, "b", &b);
    assert_int_equal(lb->status, -ENOBUFS);
    assert_int_equal(lb->list.count, 0);
    sl_dirlist_release(lb);
    sl_dirlist_release(la);
    /* Nothing in use now: b alone is allowed, and a, unused, makes room for it. */
    struct sl_dirlist *again = get_after_read(f, "b", &c);
    assert_int_equal(again->status, 0);
    assert_int_equal(f->dc.keep.bytes, again->kept.bytes);
    sl_dirlist_release(again);
}

static void test_more_directories_than_read_slots_wait_for_a_slot(void **state)
{
    struct fixture *f = *state;
    const char *names[] = {"a", "b", "c"};
    struct waiter t[3];
    _Static_assert(SL_DIRCACHE_READS == 2, "three directories are one more than the slots");
    for (int i = 0; i < 3; i++) {
        make_dir(f, names[i], i + 1, OLD);
        waiter_init(&t[i]);
        struct sl_dirlist *d;
        assert_int_equal(get(f, names[i], &t[i], &d), SL_KEPT_WAIT);
    }
    assert_int_equal(f->dc.keep.making, 2);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    for (int i = 0; i < 3; i++)
        assert_int_equal(t[i].woken, 1);
    assert_null(t[2].w.got); /* woken for a slot: it asks again */
    struct sl_dirlist *d;
    assert_int_equal(get(f, "c", &t[2], &d), SL_KEPT_WAIT);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    for (int i = 0; i < 3; i++) {
        d = get_ready(f, names[i], &t[i]);
        assert_int_equal(d->list.count, (size_t)i + 1);
        sl_dirlist_release(d);
    }
}

static void test_expire_drops_unused_lists_past_the_ttl_and_keeps_used_ones(void **state)
{
    struct fixture *f = *state;
    make_dir(f, "a", 1, OLD);
    make_dir(f, "b", 1, OLD);
    struct waiter a, b;
    waiter_init(&a);
    waiter_init(&b);
    struct sl_dirlist *la = get_after_read(f, "a", &a);
    struct sl_dirlist *lb = get_after_read(f, "b", &b);
    sl_dirlist_release(la);
    size_t kept = lb->kept.bytes;
    sl_dircache_expire(&f->dc, f->now + SL_DIRCACHE_TTL_MS);
    assert_int_equal(f->dc.keep.bytes, kept); /* a is gone, b is in use */
    sl_dirlist_release(lb);
    sl_dircache_expire(&f->dc, f->now + SL_DIRCACHE_TTL_MS);
    assert_int_equal(f->dc.keep.bytes, 0);
}

static void test_a_directory_over_the_entry_limit_is_efbig(void **state)
{
    struct fixture *f = *state;
    f->cfg.listing_max_entries = 2;
    make_dir(f, "d", 3, OLD);
    struct waiter a;
    waiter_init(&a);
    struct sl_dirlist *d = get_after_read(f, "d", &a);
    assert_int_equal(d->status, -EFBIG);
    sl_dirlist_release(d);
}

static void test_without_a_loop_the_list_is_read_at_once(void **state)
{
    struct fixture *f = *state;
    sl_dircache_clear(&f->dc);
    sl_dircache_init(&f->dc, NULL, &f->cfg, SL_DIRCACHE_BYTES);
    make_dir(f, "d", 4, OLD);
    struct waiter a;
    waiter_init(&a);
    struct sl_dirlist *d = get_ready(f, "d", &a);
    assert_int_equal(d->list.count, 4);
    assert_int_equal(a.woken, 0);
    sl_dirlist_release(d);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_requests_for_one_directory_share_one_read_in_the_pool),
        T(test_a_kept_list_answers_a_later_request_without_a_read),
        T(test_a_list_older_than_the_ttl_is_read_again),
        T(test_a_changed_directory_is_read_again_at_once),
        T(test_a_directory_changed_just_now_is_read_again_for_a_later_request),
        T(test_a_waiter_that_went_away_is_not_woken_and_the_read_is_kept),
        T(test_a_waiter_that_goes_away_after_waking_lets_its_list_go),
        T(test_lists_in_use_past_the_bound_refuse_another),
        T(test_more_directories_than_read_slots_wait_for_a_slot),
        T(test_expire_drops_unused_lists_past_the_ttl_and_keeps_used_ones),
        T(test_a_directory_over_the_entry_limit_is_efbig),
        T(test_without_a_loop_the_list_is_read_at_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
