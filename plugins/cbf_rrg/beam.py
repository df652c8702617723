"""Beam search over a step-wise decoder, batched over studies (greedy is ``beam_size=1``).

The search only needs the decoder to give log-probabilities for the next word of every live
hypothesis and to follow the beams when they are reordered, so the cached and the uncached
decoders (``cbf_rrg.decoders``) share it and cannot drift apart.

Scoring, stated exactly:

* a hypothesis' raw score is the sum of the log-probabilities of its choices (words, plus
  the closing [SEP] when it ends with one);
* its length ``n`` is the number of those choices: words + 1 for a closing [SEP]; a
  hypothesis cut off at ``max_length`` words has ``n = max_length``;
* finished hypotheses are ranked by ``score / n ** length_penalty`` (0: raw sum, 1: mean
  log-probability per choice; > 1 favours longer reports further).

A study stops when ``beam_size`` hypotheses have chosen [SEP] (a [SEP] counts only when it is
among the top ``beam_size`` candidates of its step, as in fairseq / Hugging Face), or when
``max_length`` words are reached (live hypotheses are then finished as they are).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

import torch

NEG_INF = float("-inf")


class StepDecoder(Protocol):
    """What the search drives. Rows are ``study × beam`` for the studies still decoding."""

    def log_probs(self, previous: torch.Tensor | None) -> torch.Tensor:
        """(rows, V) log-probabilities of the next word; ``previous`` (rows,) is the word chosen
        at the last step for each row (None at the first step)."""

    def reorder(self, index: torch.Tensor) -> None:
        """Keep rows ``index`` (long, new rows) in this order: beams follow their origin."""


@dataclass(frozen=True)
class BeamOptions:
    beam_size: int = 5
    max_length: int = 60
    min_length: int = 0
    length_penalty: float = 1.0
    no_repeat_ngram_size: int = 0

    def validate(self) -> None:
        if self.beam_size < 1:
            raise ValueError(f"beam_size must be >= 1, got {self.beam_size}")
        if self.max_length < 1:
            raise ValueError(f"max_length must be >= 1, got {self.max_length}")
        if not 0 <= self.min_length <= self.max_length:
            raise ValueError(f"min_length must be in [0, max_length={self.max_length}], got {self.min_length}")
        if self.no_repeat_ngram_size < 0:
            raise ValueError(f"no_repeat_ngram_size must be >= 0, got {self.no_repeat_ngram_size}")


@dataclass(frozen=True)
class Hypothesis:
    tokens: tuple[int, ...]  # words, without [SEP]
    score: float  # sum of log-probabilities of the choices
    ended: bool  # True when it chose [SEP], False when cut off at max_length

    @property
    def length(self) -> int:
        return len(self.tokens) + (1 if self.ended else 0)

    def normalized(self, length_penalty: float) -> float:
        return normalized_score(self.score, self.length, length_penalty)


def normalized_score(score: float, length: int, length_penalty: float) -> float:
    """``score / length ** length_penalty`` (length >= 1; see the module docstring)."""
    return score / (max(1, length) ** length_penalty)


def best_hypothesis(finished: Sequence[Hypothesis], length_penalty: float) -> Hypothesis | None:
    """The highest normalised score; ties go to the one finished first."""
    best = None
    for hyp in finished:
        if best is None or hyp.normalized(length_penalty) > best.normalized(length_penalty):
            best = hyp
    return best


def block_repeated_ngrams(log_probs: torch.Tensor, sequences: torch.Tensor, n: int) -> None:
    """In place: -inf for every word that would repeat an n-gram already in its row.

    ``sequences`` (rows, t) are the words so far. The candidate completes the n-gram
    ``(last n-1 words, candidate)``; it is banned if that n-gram occurred earlier.
    """
    rows, t = sequences.shape
    if n < 1 or t < n - 1 or t == 0:
        return
    windows = sequences.unfold(1, n, 1) if t >= n else sequences.new_zeros(rows, 0, n)
    if windows.shape[1] == 0:
        return
    prefix = sequences[:, t - (n - 1):] if n > 1 else sequences[:, :0]
    match = (windows[:, :, : n - 1] == prefix[:, None, :]).all(dim=-1)  # (rows, windows)
    row_idx, win_idx = match.nonzero(as_tuple=True)
    log_probs[row_idx, windows[row_idx, win_idx, n - 1]] = NEG_INF


def beam_search(decoder: StepDecoder, num_studies: int, options: BeamOptions, *, sep_id: int,
                blocked_ids: Sequence[int] = (), device: torch.device | str = "cpu") -> list[Hypothesis | None]:
    """The best hypothesis per study (None only if every word was blocked from the start)."""
    options.validate()
    k = options.beam_size
    dev = torch.device(device)
    blocked = torch.tensor(sorted(set(blocked_ids) - {sep_id}), dtype=torch.long, device=dev)
    active = list(range(num_studies))  # studies still decoding, in row-block order
    scores = torch.full((num_studies, k), NEG_INF, device=dev)
    scores[:, 0] = 0.0  # one real hypothesis per study at the start; the copies never win
    sequences = torch.zeros(num_studies * k, 0, dtype=torch.long, device=dev)
    finished: list[list[Hypothesis]] = [[] for _ in range(num_studies)]
    previous: torch.Tensor | None = None

    for step in range(options.max_length):
        logp = decoder.log_probs(previous).float()  # (A·K, V)
        vocab = logp.shape[1]
        if blocked.numel():
            logp[:, blocked] = NEG_INF
        if step < options.min_length:
            logp[:, sep_id] = NEG_INF
        if options.no_repeat_ngram_size:
            block_repeated_ngrams(logp, sequences, options.no_repeat_ngram_size)
        candidates = (scores[:, :, None] + logp.view(len(active), k, vocab)).view(len(active), k * vocab)
        top_scores, top_idx = candidates.topk(min(2 * k, k * vocab), dim=1)
        top_scores, top_idx = top_scores.tolist(), top_idx.tolist()

        keep_rows: list[int] = []
        keep_tokens: list[int] = []
        keep_scores: list[list[float]] = []
        still: list[int] = []
        for a, study in enumerate(active):
            chosen: list[tuple[int, int, float]] = []  # (origin beam, token, score)
            for rank, (score, idx) in enumerate(zip(top_scores[a], top_idx[a])):
                if score == NEG_INF or len(chosen) == k:
                    break
                origin, token = divmod(idx, vocab)
                if token == sep_id:
                    if rank < k:
                        words = tuple(sequences[a * k + origin].tolist())
                        finished[study].append(Hypothesis(words, score, ended=True))
                    continue
                chosen.append((origin, token, score))
            if len(finished[study]) >= k or not chosen:
                continue
            while len(chosen) < k:  # a padding beam that can never win
                chosen.append((chosen[0][0], chosen[0][1], NEG_INF))
            still.append(study)
            keep_rows.extend(a * k + o for o, _, _ in chosen)
            keep_tokens.extend(t for _, t, _ in chosen)
            keep_scores.append([s for _, _, s in chosen])

        active = still
        if not active:
            break
        index = torch.tensor(keep_rows, dtype=torch.long, device=dev)
        previous = torch.tensor(keep_tokens, dtype=torch.long, device=dev)
        sequences = torch.cat([sequences[index], previous[:, None]], dim=1)
        scores = torch.tensor(keep_scores, device=dev)
        if step + 1 < options.max_length:
            decoder.reorder(index)

    # studies that reached max_length: their live hypotheses finish as they are
    for a, study in enumerate(active):
        for j in range(k):
            score = float(scores[a, j])
            if score != NEG_INF:
                finished[study].append(Hypothesis(tuple(sequences[a * k + j].tolist()), score, ended=False))
    return [best_hypothesis(f, options.length_penalty) for f in finished]
