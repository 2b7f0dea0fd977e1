"""`dtlsproxy view` (placeholder until its issue lands)."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_parser(sub: Any) -> None:
    """Register `view`."""
    sub.add_parser("view", help="(not yet available)")


def main(args: argparse.Namespace) -> int:
    """Not yet available."""
    print("dtlsproxy view: not yet available", file=sys.stderr)
    return 2
