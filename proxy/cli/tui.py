"""The port through which the command line shows a terminal UI.

``proxy`` never imports the UI (the UI is the top layer and depends on ``proxy``,
never the reverse). The ``dtlsproxy`` console script is ``ui.cli:console``, which hands
an implementation of :class:`Tui` to :func:`proxy.cli.main.main`; ``python -m proxy``
has none and runs headless.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # not imported at run time: `dtlsproxy analyze` starts without asyncio
    import asyncio

    from proxy.bus import Subscription
    from proxy.events import Event


class Tui(Protocol):
    """A terminal UI for the live relay/demo and for reopened logs."""

    async def live(
        self, sub: Subscription, header: Mapping[str, str], stop: asyncio.Event
    ) -> None:
        """Show the events of ``sub`` until the user quits or ``stop`` is set."""

    def view(
        self, events: list[Event], header: Mapping[str, str], *, history: int, export_dir: Path
    ) -> None:
        """Show a list of events (a reopened log) until the user quits."""
