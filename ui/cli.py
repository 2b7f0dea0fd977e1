"""The ``dtlsproxy`` console script: :func:`proxy.cli.main.main` with the Textual UI plugged in.

The UI is the top layer: it depends on ``proxy``, and hands ``proxy`` this
implementation of :class:`proxy.cli.tui.Tui`, so ``proxy`` never imports ``ui``.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from proxy.cli import main as cli

if TYPE_CHECKING:  # imported where used: `dtlsproxy analyze` starts without asyncio
    import asyncio

    from proxy.bus import Subscription
    from proxy.events import Event


class TextualTui:
    """:class:`proxy.cli.tui.Tui` on :class:`ui.app.DtlsProxyApp`."""

    async def live(
        self, sub: Subscription, header: Mapping[str, str], stop: asyncio.Event
    ) -> None:
        """Run the app on the caller's loop until ``q`` or ``stop``."""
        import asyncio

        from ui.app import DtlsProxyApp

        app = DtlsProxyApp(sub, header_info=header)
        app_task = asyncio.create_task(app.run_async())
        stop_task = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({app_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
        if app_task not in done:
            app.exit()
            await app_task
        stop_task.cancel()

    def view(
        self, events: list[Event], header: Mapping[str, str], *, history: int, export_dir: Path
    ) -> None:
        """Run the app on a list of events until ``q``."""
        from ui.app import DtlsProxyApp

        DtlsProxyApp(events=events, header_info=header, history=history,
                     export_dir=export_dir).run()


def main(argv: Sequence[str] | None = None) -> int:
    """:func:`proxy.cli.main.main` with the Textual UI."""
    return cli.main(argv, tui=TextualTui())


def console() -> None:
    """Entry point of the ``dtlsproxy`` console script."""
    cli.exit_after(main(), sys.argv[1:])


if __name__ == "__main__":
    console()
