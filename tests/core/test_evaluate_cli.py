"""`cbf evaluate`: input errors name file and line; stdout and --out hold the same JSON."""
from __future__ import annotations

import json
import textwrap

import pytest

from cbf.cli import main

GOOD = [
    {"id": "s1", "prediction": "The heart is normal. No effusion.", "reference": "Heart normal. No effusion."},
    {"id": "s2", "prediction": "Cardiomegaly.", "reference": "The heart is enlarged."},
]


def _write(path, lines: list[str]):
    path.write_text("\n".join(lines) + "\n")
    return path


def _good_lines() -> list[str]:
    return [json.dumps(r) for r in GOOD]


@pytest.mark.parametrize("bad_line, message", [
    ('{"id": "s3", "prediction": "x"', "not valid JSON"),
    ('["s3", "x", "y"]', "expected a JSON object"),
    ('{"id": "s3", "prediction": "x"}', "missing key(s) reference"),
    ('{"id": "s3", "prediction": 3, "reference": "y"}', "'prediction' must be a string"),
    ('{"id": "s1", "prediction": "x", "reference": "y"}', "duplicate id 's1' (first on line 1)"),
])
def test_bad_line_is_named(tmp_path, capsys, bad_line, message):
    path = _write(tmp_path / "pred.jsonl", _good_lines() + ["", bad_line])  # blank line 3 is skipped
    assert main(["evaluate", str(path), "--no-meteor", "--no-ce"]) == 1
    err = capsys.readouterr().err
    assert f"{path}:4: " in err and message in err
    assert "Traceback" not in err


def test_missing_and_empty_files(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path / "nope.jsonl"), "--no-meteor", "--no-ce"]) == 1
    assert "nope.jsonl: predictions file not found" in capsys.readouterr().err
    empty = _write(tmp_path / "empty.jsonl", [""])
    assert main(["evaluate", str(empty), "--no-meteor", "--no-ce"]) == 1
    assert "no predictions" in capsys.readouterr().err


@pytest.fixture
def fake_labeler(tmp_path, monkeypatch) -> str:
    """A labeler installed as a throwaway distribution, found by the registry by name."""
    root = tmp_path / "site"
    root.mkdir()
    (root / "evaluate_cli_labeler.py").write_text(textwrap.dedent("""
        import math
        from cbf.api import Labeler

        class KeywordLabeler(Labeler):
            name = "keyword-test-labeler"

            def label(self, report):
                text = report.lower()
                row = [math.nan] * 14
                row[2] = 1.0 if ("cardiomegaly" in text or "enlarged" in text) else math.nan
                return row
        """))
    dist = root / "evaluate_cli_labeler-0.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: evaluate-cli-labeler\nVersion: 0.0\n")
    (dist / "entry_points.txt").write_text(
        "[cbf.annotators]\nevaluate_cli_labeler = evaluate_cli_labeler:KeywordLabeler\n")
    monkeypatch.syspath_prepend(str(root))
    return "evaluate_cli_labeler"


def test_out_writes_the_printed_json(tmp_path, capsys, fake_labeler):
    path = _write(tmp_path / "pred.jsonl", _good_lines())
    out = tmp_path / "results" / "metrics.json"
    assert main(["evaluate", str(path), "--no-meteor", "--labeler", fake_labeler, "--out", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out)  # stdout is exactly one JSON object
    written = json.loads(out.read_text())
    assert printed == written
    keys = list(written)
    assert keys[:6] == ["BLEU_1", "BLEU_2", "BLEU_3", "BLEU_4", "ROUGE_L", "CIDEr"]
    assert keys[6] == "CE_micro_precision"
    assert keys[-5:] == ["n", "tokenization", "labeler", "meteor", "file"]
    assert written["labeler"] == "keyword-test-labeler" and written["n"] == 2
    assert written["tokenization"] == "r2gen-iu" and written["meteor"] is False
    # s2: both sides Cardiomegaly-positive; s1: neither → micro P = R = 1, example F1 = 1
    assert written["CE_micro_f1"] == 1.0 and written["CE_example_f1"] == 1.0
    assert written["CE_support_Cardiomegaly"] == 1.0


def test_exclude_no_finding_and_no_ce(tmp_path, capsys, fake_labeler):
    path = _write(tmp_path / "pred.jsonl", _good_lines())
    assert main(["evaluate", str(path), "--no-meteor", "--labeler", fake_labeler, "--exclude-no-finding"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert "CE_f1_No_Finding" not in got and "CE_f1_Cardiomegaly" in got
    assert main(["evaluate", str(path), "--no-meteor", "--no-ce"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["labeler"] is None and not any(k.startswith("CE_") for k in got)


def test_unknown_labeler_is_a_clear_error(tmp_path, capsys):
    path = _write(tmp_path / "pred.jsonl", _good_lines())
    assert main(["evaluate", str(path), "--no-meteor", "--labeler", "no_such_labeler"]) == 1
    assert "unknown annotators plugin 'no_such_labeler'" in capsys.readouterr().err
