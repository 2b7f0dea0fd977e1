"""Comparing handshakes: :mod:`.diff` puts two sessions side by side, message by message
(``dtlsproxy diff``, the TUI's diff pane); :mod:`.changes` groups many sessions by outcome
and shape and says what changed, and since when (``analyze``'s overview, ``run``).

Sans-IO: events in, dataclasses and sentences out.
"""
