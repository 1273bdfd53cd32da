#!/usr/bin/env bash
# Builds the Python environment of benches/side_by_side.py once (target/bench-venv:
# sentence-transformers with torch from PyPI, several GB; onnxruntime; onnx), builds ticketlens,
# picks the corpus if it is not there, and measures every system on it. A developer tool,
# not part of CI. Arguments go to `side_by_side.py measure` (e.g. --only ticketlens,ONNX).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/bench-venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import sentence_transformers, onnxruntime, onnx" 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q sentence-transformers onnxruntime onnx tokenizers numpy
fi
cargo build --release -q
./target/release/ticketlens model fetch >/dev/null
corpus=/tmp/ticketlens-corpus.jsonl
[ -f "$corpus" ] || "$venv/bin/python" benches/side_by_side.py corpus --out "$corpus"
"$venv/bin/python" benches/side_by_side.py measure --input "$corpus" "$@"
