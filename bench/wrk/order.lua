-- wrk script: POSTs one café order per request and counts what wrk's summary
-- hides. wrk runs one Lua state per thread, so per-thread counters are read
-- back in done() through the thread objects collected in setup().
--
--   CAFE_ITEM=latte wrk -t1 -c100 -d10s -s bench/wrk/order.lua http://127.0.0.1:8080/async/order
--
-- The mode is the URL's path (/sync/order, /async/order, /thread/order).
-- Environment: CAFE_ITEM (default latte), CAFE_FLAVOUR (optional).
-- Prints one machine-readable line starting with "RESULT" (bench/modes.sh
-- parses it) after wrk's own summary.

local item = os.getenv("CAFE_ITEM") or "latte"
local flavour = os.getenv("CAFE_FLAVOUR")

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
if flavour and flavour ~= "" then
  wrk.body = string.format('{"item":"%s","flavour":"%s"}', item, flavour)
else
  wrk.body = string.format('{"item":"%s"}', item)
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  ok = 0      -- 2xx answers
  non2xx = 0  -- anything else (503 when over a limit, 504, ...)
  s503 = 0
end

function response(status, headers, body)
  if status >= 200 and status < 300 then
    ok = ok + 1
  else
    non2xx = non2xx + 1
    if status == 503 then s503 = s503 + 1 end
  end
end

function done(summary, latency, requests)
  local good, bad, busy = 0, 0, 0
  for _, t in ipairs(threads) do
    good = good + t:get("ok")
    bad = bad + t:get("non2xx")
    busy = busy + t:get("s503")
  end
  local e = summary.errors
  local sock = e.connect + e.read + e.write + e.timeout
  local secs = summary.duration / 1e6
  io.write(string.format(
    "RESULT requests=%d ok=%d non2xx=%d s503=%d socket_errors=%d connect=%d read=%d write=%d timeout=%d " ..
    "rps=%.1f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f duration_s=%.2f\n",
    summary.requests, good, bad, busy, sock, e.connect, e.read, e.write, e.timeout,
    summary.requests / secs, latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, secs))
end
