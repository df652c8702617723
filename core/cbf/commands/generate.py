"""Generate radiology reports for images with a run fine-tuned for report generation (head ``rrg``).

Each IMAGE is one study (one view); ``--study a.png,b.png`` is one study with several views (up
to the model's max views). PNG, JPG and DICOM are read. Writes JSONL, one line per study, with
``image`` (the path, or the list of paths of a multi-view study) and ``report``. Decoding options
default to those of the run's head (the paper: beam 5). ``--no-kv-cache`` runs the uncached
decoder, which gives the same reports, slower (for checks).
"""
from __future__ import annotations

import argparse

from cbf.inference import (add_run_arguments, add_study_arguments, check_files, jsonl_writer, progress,
                           studies_from_args, study_batches)
from cbf.errors import DataError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_study_arguments(parser)
    parser.add_argument("--beam", type=int, metavar="N", help="beam size (1 = greedy)")
    parser.add_argument("--max-len", type=int, metavar="N", help="most words per report")
    parser.add_argument("--min-len", type=int, metavar="N", help="fewest words per report")
    parser.add_argument("--length-penalty", type=float, metavar="X",
                        help="rank finished reports by log-prob / length**X")
    parser.add_argument("--no-repeat-ngram", type=int, metavar="N", help="block repeated n-grams of this size")
    parser.add_argument("--no-kv-cache", action="store_true", help="recompute every step (same output, slower)")
    add_run_arguments(parser, batch_size=8, batch_help="studies decoded together")


def main(args: argparse.Namespace) -> int:
    from cbf.inference import images_to_batch, load_for_inference

    studies = studies_from_args(args)
    check_files(studies)
    loaded = load_for_inference(args.checkpoint, device=args.device, task="generation")
    head, tok = loaded.head, loaded.tokenizer
    options = {"beam_size": args.beam, "max_length": args.max_len, "min_length": args.min_len,
               "length_penalty": args.length_penalty, "no_repeat_ngram_size": args.no_repeat_ngram}
    try:
        head.config.beam_options(**options).validate()
    except ValueError as exc:
        raise DataError(f"decoding options: {exc}") from exc
    with jsonl_writer(args.out) as write:
        for chunk in progress(study_batches(studies, args.batch_size), len(studies), args.batch_size,
                              "generating", args.no_progress):
            batch = images_to_batch(chunk, loaded.image_size, loaded.max_views)
            reports = head.generate(loaded.model, batch, tok, use_cache=not args.no_kv_cache, **options)
            for paths, ids in zip(chunk, reports):
                write({"image": paths[0] if len(paths) == 1 else paths, "report": tok.decode(ids)})
    return 0
