#ifndef CAFE_MENU_H
#define CAFE_MENU_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The menu: items whose recipes are small graphs of steps. Knows nothing about
 * HTTP or the event loop. A menu is immutable once built, so orders and brews
 * point into it freely; it must outlive them (it lives as long as the app). */

#define MENU_MAX_ITEMS    64
#define MENU_MAX_STEPS    16 /* steps per recipe; `after` is a bitmask of them */
#define MENU_MAX_FLAVOURS 32
#define MENU_NAME_MAX     32 /* bytes, NUL included */
#define MENU_MAX_SECONDS  3600.0

enum step_kind {
    STEP_WAIT,  /* a timer: the kettle boils while nobody watches */
    STEP_HANDS, /* occupies whoever does it: the loop (sync/async) or a barista */
};

struct step_def {
    char name[MENU_NAME_MAX];
    enum step_kind kind;
    double seconds; /* recipe seconds; real time = seconds * time_scale */
    uint32_t after; /* bit i set: starts only when step i has finished */
};

struct item {
    char name[MENU_NAME_MAX];
    unsigned nsteps;
    struct step_def steps[MENU_MAX_STEPS];
    uint8_t order[MENU_MAX_STEPS]; /* a topological order: how sync mode runs them */
    double sync_seconds;           /* sum of all steps */
    double async_seconds;          /* the critical path through `after` */
    /* Each step as menu_step_to_json() shows it, serialised once at load
     * without its closing brace (an order appends its own members):
     * step i is steps_json[steps_json_at[i] .. steps_json_at[i + 1]). */
    char *steps_json;
    uint32_t steps_json_at[MENU_MAX_STEPS + 1];
    /* The name as a JSON string (quotes and escapes), jansson's text, made
     * at load: every order's answer carries it. */
    char *name_json;
    size_t name_json_len;
};

struct menu {
    unsigned nitems;
    struct item items[MENU_MAX_ITEMS];
    unsigned nflavours;
    char flavours[MENU_MAX_FLAVOURS][MENU_NAME_MAX];
    char source[64]; /* "built-in" or the file's base name, for logs */
};

/* The built-in menu of docs/contract.md (latte, cappuccino, flat white, mocha,
 * pourover, drip, lunch; vanilla, chocolate, pistachio, caramel). */
struct menu *menu_builtin(void);
/* Reads a menu from a JSON file of the same shape GET /menu answers. Returns
 * NULL and writes a one-line reason into err (e.g. "menu.json: item
 * \"drip\": step \"brew\": unknown dependency \"boil\"") on any problem. */
struct menu *menu_load_file(const char *path, char *err, size_t errlen);
/* The same from a JSON value (borrowed); what the file loader and tests use. */
struct menu *menu_from_json(const json_t *root, char *err, size_t errlen);
void menu_free(struct menu *m);

/* Case-insensitive lookups; NULL when absent. Flavours return the menu's own
 * spelling, which lives as long as the menu. */
const struct item *menu_find_item(const struct menu *m, const char *name);
const char *menu_find_flavour(const struct menu *m, const char *name);
/* "latte, cappuccino, ..." for error messages; writes into buf, returns it. */
const char *menu_item_names(const struct menu *m, char *buf, size_t len);
const char *menu_flavour_names(const struct menu *m, char *buf, size_t len);

/* {"items":[{"name","steps":[{"name","kind","seconds","after":[names]}],
 *  "seconds":{"sync","async"}}], "flavours":[...]} -- a new reference.
 * menu_from_json() accepts exactly this shape back ("seconds" is ignored). */
json_t *menu_to_json(const struct menu *m);
/* One step of it as GET /menu shows it: {"name","kind","seconds","after":[names]}. */
json_t *menu_step_to_json(const struct item *it, unsigned i);
const char *step_kind_name(enum step_kind k);
/* Recipe seconds as JSON: an integer when whole (5), else a real (0.5). */
json_t *json_seconds(double s);

#endif
