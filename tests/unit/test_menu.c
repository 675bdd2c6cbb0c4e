/* The menu: the built-in recipes of docs/contract.md, the --menu loader's validation
 * (every rejection names what is wrong), and GET /menu's JSON round-tripping
 * into the loader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cafe/menu.h"

static void builtin_matches_the_spec(void **state)
{
    struct menu *m = menu_builtin();
    const char *names[] = {"latte",    "cappuccino", "flat white", "mocha",
                           "pourover", "drip",       "lunch"};
    assert_int_equal(m->nitems, 7);
    for (unsigned i = 0; i < 7; i++)
        assert_string_equal(m->items[i].name, names[i]);
    assert_int_equal(m->nflavours, 4);
    assert_string_equal(m->flavours[3], "caramel");

    const struct item *po = menu_find_item(m, "POUROVER");
    assert_non_null(po);
    assert_int_equal(po->nsteps, 3);
    assert_int_equal(po->steps[2].kind, STEP_HANDS);
    assert_int_equal(po->steps[2].after, 0x3);
    assert_true(po->sync_seconds == 6 && po->async_seconds == 4);
    const struct item *lunch = menu_find_item(m, "lunch");
    assert_true(lunch->sync_seconds == 15 && lunch->async_seconds == 10);
    assert_int_equal(lunch->steps[2].kind, STEP_HANDS);
    const struct item *drip = menu_find_item(m, "Drip");
    assert_int_equal(drip->steps[2].kind, STEP_WAIT);
    for (unsigned i = 0; i < 4; i++)
        assert_true(m->items[i].nsteps == 1 && m->items[i].steps[0].seconds == 5);

    assert_non_null(menu_find_item(m, "Flat White"));
    assert_null(menu_find_item(m, "flat"));
    assert_string_equal(menu_find_flavour(m, "VaNiLLa"), "vanilla");
    assert_null(menu_find_flavour(m, "mint"));
    char buf[256];
    assert_string_equal(menu_item_names(m, buf, sizeof(buf)),
                        "latte, cappuccino, flat white, mocha, pourover, drip, lunch");
    assert_string_equal(menu_flavour_names(m, buf, sizeof(buf)),
                        "vanilla, chocolate, pistachio, caramel");
    char tiny[12];
    assert_string_equal(menu_item_names(m, tiny, sizeof(tiny)), "latte, c...");
    menu_free(m);
}

static void topological_order_runs_deps_first(void **state)
{
    /* "brew" is listed first but depends on the two after it. */
    const char *src =
        "{\"items\":[{\"name\":\"x\",\"steps\":["
        "{\"name\":\"brew\",\"kind\":\"hands\",\"seconds\":1,\"after\":[\"b\",\"a\"]},"
        "{\"name\":\"a\",\"kind\":\"wait\",\"seconds\":2},"
        "{\"name\":\"b\",\"kind\":\"wait\",\"seconds\":0.5,\"after\":[\"A\"]}]}]}";
    char err[256];
    json_t *j = json_loads(src, 0, NULL);
    struct menu *m = menu_from_json(j, err, sizeof(err));
    json_decref(j);
    assert_non_null(m);
    const struct item *it = &m->items[0];
    assert_int_equal(it->order[0], 1);
    assert_int_equal(it->order[1], 2);
    assert_int_equal(it->order[2], 0);
    assert_true(it->sync_seconds == 3.5 && it->async_seconds == 3.5);
    assert_int_equal(m->nflavours, 0);
    menu_free(m);
}

/* Each bad menu and a piece of the message it must produce. */
static const struct {
    const char *json;
    const char *error;
} bad_menus[] = {
    {"[]", "must be a JSON object"},
    {"{}", "items must be an array"},
    {"{\"items\":[]}", "items must be an array of 1 to"},
    {"{\"items\":[{\"name\":\"x\",\"steps\":[{\"name\":\"a\",\"kind\":\"wait\",\"seconds\":1}]}],"
     "\"drinks\":1}",
     "unknown member \"drinks\""},
    {"{\"items\":[5]}", "item 0: must be an object"},
    {"{\"items\":[{\"steps\":[]}]}", "item 0: name must be a string"},
    {"{\"items\":[{\"name\":\"\",\"steps\":[]}]}", "name must be 1 to 31 bytes"},
    {"{\"items\":[{\"name\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"steps\":[]}]}",
     "name must be 1 to 31 bytes"},
    {"{\"items\":[{\"name\":\"a\\nb\",\"steps\":[]}]}", "control character"},
    {"{\"items\":[{\"name\":\"x\",\"steps\":[]}]}",
     "item \"x\": steps must be an array of 1 to 16"},
    {"{\"items\":[{\"name\":\"x\",\"steps\":[{\"name\":\"a\",\"kind\":\"boil\",\"seconds\":1}]}]}",
     "step \"a\": kind must be \"wait\" or \"hands\""},
    {"{\"items\":[{\"name\":\"x\",\"steps\":[{\"name\":\"a\",\"kind\":\"wait\",\"seconds\":0}]}]}",
     "seconds must be more than 0"},
    {"{\"items\":[{\"name\":\"x\",\"steps\":[{\"name\":\"a\",\"kind\":\"wait\",\"seconds\":-1}]}]}",
     "seconds must be more than 0"},
    {"{\"items\":[{\"name\":\"x\",\"steps\":[{\"name\":\"a\",\"kind\":\"wait\",\"seconds\":"
     "99999}]}]}",
     "at most 3600"},
    {"{\"items\":[{\"name\":\"x\",\"steps\":[{\"name\":\"a\",\"kind\":\"wait\",\"seconds\":\"5\"}]}"
     "]}",
     "seconds must be a number"},
    {"{\"items\":[{\"name\":\"x\",\"steps\":[{\"name\":\"a\",\"kind\":\"wait\",\"seconds\":1,"
     "\"after\":[\"zz\"]}]}]}",
     "item \"x\": step \"a\": unknown dependency \"zz\""},
    {"{\"items\":[{\"name\":\"x\",\"steps\":[{\"name\":\"a\",\"kind\":\"wait\",\"seconds\":1,"
     "\"after\":[\"a\"]}]}]}",
     "depends on itself"},
    {"{\"items\":[{\"name\":\"x\",\"steps\":[{\"name\":\"a\",\"kind\":\"wait\",\"seconds\":1,"
     "\"after\":[\"b\"]},{\"name\":\"b\",\"kind\":\"wait\",\"seconds\":1,\"after\":[\"a\"]}]}]}",
     "steps form a cycle"},
    {"{\"items\":[{\"name\":\"x\",\"steps\":[{\"name\":\"a\",\"kind\":\"wait\",\"seconds\":1,"
     "\"after\":\"b\"}]}]}",
     "after must be an array"},
    {"{\"items\":[{\"name\":\"x\",\"steps\":[{\"name\":\"a\",\"kind\":\"wait\",\"seconds\":1},"
     "{\"name\":\"A\",\"kind\":\"wait\",\"seconds\":1}]}]}",
     "duplicate step name"},
    {"{\"items\":[{\"name\":\"x\",\"steps\":[{\"name\":\"a\",\"kind\":\"wait\",\"seconds\":1}]},"
     "{\"name\":\"X\",\"steps\":[{\"name\":\"a\",\"kind\":\"wait\",\"seconds\":1}]}]}",
     "duplicate item name"},
    {"{\"items\":[{\"name\":\"x\",\"steps\":[{\"name\":\"a\",\"kind\":\"wait\",\"seconds\":1,"
     "\"colour\":1}]}]}",
     "unknown member \"colour\""},
    {"{\"items\":[{\"name\":\"x\",\"steps\":[{\"name\":\"a\",\"kind\":\"wait\",\"seconds\":1}]}],"
     "\"flavours\":\"mint\"}",
     "flavours must be an array"},
    {"{\"items\":[{\"name\":\"x\",\"steps\":[{\"name\":\"a\",\"kind\":\"wait\",\"seconds\":1}]}],"
     "\"flavours\":[\"mint\",\"MINT\"]}",
     "flavour \"MINT\": duplicate"},
};

static void loader_rejects_with_a_reason(void **state)
{
    for (size_t i = 0; i < sizeof(bad_menus) / sizeof(bad_menus[0]); i++) {
        char err[256] = "";
        json_t *j = json_loads(bad_menus[i].json, JSON_DECODE_ANY, NULL);
        assert_non_null(j);
        struct menu *m = menu_from_json(j, err, sizeof(err));
        json_decref(j);
        if (m || !strstr(err, bad_menus[i].error))
            fail_msg("menu %zu: got \"%s\", wanted \"%s\"", i, err, bad_menus[i].error);
    }
}

static void too_many_steps(void **state)
{
    json_t *steps = json_array();
    for (int i = 0; i < MENU_MAX_STEPS + 1; i++) {
        char name[8];
        snprintf(name, sizeof(name), "s%d", i);
        json_array_append_new(
            steps, json_pack("{s:s, s:s, s:i}", "name", name, "kind", "wait", "seconds", 1));
    }
    json_t *j = json_pack("{s:[{s:s, s:o}]}", "items", "name", "big", "steps", steps);
    char err[256];
    assert_null(menu_from_json(j, err, sizeof(err)));
    assert_non_null(strstr(err, "1 to 16 steps"));
    json_decref(j);
}

static void round_trip_through_json(void **state)
{
    struct menu *m = menu_builtin();
    json_t *out = menu_to_json(m);
    char err[256];
    struct menu *again = menu_from_json(out, err, sizeof(err));
    assert_non_null(again);
    json_t *out2 = menu_to_json(again);
    assert_true(json_equal(out, out2));
    /* whole seconds print as integers, as docs/contract.md's table writes them */
    json_t *sec = json_object_get(
        json_array_get(json_object_get(json_array_get(json_object_get(out, "items"), 0), "steps"),
                       0),
        "seconds");
    assert_true(json_is_integer(sec));
    json_decref(out);
    json_decref(out2);
    menu_free(again);
    menu_free(m);
}

static void load_file_names_the_file(void **state)
{
    char err[512];
    assert_null(menu_load_file("/nonexistent/menu.json", err, sizeof(err)));
    assert_non_null(strstr(err, "/nonexistent/menu.json"));

    char path[] = "/tmp/cafe-menu-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *bad = "{\"items\": [\n  {\"name\": }\n]}";
    assert_int_equal(write(fd, bad, strlen(bad)), (ssize_t)strlen(bad));
    close(fd);
    assert_null(menu_load_file(path, err, sizeof(err)));
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, ":2:")); /* line number */

    FILE *f = fopen(path, "w");
    fputs("{\"items\":[{\"name\":\"tea\",\"steps\":[{\"name\":\"steep\",\"kind\":\"wait\","
          "\"seconds\":3}]}],\"flavours\":[\"mint\"]}",
          f);
    fclose(f);
    struct menu *m = menu_load_file(path, err, sizeof(err));
    assert_non_null(m);
    assert_string_equal(m->items[0].name, "tea");
    assert_string_equal(m->source, strrchr(path, '/') + 1);
    menu_free(m);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(builtin_matches_the_spec),
        cmocka_unit_test(topological_order_runs_deps_first),
        cmocka_unit_test(loader_rejects_with_a_reason),
        cmocka_unit_test(too_many_steps),
        cmocka_unit_test(round_trip_through_json),
        cmocka_unit_test(load_file_names_the_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
