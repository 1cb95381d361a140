#!/usr/bin/env python3
"""The held-out windows of models/kjv-1m's training run, as token ids, for `puma eval --token-windows`.

models/train/train.py reports the held-out loss (3.1215 nats/token, models/README.md) as the mean
cross-entropy over 20 batches of 32 windows of 128 tokens drawn from the last 5 % of its token
stream by `torch.randint` with a generator seeded 7. This rebuilds that stream (the KJV from
Debian's bible-kjv, one verse a line, each BOS-prefixed, encoded by the model's own tokenizer) and
draws the same windows: PyTorch's CPU generator is MT19937 seeded with init_genrand(7), and randint
over a range below 2^32 takes one 32-bit draw modulo the range per value, so Python's own MT19937,
given that state, reproduces it without PyTorch. Each window is 129 tokens: the 128 inputs and the
token after the last; every token after the first is scored.

    python3 scripts/kjv_heldout.py --corpus kjv.txt --tokenizer models/kjv-1m/tokenizer.model --out windows.json
"""
import argparse
import json
import random

import sentencepiece as spm

BOS, SEQ, BATCH, BATCHES, SEED = 1, 128, 32, 20, 7


def mt19937_state(seed):
    """The state of MT19937 after init_genrand(seed), in the form random.setstate takes."""
    mt = [seed & 0xFFFFFFFF]
    for i in range(1, 624):
        mt.append((1812433253 * (mt[-1] ^ (mt[-1] >> 30)) + i) & 0xFFFFFFFF)
    return (3, tuple(mt) + (624,), None)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", required=True, help="the KJV, one verse a line (as models/train/train.sh writes it)")
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    sp = spm.SentencePieceProcessor(model_file=args.tokenizer)
    with open(args.corpus, encoding="utf-8") as f:
        lines = [line.rstrip("\n") for line in f if line.strip()]
    stream = []
    for ids in sp.encode(lines):
        stream += [BOS] + ids
    held = stream[int(len(stream) * 0.95):]
    generator = random.Random()
    generator.setstate(mt19937_state(SEED))
    span = len(held) - SEQ - 1
    windows = []
    for _ in range(BATCHES * BATCH):
        start = generator.getrandbits(32) % span
        windows.append(held[start:start + SEQ + 1])
    with open(args.out, "w") as f:
        json.dump({"source": "models/train/train.py held-out batches (torch seed 7)", "tokens": len(stream),
                   "held_out": len(held), "windows": windows}, f)
    print(f"{len(stream)} tokens, {len(held)} held out, {len(windows)} windows of {SEQ + 1} written to {args.out}")


if __name__ == "__main__":
    main()
