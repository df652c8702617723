"""Shared fixtures. Tests that need the real data in ``../shared/data`` get it through one
setting, ``CBF_TEST_DATA``: unset, they skip with a reason (a user's fresh clone); set to a
folder that does not exist, they fail (CI sets it and must never skip them)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    value = os.environ.get("CBF_TEST_DATA")
    if not value:
        pytest.skip("CBF_TEST_DATA is not set (point it at the shared data folder to run this test)")
    path = Path(value)
    if not path.is_dir():
        pytest.fail(f"CBF_TEST_DATA={value!r} is not a folder")
    return path


@pytest.fixture(autouse=True)
def _seed_and_threads():
    import torch

    torch.manual_seed(0)
    yield
