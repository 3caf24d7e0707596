/* Unit tests for burst coalescing (src/burst.c): when a burst of file events settles,
 * and what its one notice says. Time is given, not read. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <stdio.h>
#include <string.h>

#include "sluice/burst.h"

#define RELOAD "event: reload\ndata: 1\n\n"

static struct sl_burst b;
static char msg[SL_BURST_MSG_MAX + 1];

static int setup(void **state)
{
    sl_burst_init(&b);
    return 0;
}

static void add(uint64_t t, const char *rel)
{
    sl_burst_add(&b, t, rel, strlen(rel));
}

/* The notice taken at t, NUL-terminated ("" when none is due). */
static const char *take(uint64_t t)
{
    size_t n = sl_burst_take(&b, t, msg, sizeof(msg) - 1);
    msg[n] = '\0';
    return msg;
}

static void test_nothing_is_due_without_events(void **state)
{
    assert_true(sl_burst_due(&b) == SL_BURST_NONE);
    assert_string_equal(take(5000), "");
}

static void test_one_edit_reloads_after_the_quiet_time(void **state)
{
    add(1000, "index.html");
    assert_int_equal(sl_burst_due(&b), 1000 + SL_BURST_QUIET_MS);
    assert_string_equal(take(1000 + SL_BURST_QUIET_MS - 1), "");
    assert_string_equal(take(1000 + SL_BURST_QUIET_MS), RELOAD);
    /* Taken: the next burst starts afresh. */
    assert_true(sl_burst_due(&b) == SL_BURST_NONE);
    assert_string_equal(take(9000), "");
}

static void test_each_event_pushes_the_notice_back_by_the_quiet_time(void **state)
{
    add(0, "a.html");
    add(60, "b.html");
    add(150, "c.html");
    assert_int_equal(sl_burst_due(&b), 150 + SL_BURST_QUIET_MS);
    assert_string_equal(take(200), "");
    assert_string_equal(take(250), RELOAD);
}

static void test_a_thousand_files_in_half_a_second_make_one_notice(void **state)
{
    int notices = 0;
    char name[32];
    for (uint64_t t = 0; t < 500; t++) {
        snprintf(name, sizeof(name), "page%llu.html", (unsigned long long)t);
        add(t, name);
        add(t, name);
        notices += take(t)[0] != '\0';
    }
    for (uint64_t t = 500; t < 3000; t += 10)
        notices += take(t)[0] != '\0';
    assert_int_equal(notices, 1);
}

static void test_a_burst_that_never_pauses_is_noticed_at_the_latest_after_the_max(void **state)
{
    for (uint64_t t = 0; t < SL_BURST_MAX_MS; t += 50) {
        add(t, "log.txt");
        assert_string_equal(take(t), "");
    }
    add(SL_BURST_MAX_MS - 1, "log.txt");
    assert_int_equal(sl_burst_due(&b), SL_BURST_MAX_MS);
    assert_string_equal(take(SL_BURST_MAX_MS), RELOAD);
    /* What comes after starts a new burst with its own limit. */
    add(SL_BURST_MAX_MS + 10, "log.txt");
    assert_int_equal(sl_burst_due(&b), SL_BURST_MAX_MS + 10 + SL_BURST_QUIET_MS);
}

static void test_stylesheets_alone_are_named_once_each_without_a_reload(void **state)
{
    add(0, "css/site.css");
    add(1, "css/site.css");
    add(2, "print.CSS");
    assert_string_equal(take(500), "event: css\ndata: [\"/css/site.css\",\"/print.CSS\"]\n\n");
}

static void test_a_stylesheet_and_anything_else_reload(void **state)
{
    add(0, "css/site.css");
    add(1, "index.html");
    add(2, "other.css");
    assert_string_equal(take(500), RELOAD);
}

static void test_editor_backups_are_left_out(void **state)
{
    add(0, "index.html~");
    assert_true(sl_burst_due(&b) == SL_BURST_NONE);
    add(10, "site.css~");
    add(10, "site.css");
    assert_string_equal(take(500), "event: css\ndata: [\"/site.css\"]\n\n");
}

static void test_stylesheet_names_are_json_escaped(void **state)
{
    add(0, "a \"b\"\\c\n.css");
    assert_string_equal(take(500), "event: css\ndata: [\"/a \\\"b\\\"\\\\c\\n.css\"]\n\n");
}

static void test_more_stylesheets_than_fit_ask_for_all_of_them(void **state)
{
    char name[64];
    for (int i = 0; i < 200; i++) {
        snprintf(name, sizeof(name), "styles/sheet-%03d.css", i);
        add((uint64_t)i, name);
    }
    assert_string_equal(take(1000), "event: css\ndata: []\n\n");
}

static void test_a_tree_change_reloads_whatever_else_changed(void **state)
{
    add(0, "site.css");
    sl_burst_add_reload(&b, 30);
    assert_int_equal(sl_burst_due(&b), 30 + SL_BURST_QUIET_MS);
    assert_string_equal(take(130), RELOAD);
}

static void test_a_buffer_too_small_for_any_notice_gets_none(void **state)
{
    add(0, "index.html");
    char small[16];
    assert_int_equal(sl_burst_take(&b, 500, small, sizeof(small)), 0);
    assert_string_equal(take(500), RELOAD);
}

#define T(f) cmocka_unit_test_setup(f, setup)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_nothing_is_due_without_events),
        T(test_one_edit_reloads_after_the_quiet_time),
        T(test_each_event_pushes_the_notice_back_by_the_quiet_time),
        T(test_a_thousand_files_in_half_a_second_make_one_notice),
        T(test_a_burst_that_never_pauses_is_noticed_at_the_latest_after_the_max),
        T(test_stylesheets_alone_are_named_once_each_without_a_reload),
        T(test_a_stylesheet_and_anything_else_reload),
        T(test_editor_backups_are_left_out),
        T(test_stylesheet_names_are_json_escaped),
        T(test_more_stylesheets_than_fit_ask_for_all_of_them),
        T(test_a_tree_change_reloads_whatever_else_changed),
        T(test_a_buffer_too_small_for_any_notice_gets_none),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
