/* The Redis store's scripts. Each one changes an order's record, its place
 * in the listings and the transition stream together: Redis runs a script
 * atomically, so no reader ever sees a listed order without its record, and
 * two replicas claiming the same orphans never both resolve one.
 *
 * Keys are built inside from the prefix (ARGV[1]); numkeys is 0. That suits
 * one Redis (and its replicas), not Redis Cluster (docs/store.md). Every read
 * of data another hand may have written goes through redis.pcall and type
 * checks, so a key of the wrong type makes a clear error for one order, not
 * a failed script. The key layout is in docs/store.md. */
#include "cafe/store_redis-internal.h"

#define PRELUDE                                                                                    \
    "local P = ARGV[1]\n"                                                                          \
    "local function final(s) return s == 'ready' or s == 'cancelled' or s == 'failed' end\n"       \
    "local function now_ms()\n"                                                                    \
    "  local t = redis.call('TIME')\n"                                                             \
    "  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"                         \
    "end\n"                                                                                        \
    "local function members(key)\n"                                                                \
    "  local m = redis.pcall('SMEMBERS', key)\n"                                                   \
    "  if type(m) ~= 'table' or m.err then return {} end\n"                                        \
    "  return m\n"                                                                                 \
    "end\n" /* list[k] gets v appended (a list made on first use) */                               \
    "local function add(t, k, v)\n"                                                                \
    "  local l = t[k]\n"                                                                           \
    "  if not l then l = {}; t[k] = l end\n"                                                       \
    "  l[#l + 1] = v\n"                                                                            \
    "end\n" /* One command for a whole list (in slices: unpack() has a limit). */                  \
    "local function chunked(cmd, key, list)\n"                                                     \
    "  for a = 1, #list, 1000 do\n"                                                                \
    "    redis.call(cmd, key, unpack(list, a, math.min(a + 999, #list)))\n"                        \
    "  end\n"                                                                                      \
    "end\n" /* ids as ZADD's score/member pairs */                                                 \
    "local function scored(ids)\n"                                                                 \
    "  local z = {}\n"                                                                             \
    "  for _, id in ipairs(ids) do z[#z + 1] = id; z[#z + 1] = id end\n"                           \
    "  return z\n"                                                                                 \
    "end\n"                                                                                        \
    "local function entry(maxlen, event, step, by, packed)\n"                                      \
    "  redis.call('XADD', P .. 'events', 'MAXLEN', '~', maxlen, '*', 'event', event, 'step',\n"    \
    "             step, 'by', by, 'r', packed)\n"                                                  \
    "end\n" /* Fails one unfinished order whose brew was lost; 1 if it did. */                     \
    "local function fail_order(id, reason, by, maxlen, now)\n"                                     \
    "  local key = P .. 'order:' .. id\n"                                                          \
    "  local st = redis.pcall('HGET', key, 'status')\n"                                            \
    "  if type(st) ~= 'string' or final(st) then return 0 end\n"                                   \
    "  local acc = tonumber(redis.call('HGET', key, 'accepted'))\n"                                \
    "  local fin = -1\n"                                                                           \
    "  if acc then fin = math.max(now - acc, 0) end\n"                                             \
    "  redis.call('HSET', key, 'status', 'failed', 'reason', reason, 'finished', fin)\n"           \
    "  redis.call('ZREM', P .. 'status:' .. st, id)\n"                                             \
    "  redis.call('ZADD', P .. 'status:failed', id, id)\n"                                         \
    "  entry(maxlen, 'order_failed', '-1', by, table.concat(redis.call('HGETALL', key), '\\0'))\n" \
    "  return 1\n"                                                                                 \
    "end\n"

/* ARGV: prefix, by, n, max_orders, maxlen, then per order: its packed
 * record, nfields, the record's pairs (neither with the id). All of a loop
 * turn's creates in one call: the listings and the in-flight set change by
 * one command each. Returns the first of n consecutive ids. */
static const char create_lua[] = PRELUDE
    "local by, n, max, maxlen = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]\n"
    "local first = redis.call('INCRBY', P .. 'next_id', n) - n + 1\n"
    "local ids, i = {}, 6\n"
    "for k = 1, n do\n"
    "  local id = string.format('%d', first + k - 1)\n"
    "  local nf = tonumber(ARGV[i + 1])\n"
    "  local a, b = i + 2, i + 1 + 2 * nf\n"
    "  redis.call('HSET', P .. 'order:' .. id, 'id', id, unpack(ARGV, a, b))\n"
    "  entry(maxlen, 'order_queued', '-1', by, 'id\\0' .. id .. '\\0' .. ARGV[i])\n"
    "  ids[k] = id\n"
    "  i = b + 1\n"
    "end\n"
    "local z = scored(ids)\n"
    "chunked('ZADD', P .. 'orders', z)\n"
    "chunked('ZADD', P .. 'status:queued', z)\n"
    "chunked('SADD', P .. 'inflight:' .. by, ids)\n"
    /* The shared book keeps the newest max: the evicted go, record and all. */
    "local excess = redis.call('ZCARD', P .. 'orders') - max\n"
    "if excess > 0 then\n"
    "  local old = redis.call('ZPOPMIN', P .. 'orders', excess)\n"
    "  local ids, keys = {}, {}\n"
    "  for j = 1, #old, 2 do\n"
    "    ids[#ids + 1] = old[j]\n"
    "    keys[#keys + 1] = P .. 'order:' .. old[j]\n"
    "  end\n"
    /* Out of every listing at once, no read of each one's status (a listing
     * of the wrong type is an error of its own: not this one's). */
    "  for _, st in ipairs({'queued', 'brewing', 'ready', 'cancelled', 'failed'}) do\n"
    "    for a = 1, #ids, 1000 do\n"
    "      redis.pcall('ZREM', P .. 'status:' .. st, unpack(ids, a, math.min(a + 999, #ids)))\n"
    "    end\n"
    "  end\n"
    "  for a = 1, #keys, 1000 do redis.call('DEL', unpack(keys, a, math.min(a + 999, #keys))) end\n"
    "end\n"
    "return first\n";

/* ARGV: prefix, by, maxlen, n, then per order: id, status, nev, (event,
 * step) x nev, its packed record, nfields, the pairs that may have
 * changed. All of a loop turn's writes in one call, each listing moved by
 * one command. Returns one element per order: 0 (stored), the final status
 * the store already holds (a replica resolved the order meanwhile: that
 * state stands), or an error (BADRECORD) for that order alone. An evicted
 * order's transitions still reach the stream. */
static const char record_lua[] =
    PRELUDE "local by, maxlen, n = ARGV[2], ARGV[3], tonumber(ARGV[4])\n"
            "local out, from, to, done, i = {}, {}, {}, {}, 5\n"
            "for k = 1, n do\n"
            "  local id, status, nev = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])\n"
            "  local ev = i + 3\n"
            "  local packed, nf = ARGV[ev + 2 * nev], tonumber(ARGV[ev + 2 * nev + 1])\n"
            "  local a, b = ev + 2 * nev + 2, ev + 2 * nev + 1 + 2 * nf\n"
            "  i = b + 1\n"
            "  local key = P .. 'order:' .. id\n"
            "  local cur = redis.pcall('HGET', key, 'status')\n"
            "  if type(cur) == 'table' then\n"
            "    out[k] = redis.error_reply('BADRECORD ' .. key .. ' is not a hash')\n"
            "  elseif cur and final(cur) then\n"
            "    if cur == status then out[k] = 0 else out[k] = cur end\n" /* ours, applied before:
                                                                              once is enough */
            "  else\n"
            "    if cur then\n"
            "      if nf > 0 then redis.call('HSET', key, unpack(ARGV, a, b)) end\n"
            "      if cur ~= status then add(from, cur, id); add(to, status, id) end\n"
            "    end\n"
            "    for e = 0, nev - 1 do entry(maxlen, ARGV[ev + 2 * e], ARGV[ev + 2 * e + 1], by, "
            "packed) end\n"
            "    if final(status) then done[#done + 1] = id end\n"
            "    out[k] = 0\n"
            "  end\n"
            "end\n"
            "for st, l in pairs(from) do chunked('ZREM', P .. 'status:' .. st, l) end\n"
            "for st, l in pairs(to) do chunked('ZADD', P .. 'status:' .. st, scored(l)) end\n"
            "chunked('SREM', P .. 'inflight:' .. by, done)\n"
            "return out\n";

/* ARGV: prefix, status ('' for any), limit. Newest first: each element is
 * the record's field/value array, or an error naming the id. */
static const char list_lua[] =
    PRELUDE "local z = P .. 'orders'\n"
            "if ARGV[2] ~= '' then z = P .. 'status:' .. ARGV[2] end\n"
            "local ids = redis.call('ZREVRANGE', z, 0, tonumber(ARGV[3]) - 1)\n"
            "local out = {}\n"
            "for i, id in ipairs(ids) do\n"
            "  local r = redis.pcall('HGETALL', P .. 'order:' .. id)\n"
            "  if r.err then r = redis.error_reply('order ' .. id .. ': ' .. r.err) end\n"
            "  out[i] = r\n"
            "end\n"
            "return out\n";

/* ARGV: prefix, me, reason, maxlen. Fails the unfinished orders of every
 * other replica whose lease key is gone (expired on Redis's own clock).
 * Returns how many. */
static const char claim_lua[] =
    PRELUDE "local me, reason, maxlen = ARGV[2], ARGV[3], ARGV[4]\n"
            "local now, failed = now_ms(), 0\n"
            "for _, r in ipairs(members(P .. 'replicas')) do\n"
            "  if r ~= me and redis.call('EXISTS', P .. 'lease:' .. r) == 0 then\n"
            "    for _, id in ipairs(members(P .. 'inflight:' .. r)) do\n"
            "      failed = failed + fail_order(id, reason, me, maxlen, now)\n"
            "    end\n"
            "    redis.call('DEL', P .. 'inflight:' .. r)\n"
            "    redis.call('SREM', P .. 'replicas', r)\n"
            "  end\n"
            "end\n"
            "return failed\n";

/* ARGV: prefix, me, reason, maxlen, highest local id, live ids... Run first
 * on every new connection: fails this replica's unfinished orders that it
 * no longer brews (an earlier life's, or created but never acknowledged),
 * and keeps the id counter above every id this replica holds (a Redis that
 * lost its data must not hand out an id twice). Returns how many failed. */
static const char reconcile_lua[] =
    PRELUDE "local me, reason, maxlen, top = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])\n"
            "local cur = tonumber(redis.pcall('GET', P .. 'next_id')) or 0\n"
            "if top > cur then redis.call('SET', P .. 'next_id', ARGV[5]) end\n"
            "local live = {}\n"
            "for i = 6, #ARGV do live[ARGV[i]] = true end\n"
            "local now, failed = now_ms(), 0\n"
            "for _, id in ipairs(members(P .. 'inflight:' .. me)) do\n"
            "  if not live[id] then\n"
            "    failed = failed + fail_order(id, reason, me, maxlen, now)\n"
            "    redis.call('SREM', P .. 'inflight:' .. me, id)\n"
            "  end\n"
            "end\n"
            "return failed\n";

const struct redis_script redis_scripts[SCRIPT_COUNT] = {
    [SCRIPT_CREATE] = {"create", create_lua},
    [SCRIPT_RECORD] = {"record", record_lua},
    [SCRIPT_LIST] = {"list", list_lua},
    [SCRIPT_CLAIM] = {"claim", claim_lua},
    [SCRIPT_RECONCILE] = {"reconcile", reconcile_lua},
};
