"""Opening the text files that dataset plugins read, with errors that name the file."""
from __future__ import annotations

import gzip
import io
import json
from pathlib import Path
from typing import Any

from cbf.errors import DataError


def open_text(path: Path) -> io.TextIOBase:
    """A UTF-8 text handle (csv-ready: ``newline=""``) on a plain or gzip'd file, chosen by the
    ``.gz`` suffix; DataError when the file is missing."""
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return path.open("r", encoding="utf-8", newline="")


def read_json_object(path: Path, expected: str) -> dict[str, Any]:
    """A JSON file whose top level must be an object; DataError naming the file when it is
    missing, not JSON, or not an object (``expected`` says what it should hold)."""
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected {expected}")
    return data


__all__ = ["open_text", "read_json_object"]
