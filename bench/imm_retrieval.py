"""Do true image–report pairs get higher IMM matching scores than shuffled ones, on held-out studies?

For each held-out study the true report and ``--negatives`` other reports of the same split are
each encoded jointly with the study's images, and the IMM score S (paper eqs. 5–7, with the
run's own K, ρ1, ρ2 and sparsity) is computed for every pair. The attention view is the one
IMM trained on: ``dual`` when its views include it (image and report encoded apart), else
``bi`` (one stream); ``--view`` overrides.

Both directions: a study's images against its own report and ``--negatives`` other reports, and
a report against its own study's images and other studies' images. Prints R@1 (the true pair
ranks first among 1 + negatives; chance = 1 / (1 + negatives)) and AUC (a true pair outscores
a shuffled pair; chance = 0.5).

    python bench/imm_retrieval.py runs/imm-demo [--split test] [--studies 100] [--negatives 9]
"""
from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import torch

from cbf.data.pipeline import collate
from cbf.training.build import load_trained_run
from cbf_imm import matching_score
from cbf_imm.objective import imm_word_mask


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", help="a run folder (or checkpoint) trained with an 'imm' objective")
    ap.add_argument("--split", default="test")
    ap.add_argument("--studies", type=int, default=100)
    ap.add_argument("--negatives", type=int, default=9)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--view", choices=["bi", "s2s", "dual"], help="attention view to encode pairs with")
    ap.add_argument("--json", help="also write the figures here")
    args = ap.parse_args()

    run, _ = load_trained_run(args.run, "/tmp/cbf-imm-retrieval")  # IMM's running means come with it
    config = run.config
    imm = next((o for o in run.objectives.values() if type(o).__name__ == "ImageMeshMatching"), None)
    if imm is None:
        raise SystemExit(f"{args.run}: the run has no imm objective")
    cfg = imm.config
    view = args.view or ("dual" if "dual" in cfg.views else "bi")
    ds = run.torch_dataset(args.split, train=False)
    rng = random.Random(args.seed)
    chosen = rng.sample(range(len(ds)), min(args.studies, len(ds)))
    pad, sep = run.tokenizer.pad_id, run.tokenizer.sep_id
    def with_report(sample: dict, j: int) -> dict:
        return dict(sample, token_ids=ds.records[j]["token_ids"], mesh_tags=ds.records[j].get("mesh_tags", []))

    result = {"run": str(args.run), "split": args.split, "studies": len(chosen), "negatives": args.negatives,
              "imm_mode": cfg.mode, "imm_views": sorted(cfg.views), "view": view, "center": cfg.center, "pooling": cfg.pooling,
              "sparsity": cfg.sparsity, "k": cfg.k,
              "R@1_chance": 1 / (1 + args.negatives), "AUC_chance": 0.5}
    # image→report: rank reports for an image; report→image: rank images for a report (this
    # direction is blind to report length, which the log-sum-exp over words rewards)
    for direction in ("image_to_report", "report_to_image"):
        true_scores, neg_scores, hits = [], [], 0
        with torch.no_grad():
            for i in chosen:
                others = rng.sample([j for j in range(len(ds)) if j != i], args.negatives)
                study = ds[i]
                if direction == "image_to_report":
                    candidates = [study] + [with_report(study, j) for j in others]
                else:
                    candidates = [study] + [with_report(ds[j], i) for j in others]
                batch = collate(candidates, pad, sep, config.model.max_views)
                out = run.model(batch, view)
                word_mask = imm_word_mask(batch, sep)
                words, regions = imm.features(out.text, out.visual, word_mask, out.visual_valid)
                scores = matching_score(words, regions, batch["mesh_tags"].float(), word_mask.float(),
                                        region_mask=out.visual_valid, **imm.score_options())
                true_scores.append(float(scores[0]))
                neg_scores.extend(float(s) for s in scores[1:])
                hits += int(scores[0] > scores[1:].max())
        pairs = [(t > n) + 0.5 * (t == n) for t in true_scores for n in neg_scores]
        result[f"{direction}_R@1"] = hits / len(chosen)
        result[f"{direction}_AUC"] = sum(pairs) / len(pairs)
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
