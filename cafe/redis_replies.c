/* Replies carved from kept blocks (cafe/redis_replies.h). The objects are
 * hiredis 0.14's own redisReply, filled as its default functions fill them
 * (hiredis.c: createStringObject and the rest), so every reader of a reply
 * sees no difference. */
#include <hiredis/hiredis.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "base/xmalloc.h"
#include "cafe/redis_replies.h"

#define BLOCK_SIZE (64 * 1024)

struct block {
    struct block *next;
    size_t size, used;
    alignas(max_align_t) char data[];
};

struct redis_replies {
    struct block *blocks; /* the newest first; the last one is kept across replies */
};

#define ALIGN(n) (((n) + alignof(max_align_t) - 1) & ~(alignof(max_align_t) - 1))

static struct block *block_new(size_t size, struct block *next)
{
    struct block *b = xmalloc(sizeof(*b) + size);
    b->next = next;
    b->size = size;
    b->used = 0;
    return b;
}

static void *take(struct redis_replies *r, size_t n)
{
    n = ALIGN(n ? n : 1);
    struct block *b = r->blocks;
    if (b->used + n > b->size)
        b = r->blocks = block_new(n > BLOCK_SIZE ? n : BLOCK_SIZE, b);
    void *p = b->data + b->used;
    b->used += n;
    return p;
}

/* freeObject gets the reply alone: a reply's top object carries the place
 * it lives in, just before it. */
#define HEADER ALIGN(sizeof(struct redis_replies *))

static redisReply *object(const redisReadTask *task, int type)
{
    struct redis_replies *r = task->privdata;
    redisReply *o;
    if (task->parent) {
        o = take(r, sizeof(*o));
        ((redisReply *)task->parent->obj)->element[task->idx] = o;
    } else {
        char *p = take(r, HEADER + sizeof(*o));
        memcpy(p, &r, sizeof(r));
        o = (redisReply *)(p + HEADER);
    }
    memset(o, 0, sizeof(*o));
    o->type = type;
    return o;
}

static void *create_string(const redisReadTask *task, char *str, size_t len)
{
    redisReply *o = object(task, task->type);
    o->str = take(task->privdata, len + 1);
    memcpy(o->str, str, len);
    o->str[len] = '\0';
    o->len = len;
    return o;
}

static void *create_array(const redisReadTask *task, int elements)
{
    redisReply *o = object(task, REDIS_REPLY_ARRAY);
    if (elements > 0) {
        o->element = take(task->privdata, (size_t)elements * sizeof(*o->element));
        memset(o->element, 0, (size_t)elements * sizeof(*o->element));
    }
    o->elements = elements > 0 ? (size_t)elements : 0;
    return o;
}

static void *create_integer(const redisReadTask *task, long long value)
{
    redisReply *o = object(task, REDIS_REPLY_INTEGER);
    o->integer = value;
    return o;
}

static void *create_nil(const redisReadTask *task)
{
    return object(task, REDIS_REPLY_NIL);
}

/* hiredis frees whole replies only (the top, or the one being read when the
 * context goes): everything taken is that reply's. */
static void release(struct redis_replies *r)
{
    while (r->blocks->next) {
        struct block *b = r->blocks;
        r->blocks = b->next;
        free(b);
    }
    r->blocks->used = 0;
}

static void free_object(void *reply)
{
    struct redis_replies *r;
    memcpy(&r, (char *)reply - HEADER, sizeof(r));
    release(r);
}

static redisReplyObjectFunctions functions = {create_string, create_array, create_integer,
                                              create_nil, free_object};

struct redis_replies *redis_replies_new(void)
{
    struct redis_replies *r = xcalloc(1, sizeof(*r));
    r->blocks = block_new(BLOCK_SIZE, NULL);
    return r;
}

void redis_replies_free(struct redis_replies *r)
{
    if (!r)
        return;
    release(r);
    free(r->blocks);
    free(r);
}

void redis_replies_attach(struct redis_replies *r, struct redisContext *c)
{
    c->reader->fn = &functions;
    c->reader->privdata = r;
    c->reader->maxbuf = 0; /* keep the read buffer, however large it grew */
}
