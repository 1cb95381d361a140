#!/usr/bin/env bash
# Retrains the embedded default model models/kjv-1m from scratch (CPU only, deterministic).
#   bash models/train/train.sh
# Needs Debian's bible-kjv (the corpus) and python3; creates its own virtual environment.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$(cd "$here/.." && pwd)/kjv-1m"
if ! command -v bible >/dev/null; then
  apt-get update && apt-get install -y bible-kjv
fi
venv="$here/.venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install torch==2.15.0 numpy sentencepiece==0.2.3
fi
mkdir -p "$here/work" "$out"
# The whole King James Bible, one verse a line, without the verse references.
bible -f "Gen1:1-Rev22:21" | sed -E 's/^[0-9A-Za-z]+[0-9]+:[0-9]+ //' > "$here/work/kjv.txt"
"$venv/bin/python" "$here/train.py" --corpus "$here/work/kjv.txt" --out "$out" "$@"
