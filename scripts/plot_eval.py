#!/usr/bin/env python3
"""Plots of scripts/eval-suite.sh's reports (PNG, next to them): error per layer, agreement and
logit error per prompt, cost per operation and per party, wall time and bytes per token.

    python3 scripts/plot_eval.py DIR
"""
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def load(directory, name):
    path = os.path.join(directory, name)
    return json.load(open(path)) if os.path.exists(path) else None


def error_per_layer(directory, suites):
    fig, axes = plt.subplots(1, len(suites), figsize=(6 * len(suites), 4.2), squeeze=False)
    for ax, (title, report) in zip(axes[0], suites):
        rows = report["trace"]
        for step in dict.fromkeys(r["step"] for r in rows):
            mine = [r for r in rows if r["step"] == step]
            ax.plot([r["layer"] for r in mine], [r["mean_error"] for r in mine], marker="o", label=step)
        ax.set_yscale("log")
        ax.set_xlabel("layer")
        ax.set_ylabel("mean |secure − plain|")
        ax.set_title(f"{title}: error per layer ({rows[0]['passes']} prompt passes)")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(directory, "error_per_layer.png"), dpi=120)


def agreement_per_prompt(directory, suites):
    fig, axes = plt.subplots(1, len(suites), figsize=(6 * len(suites), 4.2), squeeze=False)
    for ax, (title, report) in zip(axes[0], suites):
        prompts = report["prompts"]
        x = range(len(prompts))
        ax.bar(x, [100 * p["agreement"] for p in prompts], color="tab:green", label="teacher-forced agreement (%)")
        ax.set_ylim(0, 105)
        ax.set_ylabel("agreement (%)")
        ax.set_xticks(list(x), [(p["prompt"][:14] or "(empty)") for p in prompts], rotation=30, ha="right", fontsize=8)
        twin = ax.twinx()
        twin.plot(list(x), [p["max_logit_error"] for p in prompts], "o-", color="tab:red", label="max |Δ logit|")
        twin.set_ylabel("max |secure − plain logit|", color="tab:red")
        twin.set_ylim(bottom=0)
        s = report["summary"]
        ax.set_title(f"{title}: {s['identical']}/{s['total']} identical continuations")
    fig.tight_layout()
    fig.savefig(os.path.join(directory, "agreement_per_prompt.png"), dpi=120)


def cost_per_operation(directory, bench):
    ops = {k: v for k, v in bench["ops"].items() if "per_party" in v and v["bytes_sent"] > 0}
    names = sorted(ops, key=lambda k: -ops[k]["bytes_sent"])
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.5))
    width = 0.27
    for p in range(3):
        left.bar([i + (p - 1) * width for i in range(len(names))], [ops[n]["per_party"][p]["bytes_sent"] / 1e6 for n in names],
                 width, label=f"P{p}")
    left.set_xticks(range(len(names)), names, rotation=40, ha="right", fontsize=8)
    left.set_ylabel("MB sent")
    left.set_title(f"bytes per operation and party ({bench['prompt_tokens']} → {bench['new_tokens']} tokens)")
    left.legend()
    right.bar(range(len(names)), [ops[n]["rounds"] for n in names], color="tab:purple")
    right.set_xticks(range(len(names)), names, rotation=40, ha="right", fontsize=8)
    right.set_ylabel("rounds")
    right.set_title("rounds per operation")
    fig.tight_layout()
    fig.savefig(os.path.join(directory, "cost_per_operation.png"), dpi=120)


def per_token(directory, bench):
    passes = bench["per_token"]
    fig, ax = plt.subplots(figsize=(7, 4))
    x = range(1, len(passes) + 1)
    ax.plot(list(x), [p["wall_seconds"] for p in passes], "o-", label="wall time (s)")
    ax.set_xlabel("pass (1 = the prompt)")
    ax.set_ylabel("wall time (s)")
    twin = ax.twinx()
    twin.plot(list(x), [p["bytes_sent"] / 1e6 for p in passes], "s--", color="tab:orange", label="MB sent")
    twin.set_ylabel("MB sent (all parties)", color="tab:orange")
    ax.set_title(f"secure generation per token ({os.path.basename(bench['model'])})")
    fig.tight_layout()
    fig.savefig(os.path.join(directory, "per_token.png"), dpi=120)


def main():
    directory = sys.argv[1]
    suites = [(name, r) for name, r in (("kjv-1m", load(directory, "kjv-prompts.json")),
                                         ("stories260K", load(directory, "stories-prompts.json"))) if r]
    if suites:
        error_per_layer(directory, suites)
        agreement_per_prompt(directory, suites)
    bench = load(directory, "bench-kjv.json")
    if bench:
        cost_per_operation(directory, bench)
        per_token(directory, bench)
    print("plots in", directory + ":", ", ".join(sorted(f for f in os.listdir(directory) if f.endswith(".png"))))


if __name__ == "__main__":
    main()
