"""`dtlsproxy run` (placeholder until its issue lands)."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_parser(sub: Any) -> None:
    """Register `run`."""
    sub.add_parser("run", help="(not yet available)")


def main(args: argparse.Namespace) -> int:
    """Not yet available."""
    print("dtlsproxy run: not yet available", file=sys.stderr)
    return 2
