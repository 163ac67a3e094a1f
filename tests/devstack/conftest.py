"""Fixtures of the devstack tests."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def scratch_dir() -> Iterator[Path]:
    """A fresh directory for server data, under the system temp dir rather than pytest's
    ``tmp_path``: as root, the embedded PostgreSQL runs as another user, who must be
    able to traverse every ancestor, and pytest keeps its own tree private (0700)."""
    path = Path(tempfile.mkdtemp(prefix="pursuit-devstack-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
