#!/usr/bin/env python3
"""Medians over `puma bench generate --json` files, grouped by model: per pass wall time, bytes
(total and busiest party), rounds, and the run's secure/plain ratio and peak RSS."""
import json
import statistics
import sys
from collections import defaultdict

runs = defaultdict(list)
for path in sys.argv[1:]:
    with open(path) as f:
        report = json.load(f)
    runs[report["model"]].append(report)

for model, reports in sorted(runs.items()):
    print(f"{model}: {len(reports)} runs")
    for i in range(len(reports[0]["per_token"])):
        passes = [r["per_token"][i] for r in reports]
        wall = statistics.median(p["wall_seconds"] for p in passes)
        busiest = max(q["bytes_sent"] for q in passes[0]["per_party"])
        print(f"  pass {i + 1} ({passes[0]['tokens']} tokens): {wall:.2f} s median "
              f"[{min(p['wall_seconds'] for p in passes):.2f}–{max(p['wall_seconds'] for p in passes):.2f}], "
              f"{passes[0]['bytes_sent'] / 1e6:.1f} MB summed, {busiest / 1e6:.1f} MB busiest party, {passes[0]['rounds']} rounds")
    print(f"  secure {statistics.median(r['secure_wall_seconds'] for r in reports):.2f} s, "
          f"plain {statistics.median(r['plain_wall_seconds'] for r in reports):.2f} s, "
          f"ratio {statistics.median(r['ratio'] for r in reports):.1f}x, "
          f"peak RSS {statistics.median(r['peak_rss_bytes'] for r in reports) / 2**30:.2f} GiB, "
          f"set-up {statistics.median(r['setup_seconds'] for r in reports):.2f} s")

# Per-operation table of each model's median run (by secure wall time), largest wall time first.
for model, reports in sorted(runs.items()):
    ordered = sorted(reports, key=lambda r: r["secure_wall_seconds"])
    median_run = ordered[len(ordered) // 2]
    print(f"\n{model}, median run: per operation over all passes")
    print("| operation | MB sent (summed) | MB sent by P0 / P1 / P2 | rounds | wall s |")
    print("|---|---|---|---|---|")
    for name, op in sorted(median_run["ops"].items(), key=lambda kv: -kv[1]["wall_seconds"]):
        parties = " / ".join(f"{p['bytes_sent'] / 1e6:.1f}" for p in op.get("per_party", [])) or "—"
        print(f"| {name} | {op['bytes_sent'] / 1e6:.1f} | {parties} | {op['rounds']} | {op['wall_seconds']:.2f} |")
