#!/usr/bin/env python3
"""Writes Tests/PumaTests/Vectors/bpe-tokenizer.json: token ids from Hugging Face `tokenizers` for a
few hundred strings (Unicode, digits, runs of spaces and newlines, code, URLs, special tokens inside
text), with SmolLM2-135M-Instruct's byte-level BPE vocabulary and merges (read from its GGUF file)
under three pre-tokenizers:
  smollm     Digits(individual_digits) + ByteLevel            (the model's own; llama.cpp `smollm`)
  gpt-2      ByteLevel                                          (llama.cpp `gpt-2`)
  llama-bpe  Split(LLaMA-3's regex, isolated) + ByteLevel(use_regex=False), ignore_merges (LLaMA-3)
Control tokens are added as special tokens, recognised in the text. Run once; the file is committed.
Needs `pip install gguf tokenizers numpy`. Usage: make-tokenizer-vectors.py [MODEL.gguf]"""
import json, os, random, sys
from gguf import GGUFReader
from importlib.metadata import version
from tokenizers import AddedToken, Regex, Tokenizer, models, pre_tokenizers

here = os.path.dirname(os.path.abspath(__file__))
model = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "shared", "models", "smollm2-135m-instruct",
                                                               "SmolLM2-135M-Instruct.Q4_1.gguf")
r = GGUFReader(model)


def field(key):
    f = r.fields[key]
    if f.types[0].name == "ARRAY":
        if f.types[-1].name == "STRING":
            return [bytes(f.parts[i]).decode("utf-8") for i in f.data]
        return [f.parts[i][0].item() for i in f.data]
    return f.parts[f.data[0]][0].item()


tokens = field("tokenizer.ggml.tokens")
merges = [tuple(m.split(" ", 1)) for m in field("tokenizer.ggml.merges")]
types = field("tokenizer.ggml.token_type")
vocab = {t: i for i, t in enumerate(tokens)}
LLAMA3 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"


def build(pre, ignore_merges=False):
    tok = Tokenizer(models.BPE(vocab, merges, ignore_merges=ignore_merges))
    if pre == "smollm":
        tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                                     pre_tokenizers.ByteLevel(add_prefix_space=False)])
    elif pre == "gpt-2":
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    else:
        tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(LLAMA3), behavior="isolated"),
                                                     pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.add_special_tokens([AddedToken(tokens[i], special=True, normalized=False) for i, t in enumerate(types) if t == 3])
    return tok


strings = [
    "", " ", "  ", "\n", "\n\n", " \n", "\t", "a", "Hello world", "Hello  world", "Hello   world ", " leading space",
    "trailing space ", "What is the capital of France?", "The capital of France is Paris.", "I'm", "I'M", "you're",
    "they've", "we'll", "she'd", "it's", "IT'S", "don't", "'s", "'tis the season", "rock 'n' roll", "O'Reilly",
    "12", "123", "1234", "12345678901234567890", "3.14159", "1,000,000", "2026-12-05", "v1.2.3", "x2 + y3 = z10",
    "  42", "a 1", "a  1", "a   12", "\t7", "\n8\n", "½ ¾ ² ³ ١٢٣ ४२ 五",
    "café", "naïve", "Ångström", "straße", "İstanbul", "Ελληνικά", "Русский язык", "中文字符测试", "日本語のテキスト",
    "한국어 텍스트", "עברית", "العربية", "हिन्दी", "ไทย", "😀", "😀😃😄", "👨‍👩‍👧‍👦 family", "🇫🇷 flag", "a😀b",
    "e\u0301", "\u00a0non-breaking", "zero\u200bwidth", "\u3000ideographic space", "tab\tseparated\tvalues",
    "line one\nline two\n\nline four", "\r\n", "windows\r\nline", "  \n  \n", "a\n\n\nb", "end\n", "\n\nstart",
    "def f(x):\n    return x * 2\n", "for (int i = 0; i < n; ++i) { sum += a[i]; }", "if x == 1:\n\tpass",
    "#include <stdio.h>\nint main(void) { printf(\"hi\\n\"); }", "let s = \"quoted\"; // comment", "<div class=\"x\">hi</div>",
    "SELECT * FROM t WHERE id = 42;", "x = [1, 2, 3]", "{\"key\": [true, null, 1.5e-3]}", "a->b::c", "$HOME/bin:$PATH",
    "https://huggingface.co/HuggingFaceTB/SmolLM2-135M-Instruct", "http://example.com/a?b=c&d=e#frag",
    "mailto:someone@example.org", "user@example.com", "C:\\Windows\\System32", "/usr/lib/x86_64-linux-gnu/",
    "<|im_start|>user\nhi<|im_end|>\n", "text<|im_end|>more", "<|endoftext|>", "<|im_start|><|im_end|>",
    "before <|im_start|> after", "<|im_start", "im_start|>", "<repo_name>puma<file_sep>x", "<|unknown|>", "<s> </s>",
    "!!!", "???", "...", "—", "–", "“quotes” and ‘single’", "«guillemets»", "a.b,c;d:e", "(parens) [brackets] {braces}",
    "#hashtag @mention", "100%", "$5.99", "€10", "£3", "¥500", "a+b=c", "x^2", "~tilde", "`code`", "**bold**", "_under_",
    "   multiple   spaces   between   ", "UPPER lower MiXeD", "CamelCaseWord", "snake_case_word", "kebab-case-word",
    "ALLCAPS", "ǅungla", "ﬁne ligature", "Ⅻ roman", "x\u0000y", "\u0007bell", "\u001b[31mred\u001b[0m",
]
random.seed(20261205)
pieces = ["hello", " ", "  ", "\n", "\t", "123", "4", "é", "中", "😀", "'s", "'LL", ".", ",", "!", "<|im_end|>", "-", "_",
          "The", " the", "\r\n", "ab", "x", "9", "  \n", "Ω", "ß", "١", "#", "://", "www", "—"]
while len(strings) < 320:
    strings.append("".join(random.choice(pieces) for _ in range(random.randint(1, 12))))

out = {"generator": "scripts/make-tokenizer-vectors.py", "tokenizers_version": version("tokenizers"),
       "model": os.path.basename(model), "strings": strings, "ids": {}}
for pre, ignore in [("smollm", False), ("gpt-2", False), ("llama-bpe", True)]:
    tok = build(pre, ignore)
    out["ids"][pre] = [tok.encode(s, add_special_tokens=False).ids for s in strings]
path = os.path.join(here, "..", "Tests", "PumaTests", "Vectors", "bpe-tokenizer.json")
with open(path, "w") as f:
    json.dump(out, f, ensure_ascii=False, separators=(",", ":"))
print(path, len(strings), "strings")
