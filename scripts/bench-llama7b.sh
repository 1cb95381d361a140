#!/usr/bin/env bash
# Benchmarks of the LLaMA-7B shape (release build): ring vs float GEMM, then secure generation
# 8 → 2 on a one-layer 7B-shape checkpoint and, with --full, on the whole 32-layer LLaMA-7B shape
# (13.5 GB of F16 written once; about 2 minutes per run on 2 cores). Results go to $OUT as JSON.
#
#   scripts/bench-llama7b.sh [--full] [--runs N] [--models DIR] [--out DIR]
#
# Needs the 32,000-piece LLaMA tokenizer (../shared/models/llama2-tokenizer/tokenizer.model, or
# $TOKENIZER). Median of the runs: see scripts/median.py.
set -euo pipefail
cd "$(dirname "$0")/.."
FULL=0; RUNS=3; MODELS=.build-models; OUT=.build-bench
while [ $# -gt 0 ]; do
    case "$1" in
        --full) FULL=1 ;;
        --runs) RUNS="$2"; shift ;;
        --models) MODELS="$2"; shift ;;
        --out) OUT="$2"; shift ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
TOKENIZER="${TOKENIZER:-../shared/models/llama2-tokenizer/tokenizer.model}"
mkdir -p "$MODELS" "$OUT"
swift build -c release --product puma
PUMA=.build/release/puma
lscpu | grep -E "Model name|^CPU\(s\)" > "$OUT/machine.txt"; free -g | head -2 >> "$OUT/machine.txt"

$PUMA bench gemm --json "$OUT/gemm.json"

[ -f "$MODELS/llama-7b-1layer/config.json" ] || $PUMA make-model --preset llama-7b --layers 1 --out "$MODELS/llama-7b-1layer" --tokenizer "$TOKENIZER"
for i in $(seq "$RUNS"); do
    $PUMA bench generate --model "$MODELS/llama-7b-1layer" --prompt-tokens 8 --new-tokens 2 --json "$OUT/generate-1layer-$i.json"
done

if [ "$FULL" = 1 ]; then
    [ -f "$MODELS/llama-7b/config.json" ] || $PUMA make-model --preset llama-7b --out "$MODELS/llama-7b" --tokenizer "$TOKENIZER"
    cat "$MODELS"/llama-7b/*.safetensors > /dev/null   # warm the page cache: measure compute, not the disk
    for i in $(seq "$RUNS"); do
        $PUMA bench generate --model "$MODELS/llama-7b" --prompt-tokens 8 --new-tokens 2 --json "$OUT/generate-7b-$i.json"
    done
fi
python3 scripts/median.py "$OUT"/generate-*.json
