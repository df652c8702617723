"""Finding probabilities for radiographs with a run fine-tuned for diagnosis (head ``rd``).

Each IMAGE is one study (``--study a.png,b.png`` for several views of one study). PNG, JPG and
DICOM are read. Writes JSONL, one line per study: ``image``, ``probabilities`` ({label: p} in
the head's label order, e.g. the 14 NIH findings) and ``positive`` (labels with p >= the
threshold, the head's 0.5 unless ``--threshold``).
"""
from __future__ import annotations

import argparse

from cbf.inference import check_files, jsonl_writer, progress, study_batches
from cbf.errors import DataError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("images", metavar="IMAGE", nargs="*", help="an image file: one study each")
    parser.add_argument("--checkpoint", required=True, metavar="RUN", help="run folder or checkpoint file")
    parser.add_argument("--study", action="append", default=[], metavar="A,B",
                        help="a multi-view study: comma-separated image files (repeatable)")
    parser.add_argument("--threshold", type=float, metavar="P", help="positive from this probability on")
    parser.add_argument("--batch-size", type=int, default=16, metavar="N", help="studies per forward pass")
    parser.add_argument("--device", default="cpu", help="torch device (cpu, cuda, cuda:1, ...)")
    parser.add_argument("--out", "-o", metavar="FILE", help="JSONL output (default: stdout)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def main(args: argparse.Namespace) -> int:
    from cbf.inference import images_to_batch, load_for_inference

    studies = [[p] for p in args.images] + [[p for p in s.split(",") if p] for s in args.study]
    if not studies:
        raise DataError("no images given (name image files, or --study A,B)")
    if args.batch_size < 1:
        raise DataError("--batch-size must be >= 1")
    if args.threshold is not None and not 0 < args.threshold < 1:
        raise DataError("--threshold must be in (0, 1)")
    check_files(studies)
    loaded = load_for_inference(args.checkpoint, device=args.device, task="classification")
    head = loaded.head
    threshold = head.threshold if args.threshold is None else args.threshold
    names = list(head.label_names)
    with jsonl_writer(args.out) as write:
        for chunk in progress(study_batches(studies, args.batch_size), len(studies), args.batch_size,
                              "diagnosing", args.no_progress):
            batch = images_to_batch(chunk, loaded.image_size, loaded.max_views)
            probs = head.predict(loaded.model, batch).cpu().tolist()
            for paths, row in zip(chunk, probs):
                write({"image": paths[0] if len(paths) == 1 else paths,
                       "probabilities": {n: round(float(p), 6) for n, p in zip(names, row)},
                       "positive": [n for n, p in zip(names, row) if p >= threshold]})
    return 0
