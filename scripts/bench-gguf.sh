#!/usr/bin/env bash
# The weight path of a quantized GGUF against F16 safetensors, on the whole LLaMA-7B shape: `puma bench
# generate` 8 → 2 (secure and plaintext) on make-model's 7B preset written both ways — F16 Hugging Face
# shards (13.5 GB) and one Q4_K GGUF file (3.8 GB, 4.5 bits per weight) — runs alternating, page cache
# warmed first. Results go to $OUT as JSON; the medians are printed.
#
#   scripts/bench-gguf.sh [--runs N] [--models DIR] [--out DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=3; MODELS=.build-models; OUT=.build-bench
while [ $# -gt 0 ]; do
    case "$1" in
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
[ -f "$MODELS/llama-7b/config.json" ] || $PUMA make-model --preset llama-7b --out "$MODELS/llama-7b" --tokenizer "$TOKENIZER"
[ -f "$MODELS/llama-7b-q4_k.gguf" ] || $PUMA make-model --preset llama-7b --format gguf --type Q4_K --out "$MODELS/llama-7b-q4_k.gguf" --tokenizer "$TOKENIZER"
cat "$MODELS"/llama-7b/*.safetensors "$MODELS/llama-7b-q4_k.gguf" > /dev/null   # measure compute, not the disk
for i in $(seq "$RUNS"); do
    $PUMA bench generate --model "$MODELS/llama-7b" --prompt-tokens 8 --new-tokens 2 --json "$OUT/gguf-f16-$i.json"
    $PUMA bench generate --model "$MODELS/llama-7b-q4_k.gguf" --prompt-tokens 8 --new-tokens 2 --json "$OUT/gguf-q4k-$i.json"
done
python3 scripts/median.py "$OUT"/gguf-f16-*.json
python3 scripts/median.py "$OUT"/gguf-q4k-*.json
