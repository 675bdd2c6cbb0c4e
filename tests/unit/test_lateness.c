/* The lateness bookkeeping's pure part (cafe/lateness.c): how late a step
 * ran against when it was due, the union of the windows an order was held
 * up in (a block that held several of its steps counts once), and the
 * sentence the order card shows. Breakages this catches: lateness counted
 * negative for an early step, a cause kept for a step that was on time,
 * overlapping windows summed instead of merged (the async lunch behind
 * another's avocado: 200 ms, not 600), touching or empty windows
 * miscounted, and the sentence's wording and units. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "cafe/lateness.h"

#define W(a, b) ((struct late_window){(a), (b)})

static void test_late_against_due(void **state)
{
    struct step_lateness l = {0};
    lateness_set(&l, 500, 1500, LATE_LOOP, W(0, 0), W(500, 1500));
    assert_true(l.due_known && l.late_known);
    assert_int_equal(l.due_ms, 500);
    assert_int_equal(l.late_ms, 1000);
    assert_int_equal(l.cause, LATE_LOOP);
    /* on time, or a timer that fired a hair early: not late, no cause */
    lateness_set(&l, 500, 500, LATE_LOOP, W(0, 0), W(500, 500));
    assert_int_equal(l.late_ms, 0);
    assert_int_equal(l.cause, LATE_NONE);
    lateness_set(&l, 500, 499, LATE_BARISTA, W(0, 0), W(0, 0));
    assert_int_equal(l.late_ms, 0);
    assert_int_equal(l.cause, LATE_NONE);
}

static void test_union(void **state)
{
    struct late_window w[] = {W(300, 500), W(0, 200), W(1000, 1200), W(100, 250), W(250, 300)};
    /* [0, 500] merged from four touching and overlapping windows, and [1000, 1200] */
    assert_int_equal(late_windows_union_ms(w, 5), 700);
    struct late_window inside[] = {W(0, 1000), W(200, 300), W(400, 400)};
    assert_int_equal(late_windows_union_ms(inside, 3), 1000);
    struct late_window empty[] = {W(50, 50), W(80, 70)};
    assert_int_equal(late_windows_union_ms(empty, 2), 0);
    assert_int_equal(late_windows_union_ms(NULL, 0), 0);
}

/* An async lunch queued behind another order's avocado (2 recipe s = 200 ms
 * here): its timers are armed 200 ms late and its own avocado starts 200 ms
 * late. Each step is 200 ms late; the order was held up 200 ms, once. */
static void test_order_total_counts_a_wait_once(void **state)
{
    struct step_lateness steps[4] = {0};
    lateness_set(&steps[0], 1000, 1200, LATE_LOOP, W(0, 200), W(1200, 1200)); /* cook_pasta */
    lateness_set(&steps[1], 300, 500, LATE_LOOP, W(0, 200), W(500, 500));     /* heat_meatloaf */
    lateness_set(&steps[2], 0, 200, LATE_LOOP, W(0, 200), W(0, 0));           /* peel_avocado */
    lateness_set(&steps[3], 0, 700, LATE_BARISTA, W(0, 700), W(0, 0));        /* another cause */
    assert_int_equal(lateness_total_ms(steps, 4, LATE_LOOP), 200);
    assert_int_equal(lateness_total_ms(steps, 4, LATE_BARISTA), 700);
    /* a timer that also fired late adds its own second window */
    lateness_set(&steps[0], 1000, 1500, LATE_LOOP, W(0, 200), W(1200, 1500));
    assert_int_equal(lateness_total_ms(steps, 4, LATE_LOOP), 500);
    /* a step on time counts nothing, whatever its windows say */
    lateness_set(&steps[1], 300, 300, LATE_LOOP, W(0, 0), W(300, 300));
    assert_int_equal(lateness_total_ms(steps, 2, LATE_LOOP), 500);
}

static void test_sentence(void **state)
{
    char buf[160];
    late_sentence(buf, sizeof(buf), "make_coffee", true, 2140, LATE_LOOP,
                  "sync brew #4 make_coffee");
    assert_string_equal(buf, "make_coffee finished 2.1 s late: the loop was running sync brew #4 "
                             "make_coffee");
    late_sentence(buf, sizeof(buf), "peel_avocado", false, 300, LATE_LOOP,
                  "async hands-on #8 peel_avocado");
    assert_string_equal(
        buf,
        "peel_avocado started 300 ms late: the loop was running async hands-on #8 peel_avocado");
    late_sentence(buf, sizeof(buf), "brew", false, 1240, LATE_BARISTA, NULL);
    assert_string_equal(buf, "brew waited 1.2 s for a barista");
    late_sentence(buf, sizeof(buf), "grind_beans", true, 12, LATE_LOOP, NULL);
    assert_string_equal(buf, "grind_beans finished 12 ms late: the loop was busy");
    /* as snprintf: the length it needed, the text cut */
    assert_int_equal(late_sentence(buf, 8, "grind_beans", true, 12, LATE_LOOP, NULL),
                     strlen("grind_beans finished 12 ms late: the loop was busy"));
    assert_string_equal(buf, "grind_b");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_late_against_due),
        cmocka_unit_test(test_union),
        cmocka_unit_test(test_order_total_counts_a_wait_once),
        cmocka_unit_test(test_sentence),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
