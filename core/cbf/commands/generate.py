"""Generate radiology reports for images with a run fine-tuned for report generation (head ``rrg``).

Each IMAGE is one study (one view); ``--study a.png,b.png`` is one study with several views (up
to the model's max views). PNG, JPG and DICOM are read. Writes JSONL, one line per study, with
``image`` (the path, or the list of paths of a multi-view study) and ``report``. Decoding options
default to those of the run's head (the paper: beam 5). ``--no-kv-cache`` runs the uncached
decoder, which gives the same reports, slower (for checks).
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
    parser.add_argument("--beam", type=int, metavar="N", help="beam size (1 = greedy)")
    parser.add_argument("--max-len", type=int, metavar="N", help="most words per report")
    parser.add_argument("--min-len", type=int, metavar="N", help="fewest words per report")
    parser.add_argument("--length-penalty", type=float, metavar="X",
                        help="rank finished reports by log-prob / length**X")
    parser.add_argument("--no-repeat-ngram", type=int, metavar="N", help="block repeated n-grams of this size")
    parser.add_argument("--no-kv-cache", action="store_true", help="recompute every step (same output, slower)")
    parser.add_argument("--batch-size", type=int, default=8, metavar="N", help="studies decoded together")
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
