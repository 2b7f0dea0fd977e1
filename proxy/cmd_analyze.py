"""`dtlsproxy analyze` (placeholder until its issue lands)."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_parser(sub: Any) -> None:
    """Register `analyze`."""
    sub.add_parser("analyze", help="(not yet available)")


def main(args: argparse.Namespace) -> int:
    """Not yet available."""
    print("dtlsproxy analyze: not yet available", file=sys.stderr)
    return 2
