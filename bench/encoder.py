"""Throughput of cbf's BertEncoder beside transformers.BertModel (sdpa), measured in one run.

Same BERT-base shape (12×768, random init), same inputs (batch × seq token ids with a padding
mask: every other sample has its last quarter padded), fp32 and bf16 autocast, forward
(eval, no_grad) and train step (train mode: forward + backward + AdamW step). Ours and HF's are
timed alternately in each repeat so drift on a shared machine hits both; the median is reported.

    python bench/encoder.py [--threads 2] [--repeats 5] [--batch 8] [--seq 149]

``transformers`` is a test extra, needed only here. HF's model is built without its pooler (ours
has none), so both do the same work.
"""
from __future__ import annotations

import argparse
import contextlib
import statistics
import time
from collections.abc import Callable

import torch

from cbf.model.encoder import BertEncoder, EncoderConfig


def _inputs(batch: int, seq: int, vocab: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(1000, vocab, (batch, seq), generator=g)
    mask = torch.ones(batch, seq, dtype=torch.long)
    mask[::2, seq - seq // 4:] = 0
    ids[mask == 0] = 0
    return ids, mask


def _models(cfg: EncoderConfig) -> tuple[torch.nn.Module, torch.nn.Module]:
    from transformers import BertConfig, BertModel

    ours = BertEncoder(cfg)
    hf_cfg = BertConfig(vocab_size=cfg.vocab_size, hidden_size=cfg.hidden_size,
                        num_hidden_layers=cfg.num_layers, num_attention_heads=cfg.num_heads,
                        intermediate_size=cfg.intermediate_size, hidden_act=cfg.hidden_act,
                        attn_implementation="sdpa")
    hf = BertModel(hf_cfg, add_pooling_layer=False)
    return ours, hf


def _step_fns(ours: torch.nn.Module, hf: torch.nn.Module, ids: torch.Tensor, mask: torch.Tensor,
              bf16: bool, train: bool) -> dict[str, Callable[[], None]]:
    def autocast() -> contextlib.AbstractContextManager:
        return torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()

    run = {"ours": lambda: ours.encode_text(ids, attention_mask=mask),
           "hf": lambda: hf(input_ids=ids, attention_mask=mask).last_hidden_state}
    fns: dict[str, Callable[[], None]] = {}
    for name, model in (("ours", ours), ("hf", hf)):
        forward = run[name]
        if train:
            model.train()
            opt = torch.optim.AdamW(model.parameters(), lr=1e-5)

            def step(forward=forward, opt=opt) -> None:
                opt.zero_grad(set_to_none=True)
                with autocast():
                    loss = forward().float().pow(2).mean()
                loss.backward()
                opt.step()
        else:
            model.eval()

            def step(forward=forward) -> None:
                with torch.no_grad(), autocast():
                    forward()
        fns[name] = step
    return fns


def _measure(fns: dict[str, Callable[[], None]], repeats: int, batch: int) -> dict[str, float]:
    """Median samples/s of each, and the median over repeats of the paired ratio ours/HF (each
    repeat times both back to back, in alternating order, so load from elsewhere cancels)."""
    for fn in fns.values():  # warm-up (allocator, oneDNN kernels, optimizer state)
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for i in range(repeats):
        order = list(fns) if i % 2 == 0 else list(reversed(fns))
        for name in order:
            start = time.perf_counter()
            fns[name]()
            times[name].append(time.perf_counter() - start)
    rates = {name: batch / statistics.median(t) for name, t in times.items()}
    rates["ratio"] = statistics.median(h / o for o, h in zip(times["ours"], times["hf"]))
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq", type=int, default=149)
    parser.add_argument("--layers", type=int, default=12, help="BERT-base has 12")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = EncoderConfig(num_layers=args.layers)
    ids, mask = _inputs(args.batch, args.seq, cfg.vocab_size)
    print(f"torch {torch.__version__}, {args.threads} threads, BERT {cfg.num_layers}x{cfg.hidden_size}, "
          f"batch {args.batch} x {args.seq} tokens (half the samples 25% padded), "
          f"median of {args.repeats} after 1 warm-up; samples/s; ratio = median of paired ours/HF "
          f"speed ratios (> 1: ours faster)")
    print(f"{'case':<22}{'ours':>10}{'HF sdpa':>10}{'ours/HF':>10}")
    for train in (False, True):
        for bf16 in (False, True):
            ours, hf = _models(cfg)  # fresh per case so optimizer state/grad memory don't carry over
            rates = _measure(_step_fns(ours, hf, ids, mask, bf16, train), args.repeats, args.batch)
            case = f"{'train step' if train else 'forward'} {'bf16' if bf16 else 'fp32'}"
            print(f"{case:<22}{rates['ours']:>10.2f}{rates['hf']:>10.2f}"
                  f"{rates['ratio']:>10.2f}", flush=True)


if __name__ == "__main__":
    main()
