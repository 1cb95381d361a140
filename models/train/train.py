"""Trains the embedded default model of puma: a ~1M-parameter LLaMA on the King James Bible.

Writes a Hugging Face checkpoint (config.json, two BF16 safetensors shards with
model.safetensors.index.json, tokenizer.model) and golden.json: greedy continuations computed by
this file's own PyTorch forward on the BF16-rounded weights, which puma's tests must reproduce.
Deterministic for a given seed; CPU only.
"""
import argparse
import json
import math
import os
import struct
import time

import numpy as np
import sentencepiece as spm
import torch
import torch.nn.functional as F

CONFIG = dict(
    hidden_size=128,
    intermediate_size=352,
    num_hidden_layers=4,
    num_attention_heads=4,
    num_key_value_heads=2,
    head_dim=32,
    vocab_size=1024,
    max_position_embeddings=256,
    rms_norm_eps=1e-5,
    rope_theta=10000.0,
    tie_word_embeddings=False,
    bos_token_id=1,
    eos_token_id=2,
)
GOLDEN_PROMPTS = [
    "In the beginning",
    "And the LORD said unto Moses,",
    "Blessed are the",
    "The LORD is my shepherd;",
]
GOLDEN_TOKENS = 32


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def rope_tables(cfg, length):
    d = cfg["head_dim"]
    inv = 1.0 / (cfg["rope_theta"] ** (torch.arange(0, d, 2, dtype=torch.float64) / d))
    angles = torch.outer(torch.arange(length, dtype=torch.float64), inv)
    emb = torch.cat((angles, angles), dim=-1)
    return emb.cos().float(), emb.sin().float()


def init_params(cfg, gen):
    h, i, v = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    qd = cfg["num_attention_heads"] * cfg["head_dim"]
    kd = cfg["num_key_value_heads"] * cfg["head_dim"]
    std = 0.02
    out_std = std / math.sqrt(2 * cfg["num_hidden_layers"])

    def normal(*shape, s=std):
        return (torch.randn(*shape, generator=gen) * s).requires_grad_()

    p = {"model.embed_tokens.weight": normal(v, h)}
    for l in range(cfg["num_hidden_layers"]):
        pre = f"model.layers.{l}."
        p[pre + "input_layernorm.weight"] = torch.ones(h, requires_grad=True)
        p[pre + "self_attn.q_proj.weight"] = normal(qd, h)
        p[pre + "self_attn.k_proj.weight"] = normal(kd, h)
        p[pre + "self_attn.v_proj.weight"] = normal(kd, h)
        p[pre + "self_attn.o_proj.weight"] = normal(h, qd, s=out_std)
        p[pre + "post_attention_layernorm.weight"] = torch.ones(h, requires_grad=True)
        p[pre + "mlp.gate_proj.weight"] = normal(i, h)
        p[pre + "mlp.up_proj.weight"] = normal(i, h)
        p[pre + "mlp.down_proj.weight"] = normal(h, i, s=out_std)
    p["model.norm.weight"] = torch.ones(h, requires_grad=True)
    p["lm_head.weight"] = normal(v, h)
    return p


def forward(p, cfg, ids):
    """Full-sequence causal forward, Hugging Face LLaMA semantics. ids: [B, T] → logits [B, T, V]."""
    b, t = ids.shape
    nh, nkv, hd = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    eps = cfg["rms_norm_eps"]
    cos, sin = rope_tables(cfg, t)
    x = p["model.embed_tokens.weight"][ids]
    for l in range(cfg["num_hidden_layers"]):
        pre = f"model.layers.{l}."
        hdn = rms_norm(x, p[pre + "input_layernorm.weight"], eps)
        q = (hdn @ p[pre + "self_attn.q_proj.weight"].T).view(b, t, nh, hd).transpose(1, 2)
        k = (hdn @ p[pre + "self_attn.k_proj.weight"].T).view(b, t, nkv, hd).transpose(1, 2)
        v = (hdn @ p[pre + "self_attn.v_proj.weight"].T).view(b, t, nkv, hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(nh // nkv, dim=1)
        v = v.repeat_interleave(nh // nkv, dim=1)
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
        mask = torch.triu(torch.ones(t, t, dtype=torch.bool), diagonal=1)
        att = torch.softmax(scores.masked_fill(mask, float("-inf")), dim=-1) @ v
        x = x + att.transpose(1, 2).reshape(b, t, nh * hd) @ p[pre + "self_attn.o_proj.weight"].T
        hdn = rms_norm(x, p[pre + "post_attention_layernorm.weight"], eps)
        gate = hdn @ p[pre + "mlp.gate_proj.weight"].T
        up = hdn @ p[pre + "mlp.up_proj.weight"].T
        x = x + (F.silu(gate) * up) @ p[pre + "mlp.down_proj.weight"].T
    x = rms_norm(x, p["model.norm.weight"], eps)
    return x @ p["lm_head.weight"].T


def write_safetensors(path, tensors):
    """Writes {name: bf16 torch tensor} in the safetensors format (sorted names, packed data)."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        raw = tensors[name].contiguous().view(torch.int16).numpy().astype("<i2").tobytes()
        header[name] = {"dtype": "BF16", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(os.cpu_count() or 1)
    torch.use_deterministic_algorithms(True)
    cfg = CONFIG

    # Tokenizer: SentencePiece BPE with byte fallback, LLaMA's special ids.
    prefix = os.path.join(os.path.dirname(args.corpus), "tokenizer")
    spm.SentencePieceTrainer.train(
        input=args.corpus, model_prefix=prefix, model_type="bpe", vocab_size=cfg["vocab_size"],
        byte_fallback=True, character_coverage=1.0, split_digits=True, unk_id=0, bos_id=1, eos_id=2,
        pad_id=-1, num_threads=1, minloglevel=2,
    )
    sp = spm.SentencePieceProcessor(model_file=prefix + ".model")
    with open(args.corpus, encoding="utf-8") as f:
        lines = [line.rstrip("\n") for line in f if line.strip()]
    # Each verse starts a new BOS-prefixed sequence piece, as puma feeds prompts (BOS + text).
    stream = []
    for ids in sp.encode(lines):
        stream += [cfg["bos_token_id"]] + ids
    data = torch.tensor(stream, dtype=torch.long)
    split = int(len(data) * 0.95)
    train, held = data[:split], data[split:]
    print(f"tokens: {len(data)} (train {len(train)}, held-out {len(held)})", flush=True)

    gen = torch.Generator().manual_seed(args.seed)
    params = init_params(cfg, gen)
    n_params = sum(p.numel() for p in params.values())
    print(f"parameters: {n_params}", flush=True)
    decay = [p for n, p in params.items() if p.dim() == 2]
    no_decay = [p for n, p in params.items() if p.dim() == 1]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95))

    def batch(source, g):
        starts = torch.randint(0, len(source) - args.seq - 1, (args.batch,), generator=g)
        x = torch.stack([source[s:s + args.seq] for s in starts])
        y = torch.stack([source[s + 1:s + args.seq + 1] for s in starts])
        return x, y

    def held_out_loss(p):
        g = torch.Generator().manual_seed(7)
        with torch.no_grad():
            losses = []
            for _ in range(20):
                x, y = batch(held, g)
                losses.append(F.cross_entropy(forward(p, cfg, x).flatten(0, 1), y.flatten()).item())
        return float(np.mean(losses))

    warmup = 100
    start = time.time()
    recent = []
    for step in range(args.steps):
        lr = args.lr * min(1.0, (step + 1) / warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / args.steps)))
        for group in opt.param_groups:
            group["lr"] = lr
        x, y = batch(train, gen)
        loss = F.cross_entropy(forward(params, cfg, x).flatten(0, 1), y.flatten())
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(params.values()), 1.0)
        opt.step()
        recent = (recent + [loss.item()])[-50:]
        if step % 100 == 0 or step == args.steps - 1:
            print(f"step {step} loss {np.mean(recent):.4f} lr {lr:.2e} {time.time() - start:.0f}s", flush=True)

    # Round to BF16 (what is stored) and evaluate/generate with exactly those weights.
    stored = {n: p.detach().to(torch.bfloat16) for n, p in params.items()}
    rounded = {n: t.float() for n, t in stored.items()}
    train_loss = float(np.mean(recent))
    held_loss = held_out_loss(rounded)
    print(f"final train loss (last 50 steps) {train_loss:.4f}, held-out loss (bf16 weights) {held_loss:.4f}", flush=True)

    os.makedirs(args.out, exist_ok=True)
    layers = cfg["num_hidden_layers"]
    first = {n: t for n, t in stored.items()
             if n == "model.embed_tokens.weight" or any(n.startswith(f"model.layers.{l}.") for l in range(layers // 2))}
    second = {n: t for n, t in stored.items() if n not in first}
    names = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    write_safetensors(os.path.join(args.out, names[0]), first)
    write_safetensors(os.path.join(args.out, names[1]), second)
    total = sum(t.numel() * 2 for t in stored.values())
    weight_map = {n: names[0] for n in sorted(first)} | {n: names[1] for n in sorted(second)}
    with open(os.path.join(args.out, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}, f, indent=2)
    config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", **cfg,
              "hidden_act": "silu", "torch_dtype": "bfloat16"}
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    with open(prefix + ".model", "rb") as src, open(os.path.join(args.out, "tokenizer.model"), "wb") as dst:
        dst.write(src.read())

    golden = []
    with torch.no_grad():
        for prompt in GOLDEN_PROMPTS:
            ids = [cfg["bos_token_id"]] + sp.encode(prompt)
            prompt_ids = list(ids)
            margins = []
            for _ in range(GOLDEN_TOKENS):
                logits = forward(rounded, cfg, torch.tensor([ids]))[0, -1]
                top = torch.topk(logits, 2).values
                margins.append(float(top[0] - top[1]))
                ids.append(int(torch.argmax(logits)))
            golden.append({"prompt": prompt, "prompt_ids": prompt_ids, "ids": ids,
                           "text": sp.decode(ids), "min_top2_margin": min(margins)})
            print(f"{prompt!r} -> {sp.decode(ids)!r} (min top-2 margin {min(margins):.4f})", flush=True)
    with open(os.path.join(args.out, "golden.json"), "w") as f:
        json.dump({"model": "kjv-1m", "new_tokens": GOLDEN_TOKENS,
                   "note": "greedy, BOS first, no EOS stop; computed by models/train/train.py's PyTorch forward on the stored BF16 weights",
                   "train_loss": round(train_loss, 4), "held_out_loss": round(held_loss, 4),
                   "parameters": n_params, "greedy": golden}, f, indent=1)


if __name__ == "__main__":
    main()
