/* Unit tests for the string buffer (src/buf.c): fixed mode never writes past its array
 * and its overflow is sticky; growing mode grows, hands its string over and fails cleanly. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <stdlib.h>
#include <string.h>

#include "sluice/buf.h"

/* ---- fixed mode ---- */

static void test_overflow_is_sticky_and_never_writes_past_cap(void **state)
{
    char mem[16];
    memset(mem, 'x', sizeof(mem));
    struct sl_buf b = sl_buf_make(mem, 10);
    sl_buf_puts(&b, "0123456789A");
    assert_true(b.overflow);
    assert_int_equal(b.len, 0);
    sl_buf_puts(&b, "ab");
    assert_true(b.overflow);
    assert_int_equal(b.len, 0);
    assert_int_equal(mem[10], 'x');
}

static void test_exact_fit_is_not_overflow(void **state)
{
    char mem[4];
    struct sl_buf b = sl_buf_make(mem, sizeof(mem));
    sl_buf_puts(&b, "abcd");
    assert_false(b.overflow);
    assert_int_equal(b.len, 4);
}

static void test_append_that_does_not_fit_is_dropped_whole_and_later_small_ones_too(void **state)
{
    char mem[8];
    struct sl_buf b = sl_buf_make(mem, sizeof(mem));
    sl_buf_puts(&b, "abc");
    sl_buf_puts(&b, "defgHI");
    sl_buf_putc(&b, 'j');
    assert_true(b.overflow);
    assert_int_equal(b.len, 3);
    assert_memory_equal(mem, "abc", 3);
}

static void test_need_counts_dropped_bytes_like_snprintf(void **state)
{
    char mem[4];
    struct sl_buf b = sl_buf_make(mem, sizeof(mem));
    sl_buf_puts(&b, "ab");
    sl_buf_puts(&b, "cdef");
    sl_buf_putc(&b, 'g');
    assert_int_equal(b.len, 2);
    assert_int_equal(b.need, 7);
}

static void test_reserve_hands_out_room_that_counts_as_written_or_null(void **state)
{
    char mem[8];
    struct sl_buf b = sl_buf_make(mem, sizeof(mem));
    char *w = sl_buf_reserve(&b, 3);
    assert_ptr_equal(w, mem);
    memcpy(w, "abc", 3);
    assert_int_equal(b.len, 3);
    assert_null(sl_buf_reserve(&b, 6));
    assert_true(b.overflow);
    assert_int_equal(b.len, 3);
    assert_int_equal(b.need, 9);

    struct sl_buf g;
    sl_buf_init_growing(&g, 4);
    w = sl_buf_reserve(&g, 100); /* grows */
    assert_non_null(w);
    memset(w, 'x', 100);
    assert_int_equal(g.len, 100);
    assert_false(g.overflow);
    sl_buf_free(&g);
}

static void test_truncate_takes_back_an_overflowed_piece_and_allows_appends_again(void **state)
{
    char mem[8];
    struct sl_buf b = sl_buf_make(mem, sizeof(mem));
    sl_buf_puts(&b, "abc");
    size_t mark = b.len;
    sl_buf_puts(&b, "de");
    sl_buf_puts(&b, "fghij");
    assert_true(b.overflow);
    sl_buf_truncate(&b, mark);
    assert_false(b.overflow);
    assert_int_equal(b.need, 3);
    sl_buf_puts(&b, "12345");
    assert_false(b.overflow);
    assert_int_equal(b.len, 8);
    assert_memory_equal(mem, "abc12345", 8);
}

/* ---- numbers ---- */

static void expect_u64(uint64_t v, const char *want)
{
    char mem[32];
    struct sl_buf b = sl_buf_make(mem, sizeof(mem));
    sl_buf_put_u64(&b, v);
    assert_false(b.overflow);
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(mem, want, b.len);
}

static void test_u64_zero_is_written_as_single_digit(void **state)
{
    expect_u64(0, "0");
}

static void test_u64_is_decimal_without_padding_up_to_the_maximum(void **state)
{
    expect_u64(7, "7");
    expect_u64(10, "10");
    expect_u64(1234567890, "1234567890");
    expect_u64(UINT64_MAX, "18446744073709551615");
}

static void test_u64_digits_end_at_the_end_of_their_array(void **state)
{
    char out[SL_U64_DIGITS];
    char *p = sl_u64_digits(out, 0);
    assert_ptr_equal(p, out + SL_U64_DIGITS - 1);
    assert_memory_equal(p, "0", 1);
    p = sl_u64_digits(out, UINT64_MAX);
    assert_ptr_equal(p, out);
    assert_memory_equal(p, "18446744073709551615", SL_U64_DIGITS);
    p = sl_u64_digits(out, 1024);
    assert_memory_equal(p, "1024", 4);
    assert_ptr_equal(p + 4, out + SL_U64_DIGITS);
}

static void test_u64_that_does_not_fit_writes_no_digit(void **state)
{
    char mem[3] = {'x', 'x', 'x'};
    struct sl_buf b = sl_buf_make(mem, sizeof(mem));
    sl_buf_put_u64(&b, 1000);
    assert_true(b.overflow);
    assert_int_equal(b.len, 0);
    assert_int_equal(mem[0], 'x');
}

/* ---- growing mode ---- */

static void test_growing_buffer_grows_far_past_its_initial_capacity(void **state)
{
    struct sl_buf b;
    sl_buf_init_growing(&b, 4);
    for (int i = 0; i < 10000; i++)
        sl_buf_puts(&b, "0123456789");
    assert_false(b.overflow);
    assert_int_equal(b.len, 100000);
    assert_true(b.cap > b.len);
    assert_memory_equal(b.p + 99990, "0123456789", 10);
    sl_buf_free(&b);
}

/* Takes b's string and checks it and its length against want. */
static void expect_take(struct sl_buf *b, const char *want)
{
    size_t len = 99;
    char *s = sl_buf_take(b, &len);
    assert_non_null(s);
    assert_string_equal(s, want);
    assert_int_equal(len, strlen(want));
    assert_null(b->p); /* the string belongs to the caller now */
    free(s);
}

static void test_take_returns_nul_terminated_string_and_its_length(void **state)
{
    struct sl_buf b;
    sl_buf_init_growing(&b, 2);
    sl_buf_puts(&b, "size ");
    sl_buf_put_u64(&b, 42);
    sl_buf_putc(&b, '!');
    expect_take(&b, "size 42!");
}

static void test_take_of_exactly_full_buffer_still_has_room_for_the_nul(void **state)
{
    struct sl_buf b;
    sl_buf_init_growing(&b, 4);
    sl_buf_puts(&b, "abc");
    sl_buf_puts(&b, "d");
    expect_take(&b, "abcd");
}

static void test_take_of_empty_buffer_is_empty_string(void **state)
{
    struct sl_buf b;
    sl_buf_init_growing(&b, 0);
    expect_take(&b, "");
}

/* An append too large to allocate must not wrap the size arithmetic: it overflows, and
 * take then reports failure and frees what there was. */
static void test_impossible_growth_overflows_and_take_returns_null(void **state)
{
    struct sl_buf b;
    sl_buf_init_growing(&b, 16);
    sl_buf_puts(&b, "abc");
    static const char one = 'x';
    volatile size_t huge = SIZE_MAX - 1; /* not a constant: the compiler would refuse it */
    sl_buf_append(&b, &one, huge);
    assert_true(b.overflow);
    sl_buf_puts(&b, "d");
    assert_int_equal(b.len, 3);
    size_t len = 99;
    assert_null(sl_buf_take(&b, &len));
    assert_int_equal(len, 99);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_overflow_is_sticky_and_never_writes_past_cap),
        cmocka_unit_test(test_exact_fit_is_not_overflow),
        cmocka_unit_test(test_append_that_does_not_fit_is_dropped_whole_and_later_small_ones_too),
        cmocka_unit_test(test_need_counts_dropped_bytes_like_snprintf),
        cmocka_unit_test(test_reserve_hands_out_room_that_counts_as_written_or_null),
        cmocka_unit_test(test_truncate_takes_back_an_overflowed_piece_and_allows_appends_again),
        cmocka_unit_test(test_u64_zero_is_written_as_single_digit),
        cmocka_unit_test(test_u64_is_decimal_without_padding_up_to_the_maximum),
        cmocka_unit_test(test_u64_digits_end_at_the_end_of_their_array),
        cmocka_unit_test(test_u64_that_does_not_fit_writes_no_digit),
        cmocka_unit_test(test_growing_buffer_grows_far_past_its_initial_capacity),
        cmocka_unit_test(test_take_returns_nul_terminated_string_and_its_length),
        cmocka_unit_test(test_take_of_exactly_full_buffer_still_has_room_for_the_nul),
        cmocka_unit_test(test_take_of_empty_buffer_is_empty_string),
        cmocka_unit_test(test_impossible_growth_overflows_and_take_returns_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
