/* The menu loader's bounds, each at its edge: the largest accepted value
 * loads, one more is refused with a reason (an off-by-one here writes past a
 * fixed-size field, or lets a file make the server hold a brew for days). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cafe/menu.h"

/* A menu of nitems items "iN", each with nsteps wait steps "sN" lasting
 * seconds, and nflavours flavours "fN"; name overrides the first item's. */
static json_t *menu_json(unsigned nitems, unsigned nsteps, double seconds, unsigned nflavours,
                         const char *name)
{
    json_t *items = json_array();
    for (unsigned i = 0; i < nitems; i++) {
        json_t *steps = json_array();
        for (unsigned s = 0; s < nsteps; s++) {
            char sname[16];
            snprintf(sname, sizeof(sname), "s%u", s);
            json_array_append_new(steps, json_pack("{s:s, s:s, s:f}", "name", sname, "kind", "wait",
                                                   "seconds", seconds));
        }
        char iname[16];
        snprintf(iname, sizeof(iname), "i%u", i);
        json_array_append_new(
            items, json_pack("{s:s, s:o}", "name", i == 0 && name ? name : iname, "steps", steps));
    }
    json_t *flavours = json_array();
    for (unsigned f = 0; f < nflavours; f++) {
        char fname[16];
        snprintf(fname, sizeof(fname), "f%u", f);
        json_array_append_new(flavours, json_string(fname));
    }
    return json_pack("{s:o, s:o}", "items", items, "flavours", flavours);
}

/* Loads j (stolen); NULL on refusal, with the reason in err. */
static struct menu *load(json_t *j, char *err, size_t len)
{
    err[0] = '\0';
    struct menu *m = menu_from_json(j, err, len);
    json_decref(j);
    return m;
}

static void refused_saying(json_t *j, const char *why)
{
    char err[256];
    struct menu *m = load(j, err, sizeof(err));
    if (m || !strstr(err, why))
        fail_msg("loaded=%d, reason \"%s\", wanted \"%s\"", m != NULL, err, why);
}

static void names_up_to_31_bytes(void **state)
{
    char name[MENU_NAME_MAX + 1];
    memset(name, 'n', MENU_NAME_MAX - 1);
    name[MENU_NAME_MAX - 1] = '\0';
    char err[256];
    struct menu *m = load(menu_json(1, 1, 1, 0, name), err, sizeof(err));
    assert_non_null(m);
    assert_string_equal(m->items[0].name, name);
    assert_non_null(menu_find_item(m, name));
    menu_free(m);
    strcat(name, "n"); /* 32 bytes: no room for the NUL */
    refused_saying(menu_json(1, 1, 1, 0, name), "name must be 1 to 31 bytes");
}

static void seconds_up_to_an_hour(void **state)
{
    char err[256];
    struct menu *m = load(menu_json(1, 2, MENU_MAX_SECONDS, 0, NULL), err, sizeof(err));
    assert_non_null(m);
    assert_true(m->items[0].sync_seconds == 2 * MENU_MAX_SECONDS);
    menu_free(m);
    m = load(menu_json(1, 1, 0.001, 0, NULL), err, sizeof(err)); /* any positive time */
    assert_non_null(m);
    menu_free(m);
    refused_saying(menu_json(1, 1, MENU_MAX_SECONDS + 0.5, 0, NULL), "at most 3600");
}

static void counts_up_to_their_maximum(void **state)
{
    char err[256];
    struct menu *m =
        load(menu_json(MENU_MAX_ITEMS, 1, 1, MENU_MAX_FLAVOURS, NULL), err, sizeof(err));
    assert_non_null(m);
    assert_int_equal(m->nitems, MENU_MAX_ITEMS);
    assert_int_equal(m->nflavours, MENU_MAX_FLAVOURS);
    menu_free(m);
    m = load(menu_json(1, MENU_MAX_STEPS, 1, 0, NULL), err, sizeof(err));
    assert_non_null(m);
    assert_int_equal(m->items[0].nsteps, MENU_MAX_STEPS);
    assert_true(m->items[0].async_seconds == 1); /* independent steps run together */
    menu_free(m);
    refused_saying(menu_json(MENU_MAX_ITEMS + 1, 1, 1, 0, NULL),
                   "items must be an array of 1 to 64");
    refused_saying(menu_json(1, 1, 1, MENU_MAX_FLAVOURS + 1, NULL), "at most 32 names");
}

static void step_shapes_refused_by_name(void **state)
{
    static const struct {
        const char *json, *why;
    } cases[] = {
        {"{\"items\":[{\"name\":\"x\",\"steps\":[7]}]}", "item \"x\": step 0: must be an object"},
        {"{\"items\":[{\"name\":\"x\",\"steps\":[{\"name\":\"a\",\"kind\":\"wait\",\"seconds\":1,"
         "\"after\":[1]}]}]}",
         "step \"a\": after must list step names"},
        {"{\"items\":[{\"name\":\"x\",\"steps\":[{\"kind\":\"wait\",\"seconds\":1}]}]}",
         "step 0: name must be a string"},
        {"{\"items\":[{\"name\":\"x\",\"steps\":[{\"name\":\"a\",\"seconds\":1}]}]}",
         "kind must be \"wait\" or \"hands\""},
        {"{\"items\":[{\"name\":\"x\",\"steps\":[{\"name\":\"a\",\"kind\":\"wait\"}]}]}",
         "seconds must be a number"},
        {"{\"items\":[{\"name\":\"x\",\"steps\":[{\"name\":\"a\",\"kind\":\"wait\",\"seconds\":1}]}"
         "],"
         "\"flavours\":[\"\"]}",
         "flavour 0: name must be 1 to 31 bytes"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *j = json_loads(cases[i].json, 0, NULL);
        assert_non_null(j);
        refused_saying(j, cases[i].why);
    }
}

static void name_lists_are_cut_with_an_ellipsis(void **state)
{
    struct menu *m = menu_builtin();
    char buf[20];
    menu_item_names(m, buf, sizeof(buf));
    assert_string_equal(buf, "latte, cappuccin..."); /* 19 bytes and the NUL */
    char all[256];
    assert_string_equal(menu_item_names(m, all, sizeof(all)),
                        "latte, cappuccino, flat white, mocha, pourover, drip, lunch");
    assert_string_equal(menu_flavour_names(m, all, sizeof(all)),
                        "vanilla, chocolate, pistachio, caramel");
    menu_free(m);
}

static void seconds_print_as_integers_when_whole(void **state)
{
    json_t *whole = json_seconds(5), *half = json_seconds(0.5);
    assert_true(json_is_integer(whole));
    assert_true(json_is_real(half));
    assert_true(json_real_value(half) == 0.5);
    json_decref(whole);
    json_decref(half);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names_up_to_31_bytes),
        cmocka_unit_test(seconds_up_to_an_hour),
        cmocka_unit_test(counts_up_to_their_maximum),
        cmocka_unit_test(step_shapes_refused_by_name),
        cmocka_unit_test(name_lists_are_cut_with_an_ellipsis),
        cmocka_unit_test(seconds_print_as_integers_when_whole),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
