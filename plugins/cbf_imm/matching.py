"""The image–MeSH matching score of Clinical-BERT (paper eqs. 5–7), as plain functions.

For report words e_l (encoded text tokens) and image regions v_i (encoded visual tokens):

1. Region attention (eq. 5): α_l = softmax_i(ρ1·cos(e_l, v_i)) over the valid regions.
2. Sparsity (eq. 6, as printed): keep the K largest α_l,i, set the rest to −inf and apply
   softmax to the kept *weights α* again. Because α ∈ [0, 1], softmax(α) over the kept set
   is close to uniform: eq. 6 flattens the distribution over the top-K regions rather than
   sharpening it (with K = 1 it is one-hot on the best region). ``sparse=False`` skips this
   step and uses α from eq. 5 directly (Table 4's "w/o sparsity"). Note that K ≥ R is
   therefore *not* the same as ``sparse=False``: it gives softmax(α) over all regions.
3. Aligned region feature r_l = Σ_i α_l,i v_i; word score s_l = β_l·cos(e_l, r_l), with
   β = softmax of the MeSH tags T over the real words (padding and other excluded slots
   are left out of the softmax, so β sums to 1 over the words that count).
4. Score S = (1/ρ2)·log Σ_l exp(ρ2·s_l) over the real words. A row without any real word
   scores −inf. Because β sums to 1, s_l is of order 1/n for n words, so S ≈ log(n)/ρ2 +
   mean_l s_l: report length moves S by log(n)/ρ2 while the image can move it by at most
   about 2/n. ``pooling="weighted"`` (ours, not the paper's) reads β as weights *inside*
   the log-sum-exp instead: S = (1/ρ2)·log Σ_l β_l·exp(ρ2·cos(e_l, r_l)), a β-weighted soft
   maximum in [−1, 1] with no length term (β-weighted mean as ρ2 → 0, max as ρ2 → ∞).

Everything is computed in float32 (float64 inputs stay float64) with autocast off. r_l is
never materialised: e·r and |r| come from the dot products e·v and the Gram matrix v·vᵀ, so
the all-pairs score matrix of a batch (for the contrastive loss) costs O(B²·L·R) memory,
not O(B²·L·H).
"""
from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F

_EPS = 1e-8


#: how word scores become S: "printed" = eq. 7 as printed; "weighted" = β inside the log-sum-exp
POOLINGS = ("printed", "weighted")


def _check(words: torch.Tensor, regions: torch.Tensor, mesh_tags: torch.Tensor, word_mask: torch.Tensor,
           region_mask: torch.Tensor | None, k: int, rho1: float, rho2: float, paired: bool,
           pooling: str = "printed") -> None:
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    if words.ndim != 3 or regions.ndim != 3:
        raise ValueError(f"words must be (B, L, H) and regions (B, R, H); got {tuple(words.shape)} and "
                         f"{tuple(regions.shape)}")
    if words.shape[-1] != regions.shape[-1]:
        raise ValueError(f"words and regions differ in width: {words.shape[-1]} vs {regions.shape[-1]}")
    if paired and words.shape[0] != regions.shape[0]:
        raise ValueError(f"words and regions differ in batch size: {words.shape[0]} vs {regions.shape[0]}")
    for name, t in (("mesh_tags", mesh_tags), ("word_mask", word_mask)):
        if tuple(t.shape) != tuple(words.shape[:2]):
            raise ValueError(f"{name} must be (B, L) = {tuple(words.shape[:2])}, got {tuple(t.shape)}")
    if region_mask is not None and tuple(region_mask.shape) != tuple(regions.shape[:2]):
        raise ValueError(f"region_mask must be (B, R) = {tuple(regions.shape[:2])}, got {tuple(region_mask.shape)}")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if rho1 <= 0 or rho2 <= 0:
        raise ValueError(f"rho1 and rho2 must be > 0, got {rho1} and {rho2}")


def _no_autocast(t: torch.Tensor) -> contextlib.AbstractContextManager:
    return torch.autocast(device_type=t.device.type, enabled=False)


def sparsify(alpha: torch.Tensor, region_mask: torch.Tensor, k: int) -> torch.Tensor:
    """Eq. 6 as printed: keep each word's top-``k`` weights among valid regions, softmax them."""
    ranked = alpha.masked_fill(~region_mask, -1.0)  # α ≥ 0: invalid regions rank last
    idx = ranked.topk(min(k, alpha.shape[-1]), dim=-1).indices
    kept = torch.zeros_like(alpha, dtype=torch.bool).scatter(-1, idx, True) & region_mask
    return torch.softmax(alpha.masked_fill(~kept, float("-inf")), dim=-1)


def word_weights(mesh_tags: torch.Tensor, word_mask: torch.Tensor) -> torch.Tensor:
    """β = softmax(T) over the real words; 0 elsewhere (and on rows without words)."""
    has_word = word_mask.any(dim=-1, keepdim=True)
    logits = mesh_tags.float().masked_fill(~word_mask, float("-inf"))
    logits = torch.where(has_word, logits, torch.zeros_like(logits))  # no NaN on empty rows
    return torch.softmax(logits, dim=-1) * word_mask


def _scores(dots: torch.Tensor, word_norm: torch.Tensor, region_norm: torch.Tensor, gram: torch.Tensor,
            mesh_tags: torch.Tensor, word_mask: torch.Tensor, region_mask: torch.Tensor, k: int, rho1: float,
            rho2: float, sparse: bool, pooling: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Shared by the paired and all-pairs forms; every argument broadcasts to (..., L, R)."""
    cos = dots / (word_norm[..., :, None] * region_norm[..., None, :])
    alpha = torch.softmax((rho1 * cos).masked_fill(~region_mask[..., None, :], float("-inf")), dim=-1)  # eq. 5
    if sparse:
        alpha = sparsify(alpha, region_mask[..., None, :], k)  # eq. 6
    e_dot_r = (alpha * dots).sum(-1)
    r_norm = ((alpha @ gram) * alpha).sum(-1).clamp_min(_EPS**2).sqrt()
    beta = word_weights(mesh_tags, word_mask)
    cos_r = e_dot_r / (word_norm * r_norm.clamp_min(_EPS))
    if pooling == "printed":
        logits = rho2 * beta * cos_r  # eq. 7's S, with s_l = β_l·cos(e_l, r_l)
    else:
        logits = rho2 * cos_r + beta.clamp_min(1e-30).log()  # Σ β_l·exp(ρ2·cos_l) in log space
    score = torch.logsumexp(logits.masked_fill(~word_mask, float("-inf")), dim=-1) / rho2
    return score, alpha


def _parts(words: torch.Tensor, regions: torch.Tensor, region_mask: torch.Tensor | None
           ) -> tuple[torch.Tensor, ...]:
    dtype = torch.promote_types(torch.promote_types(words.dtype, regions.dtype), torch.float32)
    words, regions = words.to(dtype), regions.to(dtype)  # bf16/fp16 → fp32; fp64 stays
    if region_mask is None:
        region_mask = torch.ones(regions.shape[:2], dtype=torch.bool, device=regions.device)
    word_norm = words.norm(dim=-1).clamp_min(_EPS)
    region_norm = regions.norm(dim=-1).clamp_min(_EPS)
    gram = regions @ regions.transpose(1, 2)
    return words, regions, region_mask.bool(), word_norm, region_norm, gram


def matching_score(words: torch.Tensor, regions: torch.Tensor, mesh_tags: torch.Tensor, word_mask: torch.Tensor,
                   k: int, rho1: float, rho2: float, sparse: bool = True, region_mask: torch.Tensor | None = None,
                   return_attention: bool = False, pooling: str = "printed") -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """S(image_b, report_b) for each row b: (B,) scores; with ``return_attention`` also the
    per-word region weights α (B, L, R) actually used (after eq. 6 when ``sparse``).

    words (B, L, H): encoded text tokens; regions (B, R, H): encoded visual tokens; mesh_tags,
    word_mask (B, L) 0/1; region_mask (B, R) 0/1 (default: all regions valid).
    """
    _check(words, regions, mesh_tags, word_mask, region_mask, k, rho1, rho2, paired=True, pooling=pooling)
    with _no_autocast(words):
        words, regions, region_mask, word_norm, region_norm, gram = _parts(words, regions, region_mask)
        dots = words @ regions.transpose(1, 2)  # (B, L, R)
        score, alpha = _scores(dots, word_norm, region_norm, gram, mesh_tags, word_mask.bool(), region_mask,
                               k, rho1, rho2, sparse, pooling)
    return (score, alpha) if return_attention else score


def score_matrix(words: torch.Tensor, regions: torch.Tensor, mesh_tags: torch.Tensor, word_mask: torch.Tensor,
                 k: int, rho1: float, rho2: float, sparse: bool = True, region_mask: torch.Tensor | None = None,
                 return_attention: bool = False, pooling: str = "printed") -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """All pairs: (I, J) with [i, j] = S(image i, report j), for regions (I, R, H) and words
    (J, L, H); with ``return_attention`` also α (I, J, L, R)."""
    _check(words, regions, mesh_tags, word_mask, region_mask, k, rho1, rho2, paired=False, pooling=pooling)
    with _no_autocast(words):
        words, regions, region_mask, word_norm, region_norm, gram = _parts(words, regions, region_mask)
        dots = torch.einsum("jlh,irh->ijlr", words, regions)
        score, alpha = _scores(dots, word_norm[None], region_norm[:, None], gram[:, None], mesh_tags[None],
                               word_mask.bool()[None], region_mask[:, None], k, rho1, rho2, sparse, pooling)
    return (score, alpha) if return_attention else score


def paper_loss(scores: torch.Tensor, tau: float) -> torch.Tensor:
    """Eq. 7 as printed: −S/τ of the true pairs, averaged (no negatives)."""
    return -(scores / tau).mean()


def contrastive_loss(matrix: torch.Tensor, tau: float) -> torch.Tensor:
    """In-batch InfoNCE over S/τ: image→report (rows) and report→image (columns), averaged."""
    logits = matrix / tau
    target = torch.arange(matrix.shape[0], device=matrix.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target))


def matched_loss(positive: torch.Tensor, negatives: list[torch.Tensor], tau: float) -> torch.Tensor:
    """Cross-entropy over S/τ for jointly encoded pairs, image→report and report→image, averaged.

    ``positive[i]`` = S(image i, report i); ``negatives[s-1][i]`` = S(image i, report (i+s) mod B)
    from a separate joint encoding of that pair. Image i ranks its report against reports
    i+1..i+n; report j ranks its image against images j−1..j−n (the same scores, rolled back).
    Pairs scoring −inf (a report without words) drop out; rows whose true pair is −inf are skipped.
    """
    if not negatives:
        raise ValueError("matched_loss needs at least one negative")
    to_report = torch.stack([positive, *negatives], dim=1)
    to_image = torch.stack([positive, *(torch.roll(n, s, dims=0) for s, n in enumerate(negatives, 1))], dim=1)
    losses = []
    for logits in (to_report, to_image):
        rows = torch.isfinite(logits[:, 0])
        if rows.any():
            target = torch.zeros(int(rows.sum()), dtype=torch.long, device=logits.device)
            losses.append(F.cross_entropy(logits[rows] / tau, target))
    if not losses:
        return positive.sum() * 0.0
    return sum(losses) / len(losses)

