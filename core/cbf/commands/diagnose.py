"""Finding probabilities for radiographs with a run fine-tuned for diagnosis (head ``rd``).

Each IMAGE is one study (``--study a.png,b.png`` for several views of one study). PNG, JPG and
DICOM are read. Writes JSONL, one line per study: ``image``, ``probabilities`` ({label: p} in
the head's label order, e.g. the 14 NIH findings) and ``positive`` (labels with p >= the
threshold, the head's 0.5 unless ``--threshold``).
"""
from __future__ import annotations

import argparse

from cbf.inference import (add_run_arguments, add_study_arguments, check_files, jsonl_writer, progress,
                           studies_from_args, study_batches)
from cbf.errors import DataError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_study_arguments(parser)
    parser.add_argument("--threshold", type=float, metavar="P", help="positive from this probability on")
    add_run_arguments(parser, batch_size=16, batch_help="studies per forward pass")


def main(args: argparse.Namespace) -> int:
    from cbf.inference import images_to_batch, load_for_inference

    studies = studies_from_args(args)
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
