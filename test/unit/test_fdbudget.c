/* Unit tests for the descriptor budget (src/fdbudget.c): whatever the limit, the
 * threads and the cap asked for, everything counted fits in the table. */
/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "sluice/fdbudget.h"

#define INHERITED 5 /* stdio, the root, the log */

/* Every descriptor the process may hold at once under budget b: sockets, and the body
 * files each loop's responses may own. */
static unsigned long peak(const struct sl_fd_budget *b, unsigned threads)
{
    return INHERITED + SL_FDS_PROCESS +
           (unsigned long)threads * (SL_FDS_PER_LOOP + b->cache_fds + b->files_per_loop) +
           b->max_conns;
}

static void test_everything_counted_fits_in_the_table_for_any_limit_threads_and_cap(void **state)
{
    unsigned long limits[] = {64, 100, 256, 1024, 4096, 20000, 1048576};
    unsigned wanted[] = {0, 1, 10, 1000, 16384};
    for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
        for (unsigned threads = 1; threads <= 16; threads++) {
            for (size_t w = 0; w < sizeof(wanted) / sizeof(wanted[0]); w++) {
                struct sl_fd_budget b;
                if (sl_fd_budget(limits[i], INHERITED, threads, wanted[w], &b) != 0)
                    continue;
                assert_true(peak(&b, threads) <= limits[i]);
                assert_true(b.max_conns >= threads); /* each loop may take one */
                assert_true(b.files_per_loop >= SL_FDS_FILES_MIN);
                assert_true(b.ceiling > 0 && (unsigned long)b.ceiling < limits[i]);
            }
        }
    }
}

static void test_by_default_every_connection_can_send_a_file_at_once(void **state)
{
    for (unsigned threads = 1; threads <= 8; threads++) {
        struct sl_fd_budget b;
        assert_int_equal(sl_fd_budget(256, INHERITED, threads, 0, &b), 0);
        assert_true(b.files_per_loop >= b.max_conns / threads);
    }
}

static void test_256_descriptors_and_2_threads_carry_about_90_connections(void **state)
{
    struct sl_fd_budget b;
    assert_int_equal(sl_fd_budget(256, INHERITED, 2, 0, &b), 0);
    assert_true(b.max_conns >= 80 && b.max_conns <= 120);
    assert_int_equal(b.cache_fds, 8); /* 256 / 16 / 2 */
}

static void test_a_larger_cap_is_kept_for_sockets_and_leaves_the_rest_for_files(void **state)
{
    struct sl_fd_budget b;
    /* bench/run's scenario f: 16,384 connections under a limit of 20,000. */
    assert_int_equal(sl_fd_budget(20000, INHERITED, 1, 16384, &b), 0);
    assert_int_equal(b.max_conns, 16384);
    assert_true(b.files_per_loop > 3000);
    assert_int_equal(sl_fd_budget(256, INHERITED, 2, 10, &b), 0);
    assert_int_equal(b.max_conns, 10);
}

static void test_a_cap_leaving_no_room_for_files_is_lowered(void **state)
{
    struct sl_fd_budget b;
    assert_int_equal(sl_fd_budget(64, INHERITED, 1, 1000, &b), 0);
    assert_true(b.max_conns < 64);
    assert_int_equal(b.files_per_loop, SL_FDS_FILES_MIN);
}

static void test_a_limit_too_small_for_the_loops_is_refused(void **state)
{
    struct sl_fd_budget b;
    assert_int_equal(sl_fd_budget(64, INHERITED, 8, 0, &b), -1);
    assert_int_equal(sl_fd_budget(16, INHERITED, 1, 0, &b), -1);
    assert_int_equal(sl_fd_budget(64, INHERITED, 2, 0, &b), 0);
}

static void test_threads_are_lowered_to_what_the_limit_carries(void **state)
{
    assert_int_equal(sl_fd_budget_threads(20000, INHERITED, 8, 4), 8);
    unsigned t = sl_fd_budget_threads(64, INHERITED, 8, 4);
    assert_true(t >= 1 && t < 8);
    struct sl_fd_budget b;
    assert_int_equal(sl_fd_budget(64, INHERITED, t, 0, &b), 0);
    assert_true(b.max_conns >= 4 * t);
    assert_int_equal(sl_fd_budget_threads(16, INHERITED, 8, 4), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_everything_counted_fits_in_the_table_for_any_limit_threads_and_cap),
        cmocka_unit_test(test_by_default_every_connection_can_send_a_file_at_once),
        cmocka_unit_test(test_256_descriptors_and_2_threads_carry_about_90_connections),
        cmocka_unit_test(test_a_larger_cap_is_kept_for_sockets_and_leaves_the_rest_for_files),
        cmocka_unit_test(test_a_cap_leaving_no_room_for_files_is_lowered),
        cmocka_unit_test(test_a_limit_too_small_for_the_loops_is_refused),
        cmocka_unit_test(test_threads_are_lowered_to_what_the_limit_carries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
