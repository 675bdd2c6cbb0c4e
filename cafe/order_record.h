#ifndef CAFE_ORDER_RECORD_H
#define CAFE_ORDER_RECORD_H

#include <stddef.h>

#include "cafe/order.h"

/* An order as a flat list of field/value strings: a Redis hash (HSET/HGETALL)
 * and the tail of a stream entry carry exactly this. Pure functions, no I/O;
 * the decoder takes whatever bytes a store hands back (another version's, a
 * truncated or a hand-edited record) and either builds a snapshot order or
 * says precisely what is wrong (fuzz/fuzz_order_record.c). Format, version 1:
 *
 *   v         "1"
 *   id        decimal, > 0 (absent while the store has not assigned one)
 *   replica   the replica that took it ([A-Za-z0-9._:-], 1..63 bytes)
 *   item      an item of the menu; flavour: a flavour of the menu (optional)
 *   customer  any bytes but NUL, up to ORDER_CUSTOMER_MAX (optional)
 *   mode      sync|async|thread;  status: queued|brewing|ready|cancelled|failed
 *   timed_out 0|1;  reason: text up to ORDER_REASON_MAX (optional)
 *   accepted  unix ms;  started, finished: ms after accepted, or -1
 *   steps     one "<s><start>:<end>" per recipe step, comma-separated, s one
 *             of p(ending) q(ueued) r(unning) d(one) x (dropped)
 *
 * Fields the decoder does not know are ignored (a stream entry adds event,
 * step and by; a newer version may add more). */

#define ORDER_RECORD_FIELDS 14

struct order_record {
    unsigned n;                                /* field/value pairs */
    unsigned mutable_from;                     /* pairs from here on may change after the create */
    const char *argv[2 * ORDER_RECORD_FIELDS]; /* name, value, name, value, ... */
    size_t len[2 * ORDER_RECORD_FIELDS];
    char scratch[MENU_MAX_STEPS * 44 + 128]; /* the numbers and the steps text */
};

/* Fills r from o (the values point into o and into r->scratch: keep both
 * while r is used). The id is left out while o->id is 0. */
void order_record_encode(const struct order *o, struct order_record *r);

/* The packed record: every pair as "name\0value\0", the last NUL left
 * out (no value holds a NUL, so the split is unambiguous). A stream entry
 * carries the record so, in one field (docs/store.md). Returns the length
 * order_record_pack() writes, which needs that many bytes in buf. */
size_t order_record_packed_len(const struct order_record *r);
void order_record_pack(const struct order_record *r, char *buf);

/* Builds a snapshot order (one reference, cafe NULL) from n field/value pairs
 * (argv[2i] names, argv[2i+1] values, with their lengths; not NUL-terminated).
 * Returns 0, or -1 with a one-line reason in err, e.g. "field steps: 2 steps
 * for pourover's 3". */
int order_record_decode(const struct menu *m, const char *const *argv, const size_t *len, size_t n,
                        struct order **out, char *err, size_t errlen);

/* The same from a packed record (s[0..n)); -1 with the reason for a
 * malformed one (an odd number of parts, too many). */
int order_record_decode_packed(const struct menu *m, const char *s, size_t n, struct order **out,
                               char *err, size_t errlen);

#endif
