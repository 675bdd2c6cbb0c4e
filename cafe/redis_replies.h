#ifndef CAFE_REDIS_REPLIES_H
#define CAFE_REDIS_REPLIES_H

struct redisContext;

/* Where one connection's replies live: hiredis's reader builds every reply
 * from an object per element, each a calloc() and its string a malloc()
 * (an XREAD page of stream entries is thousands). Here they are carved from
 * blocks kept between replies instead, all of a reply let go at once when
 * hiredis frees it (after its callback: what a callback keeps, it copies,
 * as cafe/redis_link.h says anyway). The reader's buffer is kept too.
 * hiredis parses one reply at a time, so one reply is alive at most. */
struct redis_replies;

struct redis_replies *redis_replies_new(void);
void redis_replies_free(struct redis_replies *r);
/* c's reader builds its replies in r from now on (r outlives c). */
void redis_replies_attach(struct redis_replies *r, struct redisContext *c);

#endif
