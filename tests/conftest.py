"""Shared fixtures: paths to the shared captures and the system-peer gate."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
CAPTURES = SHARED / "captures"
pytest_plugins = ["tests.peers.fixtures"]

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_tool(name: str) -> str:
    """Path of a system peer (openssl, gnutls-cli, tshark, janus...).

    Skips with a clear reason on a developer laptop; under ``CI=true`` a missing
    peer is a failure, never a skip.
    """
    path = shutil.which(name)
    if path is None:
        msg = f"system peer {name!r} not installed (scripts/setup.sh installs it)"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)
    return path


@pytest.fixture(scope="session")
def captures_dir() -> Path:
    """``../shared/captures`` (read-only)."""
    if not CAPTURES.is_dir():
        msg = f"shared captures not found at {CAPTURES}"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)
    return CAPTURES
