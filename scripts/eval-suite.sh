#!/usr/bin/env bash
# puma's offline evaluation suite: secure inference against plaintext on the embedded model's and
# stories260K's golden prompts (agreement, logit error, layer trace), kjv-1m's held-out perplexity,
# and the cost of generation per operation, party and token; then the plots (PNG). Everything goes
# to $OUT (default .build-eval/): the JSON reports, their Markdown summaries, the plots.
#
#   scripts/eval-suite.sh [--out DIR] [--heldout-windows K]
#
# --heldout-windows: how many of the 640 held-out windows the secure model scores (default 64,
# about 25 s; all 640 take a few minutes); plaintext always scores all of them. Needs python3 (a
# virtual environment with numpy, matplotlib and sentencepiece from PyPI is made in scripts/.venv)
# and, for the held-out text, Debian's bible-kjv (installed when missing and running as root).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=.build-eval; WINDOWS=64
while [ $# -gt 0 ]; do
    case "$1" in
        --out) OUT="$2"; shift ;;
        --heldout-windows) WINDOWS="$2"; shift ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
VENV=scripts/.venv
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q numpy matplotlib sentencepiece==0.2.1
fi
PY="$VENV/bin/python"
swift build -c release --product puma
PUMA=.build/release/puma
mkdir -p "$OUT"

prompts() {  # the "prompts" of a golden file as JSON lines
    "$PY" -c 'import json, sys; d = json.load(open(sys.argv[1])); items = d.get("prompts") or [g["prompt"] for g in d["greedy"]]
print("\n".join(json.dumps({"prompt": p}) for p in items))' "$1"
}

echo "== kjv-1m golden prompts (agreement, logit error, layer trace)"
prompts models/kjv-1m/golden.json > "$OUT/kjv-prompts.jsonl"
$PUMA eval --prompts "$OUT/kjv-prompts.jsonl" --trace --json "$OUT/kjv-prompts.json" | tee "$OUT/kjv-prompts.md"

STORIES=../shared/models/stories260K
if [ -f "$STORIES/golden-prompts.json" ]; then
    echo "== stories260K golden prompts"
    prompts "$STORIES/golden-prompts.json" > "$OUT/stories-prompts.jsonl"
    $PUMA eval --model "$STORIES" --prompts "$OUT/stories-prompts.jsonl" --trace --json "$OUT/stories-prompts.json" | tee "$OUT/stories-prompts.md"
else
    echo "== stories260K skipped: $STORIES is absent"
fi

echo "== kjv-1m held-out perplexity (the training script's windows)"
if ! command -v bible >/dev/null && [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq bible-kjv >/dev/null; fi
if command -v bible >/dev/null; then
    bible -f "Gen1:1-Rev22:21" | sed -E 's/^[0-9A-Za-z]+[0-9]+:[0-9]+ //' > "$OUT/kjv.txt"   # as models/train/train.sh
    "$PY" scripts/kjv_heldout.py --corpus "$OUT/kjv.txt" --tokenizer models/kjv-1m/tokenizer.model --out "$OUT/heldout-windows.json"
    $PUMA eval --token-windows "$OUT/heldout-windows.json" --candidate plain --json "$OUT/heldout-plain.json" | tee "$OUT/heldout-plain.md"
    $PUMA eval --token-windows "$OUT/heldout-windows.json" --max-windows "$WINDOWS" --json "$OUT/heldout-secure.json" | tee "$OUT/heldout-secure.md"
else
    echo "   skipped: Debian's bible-kjv is not installed (apt-get install bible-kjv)"
fi

echo "== cost of secure generation on kjv-1m (8 → 16 tokens)"
$PUMA bench generate --prompt-tokens 8 --new-tokens 16 --json "$OUT/bench-kjv.json"

"$PY" scripts/plot_eval.py "$OUT"
