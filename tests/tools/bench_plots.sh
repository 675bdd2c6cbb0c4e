#!/bin/bash
# bench/modes.sh --smoke (about 15 s: a couple of points per curve, far too
# short for figures) writes results.json with every section's figures, and
# bench/plot.mjs draws it with gnuplot into SVGs that carry the series, the
# axes' values and a subtitle saying it was a smoke run. What turns it red:
# a run missing from results.json (or the JSON broken), a picture not drawn,
# a series or axis missing from it, a smoke picture that does not say so.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/tools/lib.bash
cafe_need wrk httperf taskset gnuplot node jq curl
[ -x "$CAFE_SERVER_BIN" ] || die "no server binary at $CAFE_SERVER_BIN"
if [[ $(ldd "$CAFE_SERVER_BIN" 2>/dev/null) == *libasan* ]]; then
    echo "skip: a benchmark of the sanitizer build says nothing (the plain pass runs this)"
    exit 77
fi

out=$CAFE_TMP/bench
OUT=$out CAFE_SERVER_BIN=$CAFE_SERVER_BIN bash bench/modes.sh --smoke >"$CAFE_TMP/modes.log" 2>&1 ||
    { cat "$CAFE_TMP/modes.log" >&2; die "bench/modes.sh --smoke failed"; }
json=$out/results.json
jq -e . "$json" >/dev/null || die "results.json is not JSON"

# every run of every section, with wrk's figures
jq -e '.mode == "smoke" and (.runs | length) == 10 and
       ([.runs[] | select(.section == "latte")] | length) == 6 and
       ([.runs[] | select(.section == "pourover") | .mode] | sort) == ["async", "sync", "thread"] and
       ([.runs[] | select(.section == "c10k")] | length) == 1 and
       all(.runs[]; (.rps > 0) and (.p50_ms > 0) and (.p99_ms >= .p50_ms) and .non2xx == 0 and .socket_errors == 0) and
       .memory.connections == 300 and .memory.mid_kb > .memory.idle_kb and
       .open_loop.ok_2xx == 100' "$json" >/dev/null ||
    die "results.json lacks runs or figures: $(jq -c '{mode, n: (.runs | length), memory, open_loop}' "$json")"
# the shape of the curves: sync flat at ~1/T, async growing with connections
jq -e '[.runs[] | select(.section == "latte" and .mode == "async") | .rps] as $a |
       [.runs[] | select(.section == "latte" and .mode == "sync") | .rps] as $s |
       ($a[1] > 3 * $a[0]) and ($s[1] < 2 * $s[0])' "$json" >/dev/null ||
    die "async does not scale with connections or sync does: $(jq -c '[.runs[] | [.mode, .conns, .rps]]' "$json")"

# the pictures, redrawn from the JSON alone into a fresh directory
pics=$CAFE_TMP/pics
node bench/plot.mjs "$json" "$pics" >/dev/null
for name in throughput latency pourover memory; do
    svg=$pics/bench-$name.svg
    [ -s "$svg" ] || die "no $svg"
    grep -q '<svg' "$svg" || die "$svg is not an SVG"
    grep -q 'SMOKE RUN' "$svg" || die "$svg does not say it comes from a smoke run"
    cmp -s "$svg" "$out/bench-$name.svg" || die "modes.sh's own $name picture differs from a redraw of its JSON"
done
has() { grep -q -- "$2" "$pics/bench-$1.svg" || die "bench-$1.svg lacks $2"; }
for m in sync async thread; do
    has throughput ">$m<"
    has latency ">$m p99<"
done
has throughput 'ideal async, thread: connections / T'
has throughput '>orders per second<'
has throughput '> 100<' # a value on the log axes
has latency '>one brew: 100 ms<'
has pourover 'bound: baristas / hands-on'
has pourover '>measured<'
has memory 'KiB per connection'
has memory '>resident memory (MiB)<'
echo "ok: smoke run, $(jq '.runs | length' "$json") runs, 4 pictures"
