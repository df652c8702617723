"""Report decoding speed: the key/value-cached decoder against full recomputation, one run.

BERT-base (12 layers × 768, random weights), two views per study whose 7×7 grids give 98
visual tokens (a small convolutional backbone stands in for DenseNet121: the backbone runs
once per study in both decoders and is not what is measured), beam 5, exactly 60 words
(``min_length = max_length``, so [SEP] can't end a report early). Both decoders run on the
same model and studies; the script checks that they give identical reports and prints both
times and their ratio.

    python bench/decode.py                  # 1 study, 1 thread (CPU: ~1.5 min, the uncached one dominates)
    python bench/decode.py --studies 2 --threads 0 --device cuda
"""
from __future__ import annotations

import argparse
import time
from typing import Sequence

import torch

from cbf.api import BuildContext, Tokenizer
from cbf.fields import SPECIAL_TOKENS
from cbf.model.clinical_bert import ClinicalBert
from cbf.model.encoder import BertEncoder, EncoderConfig
from cbf.testing.toy import ToyBackbone
from cbf_rrg import ReportGenerationHead


class _Vocab(Tokenizer):
    def __init__(self, size: int) -> None:
        self.vocab = [*SPECIAL_TOKENS, *(f"w{i}" for i in range(size - len(SPECIAL_TOKENS)))]
        self._index = {t: i for i, t in enumerate(self.vocab)}

    def token_id(self, token: str) -> int:
        return self._index[token]

    def decode(self, ids: Sequence[int]) -> str:
        return " ".join(self.vocab[i] for i in ids)


def _timed(fn, device: torch.device) -> tuple[float, list[list[int]]]:
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    out = fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start, out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--studies", type=int, default=1)
    p.add_argument("--beam", type=int, default=5)
    p.add_argument("--length", type=int, default=60)
    p.add_argument("--vocab", type=int, default=7861, help="vocabulary size (paper: 7,861 MIMIC-CXR words)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (default 1: on a shared 2-core machine OpenMP barriers inflate the "
                        "cached decoder's many small ops and blur the comparison; 0 = torch's default)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(args.seed)

    tok = _Vocab(args.vocab)
    encoder = BertEncoder(EncoderConfig(vocab_size=len(tok.vocab)))  # BERT-base
    backbone = ToyBackbone(ToyBackbone.Config(channels=64))  # 56 px → 7×7 grid per view
    model = ClinicalBert(encoder, backbone, len(tok.vocab), tok.cls_id, tok.sep_id).to(device).eval()
    head = ReportGenerationHead(ReportGenerationHead.Config(), BuildContext(model=model, tokenizer=tok))
    images = torch.randn(args.studies, 2, 3, 56, 56, device=device)
    batch = {"images": images, "image_mask": torch.ones(args.studies, 2, dtype=torch.bool, device=device)}
    visual = model.visual_tokens(images[:1], batch["image_mask"][:1])[0].shape[1]
    opts = dict(beam_size=args.beam, max_length=args.length, min_length=args.length)

    def run(cache: bool) -> list[list[int]]:
        return head.generate(model, batch, tok, use_cache=cache, **opts)

    run(True)  # warm-up (allocator, kernels)
    cached_s, cached = _timed(lambda: run(True), device)
    full_s, full = _timed(lambda: run(False), device)
    print(f"BERT-base 12x768, {visual} visual tokens, vocab {len(tok.vocab)}, {args.studies} stud"
          f"{'y' if args.studies == 1 else 'ies'}, beam {args.beam}, {args.length} words, {device}, "
          f"{torch.get_num_threads()} threads")
    print(f"cached   {cached_s:8.2f} s")
    print(f"uncached {full_s:8.2f} s")
    print(f"ratio    {full_s / cached_s:8.1f}x")
    print(f"identical reports: {cached == full}; lengths {[len(r) for r in cached]}")
    if cached != full:
        raise SystemExit("the cached and uncached decoders disagree")


if __name__ == "__main__":
    main()
