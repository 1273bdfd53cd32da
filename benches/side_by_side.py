"""ticketlens' encoder, sentence-transformers and ONNX Runtime on the same texts, side by side.

A developer tool, not part of CI; `benches/side_by_side.sh` builds its Python environment and
runs it. Subcommands:

  corpus   picks 2,000 ticket texts of 24-170 word pieces (mean about 76) from ../shared/data
           into a JSON-lines file of the shared format (it stays outside the repository)
  measure  embeds that file with each system: the same texts, threads and batch rule
           (length-sorted batches of --batch texts, tokenizing included, a warm-up then the
           median of --runs runs) and prints texts/s and the ratios

All systems read the model files ticketlens installed under models/all-minilm-l6-v2/.
"""

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODEL_DIR = ROOT / "models" / "all-minilm-l6-v2"
DATA = ROOT.parent / "shared" / "data"
MAX_TOKENS = 256  # where sentence-transformers truncates this model, as ticketlens does


def ticket_text(record):
    """Subject and body joined as ticketlens' text::prepare does for plain text."""
    parts = []
    for field in ("subject", "body"):
        value = record.get(field)
        if value:
            collapsed = re.sub(r"\s+", " ", value).strip()
            if collapsed:
                parts.append(collapsed)
    return "\n".join(parts)


def tokenizer():
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(MODEL_DIR / "tokenizer.json"))
    tok.enable_truncation(MAX_TOKENS)
    tok.no_padding()
    return tok


def corpus(args):
    tok = tokenizer()
    pool = []
    for name in args.sets.split(","):
        with open(DATA / name / "tickets.jsonl", encoding="utf-8") as f:
            for line in f:
                record = json.loads(line)
                text = ticket_text(record)
                if not text:
                    continue
                n = len(tok.encode(text).ids)
                if args.min_tokens <= n <= args.max_tokens:
                    pool.append((n, record.get("subject"), record.get("body")))
    rng = random.Random(args.seed)
    rng.shuffle(pool)
    # Draw texts at random, taking one only while it keeps the running mean on course for the
    # target: the result spans the whole window with the mean the comparison was specified at.
    chosen, total = [], 0
    for n, subject, body in pool:
        if len(chosen) == args.texts:
            break
        mean_after = (total + n) / (len(chosen) + 1)
        if abs(mean_after - args.mean) <= max(abs(total / max(len(chosen), 1) - args.mean), 0.25):
            chosen.append((subject, body))
            total += n
    if len(chosen) < args.texts:
        sys.exit(f"only {len(chosen)} texts fit; widen --sets or the token window")
    with open(args.out, "w", encoding="utf-8") as f:
        for subject, body in chosen:
            f.write(json.dumps({"subject": subject, "body": body}) + "\n")
    print(f"{len(chosen)} texts, mean {total / len(chosen):.1f} word pieces -> {args.out}")


def load_texts(path):
    with open(path, encoding="utf-8") as f:
        texts = [ticket_text(json.loads(line)) for line in f]
    return [t for t in texts if t]


def timed(run_once, runs):
    run_once()  # warm-up
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        run_once()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), seconds


def sorted_batches(tok, texts, batch):
    """Tokenizes and yields (ids, mask) numpy batches, longest first, padded per batch."""
    import numpy as np

    encodings = sorted(tok.encode_batch(texts), key=lambda e: -len(e.ids))
    for start in range(0, len(encodings), batch):
        chunk = encodings[start : start + batch]
        width = len(chunk[0].ids)
        ids = np.zeros((len(chunk), width), dtype=np.int64)
        mask = np.zeros((len(chunk), width), dtype=np.int64)
        for row, e in enumerate(chunk):
            ids[row, : len(e.ids)] = e.ids
            mask[row, : len(e.ids)] = 1
        yield ids, mask


def measure_ticketlens(args, precision):
    out = subprocess.run(
        [
            str(ROOT / "target" / "release" / "ticketlens"),
            "bench", "embed", "--input", args.input, "--batch", str(args.batch),
            "--precision", precision, "--json",
        ],
        cwd=ROOT, check=True, capture_output=True, text=True,
        env={**os.environ, "RAYON_NUM_THREADS": str(args.threads)},
    )
    figures = json.loads(out.stdout)
    return figures["texts_per_s"], figures["runs_s"]


def measure_sentence_transformers(args, texts):
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(args.threads)
    model = SentenceTransformer(str(MODEL_DIR), device="cpu")
    model.max_seq_length = MAX_TOKENS
    # encode() sorts by length itself and pads per batch: the same batch rule as the others.
    median, runs = timed(lambda: model.encode(texts, batch_size=args.batch), args.runs)
    return len(texts) / median, runs


def onnx_model(quantized):
    """Exports the model to ONNX once (with torch), and its dynamic int8 variant."""
    fp32 = ROOT / "target" / "bench-onnx" / "model.onnx"
    int8 = fp32.with_name("model-int8.onnx")
    if not fp32.exists():
        import torch
        from transformers import AutoModel

        class HiddenStates(torch.nn.Module):
            """The model with named inputs and one output, as ONNX wants it."""

            def __init__(self):
                super().__init__()
                self.bert = AutoModel.from_pretrained(str(MODEL_DIR)).eval()

            def forward(self, input_ids, attention_mask):
                return self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

        fp32.parent.mkdir(parents=True, exist_ok=True)
        dummy = torch.ones((2, 8), dtype=torch.int64)
        torch.onnx.export(
            HiddenStates(), (dummy, dummy), str(fp32), input_names=["input_ids", "attention_mask"],
            output_names=["last_hidden_state"], opset_version=17, dynamo=False,
            dynamic_axes={n: {0: "batch", 1: "tokens"} for n in ["input_ids", "attention_mask", "last_hidden_state"]},
        )
    if quantized and not int8.exists():
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8)
    return int8 if quantized else fp32


def measure_onnxruntime(args, texts, quantized):
    import numpy as np
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(onnx_model(quantized)), options, providers=["CPUExecutionProvider"])
    tok = tokenizer()

    def run_once():
        for ids, mask in sorted_batches(tok, texts, args.batch):
            hidden = session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
            m = mask[..., None].astype(np.float32)
            pooled = (hidden * m).sum(1) / m.sum(1)
            pooled / np.linalg.norm(pooled, axis=1, keepdims=True)

    median, runs = timed(run_once, args.runs)
    return len(texts) / median, runs


def measure(args):
    texts = load_texts(args.input)
    rows = []
    for name, run in [
        ("ticketlens fp32", lambda: measure_ticketlens(args, "fp32")),
        ("ticketlens int8", lambda: measure_ticketlens(args, "int8")),
        ("sentence-transformers (torch)", lambda: measure_sentence_transformers(args, texts)),
        ("ONNX Runtime fp32", lambda: measure_onnxruntime(args, texts, False)),
        ("ONNX Runtime dynamic int8", lambda: measure_onnxruntime(args, texts, True)),
    ]:
        if args.only and not any(o in name for o in args.only.split(",")):
            continue
        print(f"measuring {name}...", file=sys.stderr, flush=True)
        rate, runs = run()
        rows.append((name, rate, runs))
        print(f"  {name}: {rate:.1f} texts/s, runs {', '.join(f'{s:.2f}' for s in runs)} s", file=sys.stderr, flush=True)
    base = next((r for n, r, _ in rows if n == "ONNX Runtime fp32"), None)
    print(f"{len(texts)} texts, batches of {args.batch}, {args.threads} threads, median of {args.runs} runs")
    print(f"{'system':32} {'texts/s':>8} {'vs ORT fp32':>12}  runs (s)")
    for name, rate, runs in rows:
        ratio = f"{rate / base:.2f}x" if base else "-"
        print(f"{name:32} {rate:8.1f} {ratio:>12}  {', '.join(f'{s:.2f}' for s in runs)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("corpus", help="pick the benchmark texts from ../shared/data")
    c.add_argument("--out", default="/tmp/ticketlens-corpus.jsonl")
    c.add_argument("--sets", default="ata,itsm47k,endava-incidents")
    c.add_argument("--texts", type=int, default=2000)
    c.add_argument("--min-tokens", type=int, default=24)
    c.add_argument("--max-tokens", type=int, default=170)
    c.add_argument("--mean", type=float, default=76.0)
    c.add_argument("--seed", type=int, default=8)
    m = sub.add_parser("measure", help="embed the corpus with each system")
    m.add_argument("--input", default="/tmp/ticketlens-corpus.jsonl")
    m.add_argument("--batch", type=int, default=32)
    m.add_argument("--threads", type=int, default=2)
    m.add_argument("--runs", type=int, default=3)
    m.add_argument("--only", help="comma-separated parts of system names to measure")
    args = parser.parse_args()
    {"corpus": corpus, "measure": measure}[args.command](args)


if __name__ == "__main__":
    main()
