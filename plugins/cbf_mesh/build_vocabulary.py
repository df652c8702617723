"""How the headings of ``data/mesh_chest.tsv`` were chosen: count the human MeSH ``<major>``
annotations of the IU X-ray reports, and check which ones the vocabulary covers.

    python -m cbf_mesh.build_vocabulary [NLMCXR_reports.tgz] [--min-count N]

Without a path it reads the copy shipped inside the installed ``torchxrayvision`` wheel.
The vocabulary file itself is hand-curated (entry terms, inflections); this only shows the
frequencies it was built from and flags headings or qualifiers that it lacks.
"""
from __future__ import annotations

import argparse
import tarfile
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Iterator

from cbf.errors import DataError

#: IU annotation codes that are not MeSH headings.
NOT_HEADINGS = frozenset({"normal", "no indexing"})


@dataclass
class IUReport:
    """One Open-i IU report: the text sections the recipes use, and its human MeSH terms."""

    name: str  # "ecgen-radiology/N.xml"
    findings: str
    impression: str
    majors: list[str] = field(default_factory=list)
    #: terms that NLM's Medical Text Indexer (MTI) found in the text, same "heading/qualifier" form
    automatic: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        """Findings + impression, as the report-generation papers use them."""
        return " ".join(s for s in (self.findings, self.impression) if s).strip()


def split_major(major: str) -> tuple[str, list[str]]:
    """``"Pleural Effusion/left/mild"`` → ``("Pleural Effusion", ["left", "mild"])``."""
    parts = [p.strip() for p in major.split("/")]
    return parts[0], [p for p in parts[1:] if p]


def default_archive() -> Path:
    return Path(str(resources.files("torchxrayvision") / "data" / "NLMCXR_reports.tgz"))


def iter_reports(archive: str | Path | None = None) -> Iterator[IUReport]:
    """Every ``ecgen-radiology/*.xml`` in the Open-i archive, in archive order."""
    path = Path(archive) if archive else default_archive()
    if not path.is_file():
        raise DataError(f"{path}: IU reports archive not found")
    with tarfile.open(path, "r:gz") as tar:
        for member in tar:
            if not (member.isfile() and member.name.endswith(".xml")):
                continue
            raw = tar.extractfile(member)
            assert raw is not None
            try:
                root = ET.parse(raw).getroot()
            except ET.ParseError as exc:
                raise DataError(f"{path}:{member.name}: malformed XML ({exc})") from exc
            sections = {a.get("Label"): (a.text or "").strip() for a in root.iter("AbstractText")}
            majors = [m.text.strip() for m in root.iter("major") if m.text and m.text.strip()]
            automatic = [m.text.strip() for m in root.iter("automatic") if m.text and m.text.strip()]
            yield IUReport(member.name, sections.get("FINDINGS", ""), sections.get("IMPRESSION", ""),
                           majors, automatic)


def main(argv: list[str] | None = None) -> None:
    from cbf_mesh.vocabulary import load_vocabulary, words_of

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("archive", nargs="?", help="NLMCXR_reports.tgz (default: torchxrayvision's)")
    ap.add_argument("--min-count", type=int, default=1, help="show headings seen at least N times")
    args = ap.parse_args(argv)

    headings: Counter[str] = Counter()
    qualifiers: Counter[str] = Counter()
    n = 0
    for report in iter_reports(args.archive):
        n += 1
        for major in report.majors:
            heading, quals = split_major(major)
            headings[heading] += 1
            qualifiers.update(q.lower() for q in quals)
    vocab = load_vocabulary()
    known = {words_of(h) for h in vocab.headings} | {words_of(h) for h in NOT_HEADINGS}
    taggable = vocab.taggable_words()
    print(f"{n} reports, {sum(headings.values())} major annotations, {len(headings)} distinct headings\n")
    print(f"{'count':>6}  heading  (* = not in the vocabulary)")
    for heading, count in headings.most_common():
        if count >= args.min_count:
            flag = "" if words_of(heading) in known else "  *"
            print(f"{count:>6}  {heading}{flag}")
    print(f"\n{'count':>6}  qualifier  (- = none of its words can be tagged)")
    for qual, count in qualifiers.most_common():
        if count >= args.min_count:
            flag = "" if any(w in taggable for w in words_of(qual)) else "  -"
            print(f"{count:>6}  {qual}{flag}")


if __name__ == "__main__":
    main()
