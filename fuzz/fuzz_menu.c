/* The menu loader: the bytes of a --menu file, parsed as menu_load_file()
 * parses them (json_loadb with the same flags, then menu_from_json()).
 * Properties: no memory error or leak; a refusal says why; an accepted menu
 * is consistent (steps in a topological order, dependencies on earlier
 * steps only, times in range) and survives a round trip through
 * menu_to_json() -- GET /menu's answer loads back as the same menu. */
#include <math.h>
#include <string.h>

#include "cafe/menu.h"
#include "fuzz/fuzz_common.h"

static void check_menu(const struct menu *m)
{
    FUZZ_CHECK(m->nitems >= 1 && m->nitems <= MENU_MAX_ITEMS);
    FUZZ_CHECK(m->nflavours <= MENU_MAX_FLAVOURS);
    for (unsigned i = 0; i < m->nitems; i++) {
        const struct item *it = &m->items[i];
        FUZZ_CHECK(memchr(it->name, '\0', sizeof(it->name)) != NULL);
        FUZZ_CHECK(menu_find_item(m, it->name) != NULL);
        FUZZ_CHECK(it->nsteps >= 1 && it->nsteps <= MENU_MAX_STEPS);
        uint32_t done = 0;
        for (unsigned k = 0; k < it->nsteps; k++) {
            unsigned s = it->order[k];
            FUZZ_CHECK(s < it->nsteps);
            FUZZ_CHECK((it->steps[s].after & ~done) == 0); /* dependencies first */
            FUZZ_CHECK(isfinite(it->steps[s].seconds) && it->steps[s].seconds >= 0 &&
                       it->steps[s].seconds <= MENU_MAX_SECONDS);
            done |= 1u << s;
        }
        FUZZ_CHECK(it->async_seconds <= it->sync_seconds + 1e-9);
    }
    for (unsigned i = 0; i < m->nflavours; i++)
        FUZZ_CHECK(menu_find_flavour(m, m->flavours[i]) != NULL);
    char buf[64];
    (void)menu_item_names(m, buf, sizeof(buf)); /* truncation must be safe */
    (void)menu_flavour_names(m, buf, sizeof(buf));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t jerr;
    json_t *root = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return 0;
    char err[256] = "";
    struct menu *m = menu_from_json(root, err, sizeof(err));
    json_decref(root);
    if (!m) {
        FUZZ_CHECK(err[0] != '\0');
        return 0;
    }
    check_menu(m);

    json_t *again = menu_to_json(m);
    FUZZ_CHECK(again != NULL);
    char *text = json_dumps(again, JSON_COMPACT);
    FUZZ_CHECK(text != NULL);
    json_decref(again);
    root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    free(text);
    FUZZ_CHECK(root != NULL);
    struct menu *m2 = menu_from_json(root, err, sizeof(err));
    json_decref(root);
    if (!m2)
        fprintf(stderr, "round trip refused: %s\n", err);
    FUZZ_CHECK(m2 != NULL);
    FUZZ_CHECK(m2->nitems == m->nitems && m2->nflavours == m->nflavours);
    for (unsigned i = 0; i < m->nitems; i++) {
        FUZZ_CHECK(strcmp(m->items[i].name, m2->items[i].name) == 0);
        FUZZ_CHECK(m->items[i].nsteps == m2->items[i].nsteps);
        for (unsigned k = 0; k < m->items[i].nsteps; k++) {
            FUZZ_CHECK(m->items[i].steps[k].after == m2->items[i].steps[k].after);
            FUZZ_CHECK(m->items[i].steps[k].kind == m2->items[i].steps[k].kind);
        }
    }
    menu_free(m2);
    menu_free(m);
    return 0;
}
