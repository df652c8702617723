"""Does a report-generation model use the image? Its teacher-forced loss on held-out reports
with each study's own images, and with the images of another study (rolled by one within
each batch). Equal losses mean the decoder ignores the image.

    python bench/image_dependence.py runs/demo/rrg [--split test] [--studies 256]

Prints both losses (nats per target word), their difference, and the words whose loss the
true image lowers most.
"""
from __future__ import annotations

import argparse
import json

import torch

from cbf.data.pipeline import collate
from cbf.masking import IGNORE_INDEX
from cbf.training.build import load_trained_run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", help="a run folder (or checkpoint) with an rrg head")
    ap.add_argument("--split", default="test")
    ap.add_argument("--studies", type=int, default=256)
    ap.add_argument("--batch-size", type=int, default=64)
    args = ap.parse_args()

    run, _ = load_trained_run(args.run, "/tmp/cbf-image-dependence")
    config = run.config
    head = run.head
    if head is None or not hasattr(head, "generate"):
        raise SystemExit(f"{args.run}: the run has no report-generation head")
    ds = run.torch_dataset(args.split, train=False)
    tok = run.tokenizer
    totals = {"own": 0.0, "other": 0.0}
    per_word: dict[str, list[float]] = {}
    count = 0
    with torch.no_grad():
        for start in range(0, min(args.studies, len(ds)), args.batch_size):
            samples = [ds[i] for i in range(start, min(start + args.batch_size, args.studies, len(ds)))]
            if len(samples) < 2:
                break
            for kind in ("own", "other"):
                batch = collate(samples, tok.pad_id, tok.sep_id, config.model.max_views)
                if kind == "other":
                    batch["images"] = torch.roll(batch["images"], 1, 0)
                    batch["image_mask"] = torch.roll(batch["image_mask"], 1, 0)
                head.prepare(batch, "s2s", torch.Generator().manual_seed(start))  # same targets both times
                out = run.model(batch, "s2s")
                labels = batch[head.labels_key]
                text = out.text
                if getattr(head, "condition", None) is not None:  # the study's true findings, as in training
                    text = text + head.condition.embed(batch[head.condition_key])[:, None, :]
                logp = torch.log_softmax(run.model.prediction_head(text).float(), -1)
                valid = labels != IGNORE_INDEX
                nll = -logp.gather(-1, labels.clamp_min(0)[..., None])[..., 0][valid]
                totals[kind] += float(nll.sum())
                count += int(valid.sum()) if kind == "own" else 0
                for word, value in zip(labels[valid].tolist(), nll.tolist()):
                    per_word.setdefault(tok.vocab[word], [0.0, 0.0, 0])
                    per_word[tok.vocab[word]][0 if kind == "own" else 1] += value
                    per_word[tok.vocab[word]][2] += kind == "own"
    own, other = totals["own"] / count, totals["other"] / count
    gains = sorted(((o - s) / n, w, n) for w, (s, o, n) in per_word.items() if n >= 5)[::-1][:15]
    print(json.dumps({"run": str(args.run), "split": args.split, "target_words": count,
                      "loss_own_images": round(own, 4), "loss_other_images": round(other, 4),
                      "image_gain_nats_per_word": round(other - own, 4),
                      "words_the_image_helps_most": [[w, round(g, 3), n] for g, w, n in gains]}, indent=2))


if __name__ == "__main__":
    main()
