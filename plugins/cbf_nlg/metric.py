"""BLEU-1..4, METEOR, ROUGE-L and CIDEr through pycocoevalcap's own scorers.

Why pycocoevalcap and not a re-implementation: it is what every report-generation paper
we compare with used; BLEU's brevity option ("closest"), CIDEr's corpus document
frequencies and METEOR's Java normalisation all move the numbers. Scores are corpus-level
and are computed once, in ``compute``, over every accumulated pair (CIDEr's idf needs them all).
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Optional, Sequence

from torchmetrics import Metric

from .tokenization import TOKENIZATIONS, clean_report

#: The keys ``compute`` returns, named as R2Gen's ``compute_scores`` names pycocoevalcap's outputs.
BLEU_KEYS: tuple[str, ...] = ("BLEU_1", "BLEU_2", "BLEU_3", "BLEU_4")
SCORE_KEYS: tuple[str, ...] = (*BLEU_KEYS, "METEOR", "ROUGE_L", "CIDEr")

#: Metric states that hold text (never moved to a device; gathered as Python objects in DDP).
_TEXT_STATES: tuple[str, ...] = ("predictions", "references")

JAVA_HINT = ("METEOR runs pycocoevalcap's meteor-1.5.jar and needs a Java runtime (>= 8) on PATH: "
             "install one (e.g. `apt-get install openjdk-17-jre-headless`), or turn METEOR off "
             "(`meteor: false` in the metric config, `--no-meteor` for `cbf evaluate`)")


class NLGMetric(Metric):
    """Corpus NLG scores of generated reports against one reference each.

    ``update(predictions, references)`` takes raw report strings; both sides are tokenized
    with ``config.tokenization`` (see :mod:`cbf_nlg.tokenization`). ``compute()`` returns
    ``BLEU_1``…``BLEU_4``, ``METEOR`` (unless ``meteor: false``; then the key is absent),
    ``ROUGE_L``, ``CIDEr`` as floats and ``tokenization`` as a string.
    """

    @dataclass
    class Config:
        #: "r2gen-iu", "r2gen-mimic" or "none" (text already tokenized).
        tokenization: str = "r2gen-iu"
        #: METEOR needs Java; false leaves the ``METEOR`` key out.
        meteor: bool = True

        def validate(self) -> None:
            if self.tokenization not in TOKENIZATIONS:
                raise ValueError(f"tokenization must be one of {', '.join(TOKENIZATIONS)}, "
                                 f"got {self.tokenization!r}")

    is_differentiable: ClassVar[bool] = False
    higher_is_better: ClassVar[bool] = True
    full_state_update: ClassVar[bool] = False

    predictions: list[str]
    references: list[str]

    def __init__(self, config: Optional["NLGMetric.Config"] = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.config = config if config is not None else self.Config()
        self.config.validate()
        if self.config.meteor:
            require_java()
        for name in _TEXT_STATES:
            self.add_state(name, default=[], dist_reduce_fx="cat")

    def update(self, predictions: Sequence[str], references: Sequence[str]) -> None:
        if isinstance(predictions, str) or isinstance(references, str):
            raise TypeError("NLGMetric.update takes sequences of reports, not a single string")
        if len(predictions) != len(references):
            raise ValueError(f"NLGMetric.update: {len(predictions)} predictions but "
                             f"{len(references)} references")
        for i, (p, r) in enumerate(zip(predictions, references)):
            if not isinstance(p, str) or not isinstance(r, str):
                raise TypeError(f"NLGMetric.update: item {i} is not a pair of strings "
                                f"({type(p).__name__}, {type(r).__name__})")
        self.predictions.extend(clean_report(p, self.config.tokenization) for p in predictions)
        self.references.extend(clean_report(r, self.config.tokenization) for r in references)

    def compute(self) -> dict[str, Any]:
        if not self.predictions:
            raise ValueError("NLGMetric.compute: no reports were given to update()")
        return {**score_tokenized(self.predictions, self.references, meteor=self.config.meteor),
                "tokenization": self.config.tokenization}

    # --- text states: keep them off devices, gather them as objects across processes -----
    def _apply(self, fn: Callable, exclude_state: Sequence[str] = ()) -> "NLGMetric":
        return super()._apply(fn, exclude_state=tuple(exclude_state) + _TEXT_STATES)

    def _sync_dist(self, dist_sync_fn: Callable | None = None, process_group: Any = None) -> None:
        """Lists of strings cannot go through ``all_gather`` of tensors: gather them with
        ``torch.distributed.all_gather_object`` (rank order, so every rank sees one corpus)."""
        import torch.distributed as dist

        group = process_group or self.process_group
        world = dist.get_world_size(group)
        for name in _TEXT_STATES:
            gathered: list[Any] = [None] * world
            dist.all_gather_object(gathered, list(getattr(self, name)), group=group)
            setattr(self, name, [text for part in gathered for text in part])


def require_java() -> None:
    """Fail early, with the fix, when METEOR cannot run."""
    if shutil.which("java") is None:
        raise FileNotFoundError(f"java not found. {JAVA_HINT}")


def score_tokenized(predictions: Sequence[str], references: Sequence[str],
                    meteor: bool = True) -> dict[str, float]:
    """pycocoevalcap's scorers on already-tokenized text, one reference per prediction.

    Keys are the integer positions, as in R2Gen's ``compute_scores``.
    """
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    gts = {i: [r] for i, r in enumerate(references)}
    res = {i: [p] for i, p in enumerate(predictions)}
    out: dict[str, float] = {}
    bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)  # verbose=0: nothing on stdout
    out.update({key: float(value) for key, value in zip(BLEU_KEYS, bleu)})
    if meteor:
        out["METEOR"] = _meteor(gts, res)
    out["ROUGE_L"] = float(Rouge().compute_score(gts, res)[0])
    out["CIDEr"] = float(Cider().compute_score(gts, res)[0])
    return out


def _meteor(gts: dict[int, list[str]], res: dict[int, list[str]]) -> float:
    from pycocoevalcap.meteor.meteor import Meteor

    require_java()
    scorer = Meteor()
    try:
        return float(scorer.compute_score(gts, res)[0])
    except (ValueError, OSError) as exc:  # the JVM died or printed something else
        if scorer.lock.locked():  # pycocoevalcap leaves it held on error; its __del__ would hang
            scorer.lock.release()
        err = scorer.meteor_p.stderr.read(2000).decode(errors="replace") if scorer.meteor_p.poll() is not None else ""
        raise RuntimeError(f"METEOR (java -jar meteor-1.5.jar) failed: {exc}. {err.strip()} {JAVA_HINT}") from exc
    finally:
        del scorer  # pycocoevalcap's __del__ closes the JVM


__all__ = ["BLEU_KEYS", "JAVA_HINT", "NLGMetric", "SCORE_KEYS", "require_java", "score_tokenized"]
