"""Multi-stage recipes: pre-train → fine-tune → generate → evaluate, in one ``cbf run``.

A pipeline recipe has ``stages``, a list run in order; each stage writes into
``<out>/<stage name>/`` and later stages refer to earlier ones as ``"@name"``:

* ``train``: a full training recipe under ``run`` (``init_from: "@pretrain"`` to fine-tune).
* ``generate``: reports for a split of the checkpoint's own dataset → ``predictions.jsonl``.
* ``evaluate_reports``: report metrics of ``predictions`` beside two baselines computed the
  same way (the training set's most frequent report for every study; a training report
  retrieved at random) → ``metrics.json`` + ``report.html``.
* ``evaluate_diagnosis``: a classification head's probabilities on a split → AUROC beside the
  same two baselines (their reports' labels used as scores).
"""
from __future__ import annotations

import html
import json
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal

import torch

from cbf.config.binding import Component, ConfigError, bind_dataclass, plugin
from cbf.config.schema import RunConfig
from cbf.targets import u_zeros

Log = Callable[[str], None]


@dataclass
class TrainStage:
    name: str
    run: dict[str, Any]
    stage: Literal["train"] = "train"


@dataclass
class GenerateStage:
    name: str
    checkpoint: str
    stage: Literal["generate"] = "generate"
    split: str = "test"
    beam_size: int = 5
    max_length: int = 60
    length_penalty: float = 1.0
    no_repeat_ngram_size: int = 0
    batch_size: int = 16
    max_studies: int | None = None


@dataclass
class EvaluateReportsStage:
    name: str
    predictions: str
    stage: Literal["evaluate_reports"] = "evaluate_reports"
    metrics: list[Component] = plugin("metrics", default_factory=lambda: [{"type": "nlg"},
                                                                         {"type": "clinical_efficacy"}])
    baselines: bool = True
    seed: int = 0


@dataclass
class EvaluateDiagnosisStage:
    name: str
    checkpoint: str
    stage: Literal["evaluate_diagnosis"] = "evaluate_diagnosis"
    split: str = "test"
    batch_size: int = 32
    baselines: bool = True
    seed: int = 0
    max_studies: int | None = None


STAGES = {"train": TrainStage, "generate": GenerateStage, "evaluate_reports": EvaluateReportsStage,
          "evaluate_diagnosis": EvaluateDiagnosisStage}


@dataclass
class PipelineConfig:
    name: str
    stages: list[dict[str, Any]]
    description: str = ""
    out_dir: str | None = None
    seed: int = 0
    notes: dict[str, Any] = field(default_factory=dict)


def bind_pipeline(data: dict[str, Any]) -> tuple[PipelineConfig, list[Any]]:
    """Bind every stage (train stages to :class:`RunConfig`) and check ``@`` references."""
    config = bind_dataclass(PipelineConfig, data)
    stages: list[Any] = []
    seen: dict[str, str] = {}
    for i, raw in enumerate(config.stages):
        path = f"$.stages[{i}]"
        if not isinstance(raw, dict) or raw.get("stage") not in STAGES:
            raise ConfigError(f"{path}.stage", f"must be one of {', '.join(STAGES)}")
        stage = bind_dataclass(STAGES[raw["stage"]], raw, path)
        if stage.name in seen:
            raise ConfigError(f"{path}.name", f"stage name {stage.name!r} is used twice")
        for key in ("checkpoint", "predictions"):
            ref = getattr(stage, key, None)
            _check_ref(ref, seen, f"{path}.{key}", want="train" if key == "checkpoint" else "generate")
        if isinstance(stage, TrainStage):
            run_data = dict(stage.run)
            run_data.setdefault("name", f"{config.name}-{stage.name}")
            run_data.setdefault("seed", config.seed)
            init = run_data.get("init_from")
            _check_ref(init, seen, f"{path}.run.init_from", want="train")
            stage.run = bind_dataclass(RunConfig, run_data, f"{path}.run")
        seen[stage.name] = stage.stage
        stages.append(stage)
    return config, stages


def _check_ref(ref: Any, seen: dict[str, str], path: str, want: str) -> None:
    if isinstance(ref, str) and ref.startswith("@"):
        if ref[1:] not in seen:
            raise ConfigError(path, f"{ref!r} names no earlier stage (earlier: {', '.join(seen) or 'none'})")
        if seen[ref[1:]] != want:
            raise ConfigError(path, f"{ref!r} is a {seen[ref[1:]]} stage; a {want} stage is needed here")


def run_pipeline(data: dict[str, Any], out_dir: str | Path | None, resume: bool, log: Log) -> dict[str, Any]:
    from cbf.pipeline import train_run

    config, stages = bind_pipeline(data)
    out = Path(out_dir or config.out_dir or Path("runs") / config.name)
    out.mkdir(parents=True, exist_ok=True)
    (out / "pipeline.json").write_text(json.dumps(data, indent=2))
    folders: dict[str, Path] = {}
    summary: dict[str, Any] = {"name": config.name, "stages": {}}

    def resolve(ref: str) -> Path:
        return folders[ref[1:]] if ref.startswith("@") else Path(ref)

    for i, stage in enumerate(stages, 1):
        folder = out / stage.name
        folders[stage.name] = folder
        log(f"stage {i}/{len(stages)}: {stage.name} ({stage.stage})")
        if isinstance(stage, TrainStage):
            run_config: RunConfig = stage.run
            if run_config.init_from and run_config.init_from.startswith("@"):
                run_config.init_from = str(resolve(run_config.init_from))
            result = train_run(run_config, folder, resume=resume, log=log)
            summary["stages"][stage.name] = {k: result[k] for k in ("train_loss_first", "train_loss_last", "val")}
        elif isinstance(stage, GenerateStage):
            summary["stages"][stage.name] = generate_split(stage, resolve(stage.checkpoint), folder, log)
        elif isinstance(stage, EvaluateReportsStage):
            summary["stages"][stage.name] = evaluate_reports(stage, resolve(stage.predictions), folder, log)
        elif isinstance(stage, EvaluateDiagnosisStage):
            summary["stages"][stage.name] = evaluate_diagnosis(stage, resolve(stage.checkpoint), folder, log)
    (out / "metrics.json").write_text(json.dumps(summary, indent=2, default=_json_default))
    log(f"pipeline folder: {out}")
    return summary


def _json_default(value: Any) -> str:
    """json.dumps fallback for values it cannot write (paths, tensors' reprs)."""
    return str(value)


# -- generation ----------------------------------------------------------------------------
def _split_records(loaded: Any, split: str, max_studies: int | None) -> tuple[Any, list[dict], list[dict]]:
    from cbf.data.pipeline import annotate

    dataset = loaded.config.data.dataset.build()
    records = dataset.records(split)[: max_studies or None]
    train = dataset.records("train")
    annotate(records, loaded.tokenizer, loaded.annotators)
    return dataset, records, train


def _batches(loaded: Any, dataset: Any, records: list[dict], batch_size: int):
    from cbf.data.images import ImageTransform
    from cbf.data.pipeline import StudyTorchDataset, collate

    ds = StudyTorchDataset(dataset, records, ImageTransform(loaded.image_size, train=False), loaded.max_views,
                           loaded.config.seed)
    for start in range(0, len(ds), batch_size):
        yield collate([ds[j] for j in range(start, min(len(ds), start + batch_size))], loaded.tokenizer.pad_id,
                      loaded.tokenizer.sep_id, loaded.max_views)


def generate_split(stage: GenerateStage, checkpoint: Path, folder: Path, log: Log) -> dict[str, Any]:
    from tqdm.auto import tqdm

    from cbf.inference import load_for_inference

    loaded = load_for_inference(checkpoint, task="generation")
    dataset, records, train = _split_records(loaded, stage.split, stage.max_studies)
    folder.mkdir(parents=True, exist_ok=True)
    by_id = {r["id"]: r for r in records}
    rows = []
    with tqdm(total=len(records), desc=f"generate ({stage.split})", unit="study") as bar:
        for batch in _batches(loaded, dataset, records, stage.batch_size):
            ids = loaded.head.generate(loaded.model, batch, loaded.tokenizer, beam_size=stage.beam_size,
                                       max_length=stage.max_length, length_penalty=stage.length_penalty,
                                       no_repeat_ngram_size=stage.no_repeat_ngram_size)
            for sid, tokens in zip(batch["ids"], ids):
                rows.append({"id": sid, "prediction": loaded.tokenizer.decode(tokens),
                             "reference": by_id[sid]["report"]})
            bar.update(len(batch["ids"]))
    with open(folder / "predictions.jsonl", "w") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")
    # the training reports travel with the predictions, for the baselines computed later
    (folder / "train_reports.json").write_text(json.dumps([r["report"] for r in train]))
    log(f"{len(rows)} reports written to {folder / 'predictions.jsonl'}")
    return {"studies": len(rows), "predictions": str(folder / "predictions.jsonl")}


# -- report evaluation ---------------------------------------------------------------------
def report_baselines(train_reports: list[str], n: int, seed: int) -> dict[str, list[str]]:
    """Most frequent training report (after R2Gen cleaning) for every study; a random one each."""
    from cbf.text import clean_report

    cleaned = [clean_report(r) for r in train_reports]
    most = Counter(c for c in cleaned if c).most_common(1)[0][0]
    rng = random.Random(seed)
    return {"most_frequent_train_report": [most] * n,
            "random_train_report": [cleaned[rng.randrange(len(cleaned))] for _ in range(n)]}


def _score(metrics: list[Component], predictions: list[str], references: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for comp in metrics:
        metric = comp.build()
        metric.update(predictions, references)
        out.update({k: (float(v) if torch.is_tensor(v) else v) for k, v in metric.compute().items()})
    return out


def evaluate_reports(stage: EvaluateReportsStage, predictions_dir: Path, folder: Path, log: Log) -> dict[str, Any]:
    rows = [json.loads(line) for line in (predictions_dir / "predictions.jsonl").read_text().splitlines() if line]
    preds = [r["prediction"] for r in rows]
    refs = [r["reference"] for r in rows]
    results = {"model": _score(stage.metrics, preds, refs)}
    baselines: dict[str, list[str]] = {}
    if stage.baselines:
        train = json.loads((predictions_dir / "train_reports.json").read_text())
        baselines = report_baselines(train, len(rows), stage.seed)
        for name, bpreds in baselines.items():
            results[name] = _score(stage.metrics, bpreds, refs)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "metrics.json").write_text(json.dumps(results, indent=2, default=_json_default))
    write_report_page(folder / "report.html", results, rows)
    log(f"report metrics: {folder / 'metrics.json'}; page: {folder / 'report.html'}")
    return results


def write_report_page(path: Path, results: dict[str, dict[str, Any]], rows: list[dict[str, str]]) -> None:
    """One HTML page: the metric table (model beside baselines), the length distributions of
    generated and reference reports, and example reports."""
    from cbf.text import clean_report

    keys = [k for k in next(iter(results.values())) if isinstance(next(iter(results.values()))[k], (int, float))]
    head = "".join(f"<th>{html.escape(k)}</th>" for k in keys)
    body = "".join(
        f"<tr><td>{html.escape(name)}</td>" + "".join(
            f"<td>{vals.get(k):.4f}</td>" if isinstance(vals.get(k), (int, float)) else "<td>–</td>" for k in keys)
        + "</tr>" for name, vals in results.items())
    gen_len = [len(r["prediction"].split()) for r in rows]
    ref_len = [len(clean_report(r["reference"]).split()) for r in rows]
    examples = "".join(f"<tr><td>{html.escape(r['id'])}</td><td>{html.escape(r['prediction'])}</td>"
                       f"<td>{html.escape(clean_report(r['reference']))}</td></tr>" for r in rows[:25])
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>cbf report generation</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;
padding:4px 8px;font-size:13px;vertical-align:top}}</style></head><body>
<h1>Report generation: {len(rows)} studies</h1>
<p>Clinical-efficacy labels come from the labeler named in the metrics; NLG metrics use R2Gen's tokenization.
Baselines are computed exactly like the model's scores.</p>
<div style="overflow-x:auto"><table><tr><th>predictions</th>{head}</tr>{body}</table></div>
<h2>Report length (words)</h2>{_histogram_svg(gen_len, ref_len)}
<h2>Examples</h2><table><tr><th>id</th><th>generated</th><th>reference (cleaned)</th></tr>{examples}</table>
</body></html>"""
    path.write_text(page)


def _histogram_svg(generated: list[int], reference: list[int], bins: int = 20) -> str:
    top = max(generated + reference + [1])
    width = max(1, (top + bins) // bins)

    def counts(values: list[int]) -> list[int]:
        c = [0] * bins
        for v in values:
            c[min(bins - 1, v // width)] += 1
        return c

    g, r = counts(generated), counts(reference)
    peak = max(g + r + [1])
    bars = []
    for i in range(bins):
        for j, (vals, colour) in enumerate(((g, "#d9534f"), (r, "#5b8def"))):
            h = 150 * vals[i] / peak
            bars.append(f'<rect x="{40 + i * 30 + j * 13}" y="{170 - h:.1f}" width="12" height="{h:.1f}" '
                        f'fill="{colour}"><title>{i * width}-{(i + 1) * width - 1} words: {vals[i]}</title></rect>')
        bars.append(f'<text x="{40 + i * 30}" y="185" font-size="9">{i * width}</text>')
    legend = ('<text x="40" y="12" font-size="11" fill="#d9534f">generated</text>'
              '<text x="120" y="12" font-size="11" fill="#5b8def">reference</text>')
    return f'<svg width="{60 + bins * 30}" height="195">{legend}{"".join(bars)}</svg>'


# -- diagnosis evaluation ------------------------------------------------------------------
def evaluate_diagnosis(stage: EvaluateDiagnosisStage, checkpoint: Path, folder: Path, log: Log) -> dict[str, Any]:
    from cbf.registry import load_plugin

    from cbf.inference import load_for_inference

    loaded = load_for_inference(checkpoint, task="classification")
    head = loaded.head
    target_key = "chexpert" if getattr(head.config, "target", "labels") == "chexpert" else "labels"
    dataset, records, train = _split_records(loaded, stage.split, stage.max_studies)
    probs, targets = [], []
    for batch in _batches(loaded, dataset, records, stage.batch_size):
        probs.append(head.predict(loaded.model, batch).float().cpu())
        targets.append(_targets(batch[target_key], target_key))
    scores, truth = torch.cat(probs), torch.cat(targets)
    auroc_cls = load_plugin("metrics", "auroc")
    names = list(head.label_names)

    def auroc(pred: torch.Tensor) -> dict[str, Any]:
        metric = auroc_cls(auroc_cls.Config(class_names=names))
        metric.update(pred, truth)
        return {k: (float(v) if torch.is_tensor(v) else v) for k, v in metric.compute().items()}

    results = {"model": auroc(scores)}
    if stage.baselines:
        from cbf.data.pipeline import annotate

        annotate(train, loaded.tokenizer, loaded.annotators)
        train_t = _targets(torch.tensor([_as_row(r, target_key) for r in train], dtype=torch.float32), target_key)
        rows = [tuple(x) for x in train_t.tolist()]
        most = torch.tensor(Counter(rows).most_common(1)[0][0])
        rng = random.Random(stage.seed)
        results["most_frequent_train_labels"] = auroc(most.expand(len(truth), -1).clone())
        results["random_train_study_labels"] = auroc(torch.stack([train_t[rng.randrange(len(train_t))]
                                                                  for _ in range(len(truth))]))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "metrics.json").write_text(json.dumps(results, indent=2, default=_json_default))
    log(f"diagnosis AUROC (mean): model {results['model'].get('AUROC_mean')}")
    return results


def _as_row(record: dict, key: str) -> list[float]:
    return [float("nan") if v is None else float(v) for v in record[key]]


def _targets(values: torch.Tensor, key: str) -> torch.Tensor:
    """Positive = 1, everything else (0, uncertain -1, blank) = 0, as the heads train."""
    if key == "chexpert":
        return u_zeros(values)
    return torch.nan_to_num(values, nan=0.0)


__all__ = ["bind_pipeline", "run_pipeline"]
