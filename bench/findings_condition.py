"""Does a findings-conditioned report generator say what its condition says? Clinical efficacy of
its reports on held-out studies with four sources of findings:

- ``classifier``: the head's image classifier, as ``cbf generate`` decodes (guidance as configured);
- ``classifier_no_guidance``: the same findings, decoded with guidance 0;
- ``true_findings``: the studies' own labels (the decoder's ceiling: how well it follows);
- ``normal_findings``: "No Finding" for every study (what the decoder writes unconditioned).

    python bench/findings_condition.py runs/demo/rrg [--split test] [--studies 785]

Prints one JSON object: per source, CE micro/macro/example F1 (cbf-chexpert-rules labels),
distinct reports, and findings switched on per study.
"""
from __future__ import annotations

import argparse
import json

import torch
from tqdm.auto import tqdm

from cbf.data.pipeline import collate
from cbf.targets import u_zeros
from cbf.training.build import load_trained_run
from cbf_clinical_efficacy import ClinicalEfficacy
from cbf_rrg.condition import NO_FINDING, derive_no_finding, normal_findings

SOURCES = ("classifier", "classifier_no_guidance", "true_findings", "normal_findings")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", help="a run folder (or checkpoint) whose rrg head has findings_condition")
    ap.add_argument("--split", default="test")
    ap.add_argument("--studies", type=int, default=None, help="default: the whole split")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--beam", type=int, default=3)
    ap.add_argument("--max-length", type=int, default=60)
    ap.add_argument("--no-repeat-ngram", type=int, default=3)
    args = ap.parse_args()

    run, _ = load_trained_run(args.run, "/tmp/cbf-findings-condition")
    head = run.head
    if getattr(head, "condition", None) is None:
        raise SystemExit(f"{args.run}: the run has no rrg head with findings_condition")
    tok = run.tokenizer
    ds = run.torch_dataset(args.split, train=False)
    n = min(args.studies or len(ds), len(ds))
    records = run.records[args.split][:n]
    references = [r["report"] for r in records]
    predictions: dict[str, list[str]] = {s: [] for s in SOURCES}
    switched_on: dict[str, int] = {s: 0 for s in SOURCES}
    guidance = head.config.condition_guidance
    decode = dict(beam_size=args.beam, max_length=args.max_length, no_repeat_ngram_size=args.no_repeat_ngram)
    with torch.no_grad(), tqdm(total=n * len(SOURCES), desc="generate", unit="report") as bar:
        for start in range(0, n, args.batch_size):
            batch = collate([ds[i] for i in range(start, min(start + args.batch_size, n))], tok.pad_id,
                            tok.sep_id, run.config.model.max_views)
            visual, valid = run.model.visual_tokens(batch["images"], batch["image_mask"])
            decided = head.condition.decide(head.condition.probabilities(visual, valid))
            findings = {"classifier": decided, "classifier_no_guidance": decided,
                        "true_findings": derive_no_finding(u_zeros(batch["chexpert"].float())),
                        "normal_findings": normal_findings(len(batch["ids"]))}
            for source in SOURCES:
                labels = findings[source]
                head.config.condition_guidance = 0.0 if source == "classifier_no_guidance" else guidance
                try:
                    ids = head.generate(run.model, batch, tok, findings=labels, **decode)
                finally:
                    head.config.condition_guidance = guidance
                predictions[source] += [tok.decode(x) for x in ids]
                switched_on[source] += int(labels.sum() - labels[:, NO_FINDING].sum())
                bar.update(len(ids))
    result: dict[str, object] = {"run": str(args.run), "split": args.split, "studies": n, "guidance": guidance,
                                 "threshold": head.condition.threshold}
    for source in SOURCES:
        metric = ClinicalEfficacy()
        metric.update(predictions[source], references)
        scores = metric.compute()
        result[source] = {k: round(float(scores[k]), 3) for k in ("CE_micro_f1", "CE_macro_f1", "CE_example_f1")}
        result[source]["distinct_reports"] = len(set(predictions[source]))
        result[source]["findings_per_study"] = round(switched_on[source] / n, 3)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
