"""``python -m proxy.cli``: the command line without the Textual UI (headless)."""

import sys

from proxy.cli.main import exit_after, main

exit_after(main(), sys.argv[1:])
