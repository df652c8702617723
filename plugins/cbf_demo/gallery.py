"""A picture for humans: a PNG grid of demo phantoms (synthetic images) with their findings,
and an HTML page showing the grid beside the reports they were drawn from.

    python -m cbf_demo.gallery --out runs/demo-gallery [--n 12] [--size 128] [--seed 0]

One study per showcased sign kind (the first one is normal); the pixels are exactly those the dataset caches for the same seed and size.
"""
from __future__ import annotations

import argparse
import html
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from cbf.data.openi import OpenIReport, openi_archive_from_torchxrayvision, read_openi_tgz
from cbf_demo.dataset import _sign_label, report_text, study_seed
from cbf_demo.findings import signs_from_mesh
from cbf_demo.phantom import render_study


#: One study per kind, in this order, for the gallery (the first is a normal study).
SHOWCASE = ("cardiomegaly", "effusion", "opacity", "atelectasis", "pneumothorax", "pacemaker",
            "catheter", "granuloma", "nodule", "hyperinflation", "edema", "scoliosis", "mass",
            "hypoinflation", "hiatal_hernia", "fracture", "clips", "tube")


def pick_studies(reports: list[OpenIReport], n: int) -> list[OpenIReport]:
    """A normal study, then for each showcased kind the study that shows it with the fewest
    other signs (ties: lowest report number), so each tile is easy to read."""
    usable = [r for r in reports if report_text(r)]
    kinds = {r.uid: [s.kind for s in signs_from_mesh(r.mesh_major)] for r in usable}
    chosen = [next(r for r in usable if r.mesh_major == ["normal"])]
    for kind in SHOWCASE:
        if len(chosen) >= n:
            break
        having = [r for r in usable if kind in kinds[r.uid] and r not in chosen]
        if having:
            chosen.append(min(having, key=lambda r: (len(kinds[r.uid]), r.number)))
    return chosen


def _wrap(text: str, width: int) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return lines + ([line] if line else [])


def gallery_image(reports: list[OpenIReport], size: int, seed: int, cols: int = 4) -> Image.Image:
    """The labelled grid: per study, frontal | lateral, then its id and drawn signs."""
    label_h, pad = 40, 6
    tile_w, tile_h = 2 * size + 2, size + label_h
    rows = (len(reports) + cols - 1) // cols
    img = Image.new("L", (cols * (tile_w + pad), rows * (tile_h + pad) + 14), 24)
    draw = ImageDraw.Draw(img)
    draw.text((4, rows * (tile_h + pad)), "synthetic images (phantoms), not radiographs; "
              "labels = signs drawn from the human MeSH headings", fill=160)
    for i, report in enumerate(reports):
        frontal, lateral = render_study(signs_from_mesh(report.mesh_major),
                                        np.random.default_rng(study_seed(report.uid, seed)), size)
        x, y = (i % cols) * (tile_w + pad), (i // cols) * (tile_h + pad)
        img.paste(Image.fromarray(frontal), (x, y))
        img.paste(Image.fromarray(lateral), (x + size + 2, y))
        signs = ", ".join(_sign_label(s) for s in signs_from_mesh(report.mesh_major)) or "normal"
        for j, text in enumerate([report.uid] + _wrap(signs, tile_w // 6)[:2]):
            draw.text((x + 2, y + size + 2 + 12 * j), text, fill=235 if j else 255)
    return img


def write_gallery(out: Path, n: int = 12, size: int = 128, seed: int = 0,
                  archive: Path | None = None) -> tuple[Path, Path]:
    """Write ``demo_phantoms.png`` and ``index.html`` into ``out``; returns both paths."""
    out.mkdir(parents=True, exist_ok=True)
    reports = pick_studies(read_openi_tgz(archive or openi_archive_from_torchxrayvision()), n)
    png = out / "demo_phantoms.png"
    gallery_image(reports, size, seed).save(png, optimize=True)
    rows = "\n".join(
        f"<tr><td>{html.escape(r.uid)}</td><td>{html.escape('; '.join(r.mesh_major))}</td>"
        f"<td>{html.escape(report_text(r))}</td></tr>" for r in reports)
    page = out / "index.html"
    page.write_text(f"""<!doctype html><meta charset="utf-8"><title>cbf demo: synthetic phantoms</title>
<h1>cbf demo dataset: synthetic images</h1>
<p>Real IU X-Ray reports (Open-i) paired with <b>synthetic phantom images</b> drawn from each
report's human MeSH headings; they are not radiographs. Seed {seed}, {size} px.</p>
<img src="{png.name}" alt="synthetic phantom grid">
<table border="1" cellpadding="4"><tr><th>id</th><th>MeSH (human)</th><th>report</th></tr>
{rows}
</table>
""")
    return png, page


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m cbf_demo.gallery", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("runs/demo-gallery"))
    parser.add_argument("--n", type=int, default=12)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--archive", type=Path, default=None, help="an Open-i NLMCXR_reports.tgz")
    args = parser.parse_args(argv)
    png, page = write_gallery(args.out, args.n, args.size, args.seed, args.archive)
    print(f"wrote {png} and {page}")


if __name__ == "__main__":
    main()
