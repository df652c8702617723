"""From a dataset plugin's records to training batches: annotate once, load pixels lazily,
collate into the documented batch fields (:mod:`cbf.fields`), and order batches so that
step ``s`` of a run always sees the same studies (resume and DDP rely on it)."""
from __future__ import annotations

import math
from typing import Any, Iterator, Sequence

import torch

from cbf.api import Annotator, StudyDataset, Tokenizer
from cbf.errors import DataError


def check_annotator_order(tokenizer: Tokenizer, annotators: Sequence[Annotator], dataset: StudyDataset) -> None:
    """Fail before any work if an annotator needs a field that nothing earlier provides."""
    have = {"id", "split", "report", "image_paths", "mesh_major"}
    if getattr(dataset, "has_chexpert", False):
        have.add("chexpert")
    for ann in [tokenizer, *annotators]:
        missing = [f for f in ann.requires if f not in have]
        if missing:
            raise DataError(f"annotator {type(ann).__name__} needs field(s) {missing}, which neither the "
                            f"dataset nor an earlier annotator provides (order: tokenizer, then "
                            f"data.annotators in recipe order)")
        have.update(ann.provides)


def annotate(records: list[dict], tokenizer: Tokenizer, annotators: Sequence[Annotator]) -> list[dict]:
    for record in records:
        tokenizer.annotate(record)
        for ann in annotators:
            ann.annotate(record)
    return records


class StudyTorchDataset(torch.utils.data.Dataset):
    """Annotated records + pixels loaded on demand through the dataset plugin."""

    def __init__(self, source: StudyDataset, records: list[dict], transform: Any, max_views: int,
                 seed: int, on_bad_image: str = "error") -> None:
        self.source = source
        self.records = records
        self.transform = transform
        self.max_views = max_views
        self.seed = seed
        self.on_bad_image = on_bad_image

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, key: int | tuple[int, int]) -> dict | None:
        """``key`` is an index, or (index, epoch) from :class:`StepBatchSampler`: augmentation
        is seeded by (seed, epoch, index), identical in any worker process and after resume."""
        index, epoch = key if isinstance(key, tuple) else (key, 0)
        record = self.records[index]
        try:
            views = self.source.load_images(record)[: self.max_views]
            if not views:
                raise DataError(f"study {record.get('id')!r} has no images")
        except DataError as exc:
            if self.on_bad_image == "skip":
                return {"_bad": str(exc), "id": record.get("id")}
            raise
        g = torch.Generator().manual_seed((self.seed * 1_000_003 + epoch) * 10_000_019 + index)
        sample = dict(record)
        sample["images"] = self.transform(views, generator=g)
        return sample


def collate(samples: list[dict | None], pad_id: int, sep_id: int, max_views: int) -> dict[str, Any]:
    """Samples → batch; text slots are the report ids + closing [SEP], padded to the longest."""
    bad = [s["_bad"] for s in samples if s and "_bad" in s]
    samples = [s for s in samples if s and "_bad" not in s]
    if not samples:
        return {"ids": [], "bad_images": bad}
    b = len(samples)
    first = samples[0]["images"]
    images = torch.zeros(b, max_views, *first.shape[1:], dtype=first.dtype)
    image_mask = torch.zeros(b, max_views, dtype=torch.bool)
    for i, s in enumerate(samples):
        v = min(s["images"].shape[0], max_views)
        images[i, :v] = s["images"][:v]
        image_mask[i, :v] = True
    batch: dict[str, Any] = {"ids": [s["id"] for s in samples], "images": images, "image_mask": image_mask,
                             "bad_images": bad}
    if "token_ids" in samples[0]:
        length = max(len(s["token_ids"]) for s in samples) + 1
        text = torch.full((b, length), pad_id, dtype=torch.long)
        tags = torch.zeros(b, length, dtype=torch.long)
        for i, s in enumerate(samples):
            ids = s["token_ids"]
            text[i, : len(ids)] = torch.tensor(ids, dtype=torch.long)
            text[i, len(ids)] = sep_id
            if "mesh_tags" in s:
                tags[i, : len(ids)] = torch.tensor(s["mesh_tags"][: len(ids)], dtype=torch.long)
        batch["text_ids"] = text
        batch["text_mask"] = text != pad_id
        batch["input_ids"] = text.clone()
        if any("mesh_tags" in s for s in samples):
            batch["mesh_tags"] = tags
    if all("chexpert" in s for s in samples):
        batch["chexpert"] = torch.tensor([[float("nan") if v is None else float(v) for v in s["chexpert"]]
                                          for s in samples], dtype=torch.float32)
    if all("labels" in s for s in samples):
        batch["labels"] = torch.tensor([list(map(float, s["labels"])) for s in samples], dtype=torch.float32)
    return batch


class StepBatchSampler(torch.utils.data.Sampler[list[tuple[int, int]]]):
    """Index batches for steps ``start_step .. total_steps-1``; each epoch is a fresh seeded
    permutation, the last partial batch is dropped. ``rank``/``world`` split each global
    batch for DistributedDataParallel."""

    def __init__(self, n: int, batch_size: int, seed: int, total_steps: int, start_step: int = 0,
                 shuffle: bool = True, rank: int = 0, world: int = 1) -> None:
        if n < batch_size * world:
            raise DataError(f"the training split has {n} studies, fewer than one global batch "
                            f"({batch_size} x {world} processes); lower trainer.batch_size")
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.total_steps, self.start_step = total_steps, start_step
        self.shuffle, self.rank, self.world = shuffle, rank, world
        self.per_epoch = n // (batch_size * world)

    def __len__(self) -> int:
        return max(0, self.total_steps - self.start_step)

    def _order(self, epoch: int) -> torch.Tensor:
        if not self.shuffle:
            return torch.arange(self.n)
        return torch.randperm(self.n, generator=torch.Generator().manual_seed(self.seed * 1009 + epoch))

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        epoch, order = -1, None
        global_batch = self.batch_size * self.world
        for step in range(self.start_step, self.total_steps):
            e, k = divmod(step, self.per_epoch)
            if e != epoch:
                epoch, order = e, self._order(e)
            chunk = order[k * global_batch : (k + 1) * global_batch]
            mine = chunk[self.rank * self.batch_size : (self.rank + 1) * self.batch_size].tolist()
            yield [(i, e) for i in mine]

    def epoch_of(self, step: int) -> int:
        return step // self.per_epoch


def eval_batches(n: int, batch_size: int, limit: int | None) -> list[list[int]]:
    """Fixed validation batches (the first ``limit`` batches in dataset order)."""
    count = math.ceil(n / batch_size)
    if limit:
        count = min(count, limit)
    return [list(range(i * batch_size, min(n, (i + 1) * batch_size))) for i in range(count)]
