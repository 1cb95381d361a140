#!/usr/bin/env bash
# Secure generation with three `puma party` processes on loopback (mutual TLS) against the same
# generation in the one-process simulation: wall time, payload bytes and rounds, bytes on the wire.
#
#   scripts/bench-deployment.sh [--model DIR] [--prompt TEXT] [--max-tokens N] [--runs K] [--out DIR]
#
# Builds nothing: run `swift build -c release` first. Each run's report goes to OUT/{deployed,simulated}-K.json.
set -euo pipefail
cd "$(dirname "$0")/.."
model=models/kjv-1m prompt="In the beginning God created the heaven" tokens=16 runs=3 out=$(mktemp -d)
while [ $# -gt 0 ]; do
  case "$1" in
    --model) model=$2; shift 2 ;;
    --prompt) prompt=$2; shift 2 ;;
    --max-tokens) tokens=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
puma=.build/release/puma
dep=$out/deployment
ports=$(python3 -c 'import socket
s=[socket.socket() for _ in range(3)]
[x.bind(("127.0.0.1",0)) for x in s]
print(",".join("127.0.0.1:%d" % x.getsockname()[1] for x in s))')
$puma deploy init --out "$dep" --hosts "$ports" >/dev/null
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
for i in 0 1 2; do
  $puma party --deployment "$dep" --id $i --timeout 600 2>"$out/P$i.log" &
  pids+=($!)
done
for i in 0 1 2; do until grep -q serving "$out/P$i.log"; do sleep 0.2; done; done
/usr/bin/time -f "owner: %e s wall, %M KB peak RSS" $puma owner --deployment "$dep" --model "$model" --timeout 600
for k in $(seq "$runs"); do
  $puma generate --deployment "$dep" --model "$model" --prompt "$prompt" --max-tokens "$tokens" --ignore-eos --timeout 600 \
    --report-json "$out/deployed-$k.json" >/dev/null 2>&1
  $puma generate --model "$model" --prompt "$prompt" --max-tokens "$tokens" --ignore-eos --seed 1 \
    --report-json "$out/simulated-$k.json" >/dev/null 2>&1
done
python3 - "$out" "$runs" <<'PY'
import json, statistics, sys
out, runs = sys.argv[1], int(sys.argv[2])
load = lambda kind: [json.load(open(f"{out}/{kind}-{k}.json")) for k in range(1, runs + 1)]
dep, sim = load("deployed"), load("simulated")
assert all(d["ids"] == s["ids"] for d, s in zip(dep, sim)), "deployed and simulated tokens differ"
med = lambda xs: statistics.median(xs)
first = lambda r: r["per_token"][0]
later = lambda r: statistics.mean(p["wall_seconds"] for p in r["per_token"][1:]) if len(r["per_token"]) > 1 else 0
print(f"model {dep[0]['model']}, {dep[0]['prompt_tokens']} prompt tokens, {dep[0]['generated_tokens']} generated, medians of {runs}")
print(f"{'':24}{'simulation':>14}{'loopback TLS':>14}{'ratio':>8}")
for name, f in [("prompt pass, s", lambda r: first(r)["wall_seconds"]), ("later pass, s (mean)", later),
                ("whole generation, s", lambda r: r["total"]["generation_seconds"])]:
    a, b = med([f(r) for r in sim]), med([f(r) for r in dep])
    print(f"{name:24}{a:14.3f}{b:14.3f}{b / a if a else 0:8.2f}")
d, s = dep[0], sim[0]
print(f"payload bytes, summed: simulation {s['total']['bytes_sent']:,}, loopback {d['total']['bytes_sent']:,}; rounds {s['total']['rounds']:,} / {d['total']['rounds']:,}")
wire = d["wire"]["party_bytes_sent"]
payload = [sum(p["per_party"][i]["bytes_sent"] for p in d["per_token"]) for i in range(3)]
print("on the wire per party (TLS, framing, control, keepalives): " +
      ", ".join(f"P{i} {w:,} B ({w / payload[i]:.3f}× payload)" for i, w in enumerate(wire)) + f", client {d['wire']['client_bytes_sent']:,} B")
PY
