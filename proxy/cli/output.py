"""Opening an output file (``-o``): created 0600, never through a symlink."""

from __future__ import annotations

import os
from typing import IO


def open_output(path: str) -> IO[str]:
    """``path`` for writing text (truncated if it exists): a new file is 0600 (reports
    and logs can tell more than their author means to share), and a symlink at ``path``
    is refused (OSError ELOOP) rather than followed."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC,
                 0o600)
    return open(fd, "w", encoding="utf-8")
