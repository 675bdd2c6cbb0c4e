/* base/textbuf.h, which the access log line is built with: numbers in
 * decimal with and without zero padding, and a piece that does not fit left
 * out whole (a line is never cut in the middle of a field). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/textbuf.h"

/* The text of t, made a C string (buf has room for the NUL). */
static const char *text(struct textbuf *t, char *buf)
{
    *t->p = '\0';
    return buf;
}

/* Catches: a digit lost or reversed, padding applied to wide numbers, the
 * largest value cut. */
static void numbers_as_printf_writes_them(void **state)
{
    const unsigned long long values[] = {0,
                                         7,
                                         9,
                                         10,
                                         11,
                                         99,
                                         100,
                                         101,
                                         999,
                                         1000,
                                         12345,
                                         65535,
                                         4294967296ull,
                                         1764750000123ull, /* a unix ms */
                                         18446744073709551615ull};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        for (unsigned width = 0; width <= 4; width++) {
            char buf[64], want[64];
            struct textbuf t = {buf, buf + sizeof(buf) - 1};
            textbuf_put_uint(&t, values[i], width);
            snprintf(want, sizeof(want), "%0*llu", (int)width, values[i]);
            assert_string_equal(text(&t, buf), want);
        }
    }
}

/* Catches: a piece written partly at the end of the buffer, or past it. */
static void what_does_not_fit_is_left_out_whole(void **state)
{
    char buf[16];
    memset(buf, 'x', sizeof(buf));
    struct textbuf t = {buf, buf + 8};
    TEXTBUF_PUT_LIT(&t, "abc");
    textbuf_put_str(&t, "defghi"); /* 3 + 6 > 8: left out */
    textbuf_put_uint(&t, 12345, 0);
    textbuf_put_uint(&t, 1, 0); /* 3 + 5 = 8: full, this one is left out */
    assert_int_equal(TEXTBUF_LEN(&t, buf), 8);
    assert_memory_equal(buf, "abc12345", 8);
    assert_int_equal(buf[8], 'x'); /* nothing written past the end */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(numbers_as_printf_writes_them),
        cmocka_unit_test(what_does_not_fit_is_left_out_whole),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
