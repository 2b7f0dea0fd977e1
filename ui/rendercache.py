"""Right-size a DataTable's render caches to what the screen shows.

Textual's DataTable keys its render caches by the table's update count, so one
cell update makes every cached render stale; the default sizes (10,000 cells,
1,000 rows and lines) then hold thousands of dead renders (lists of segments)
that every full garbage collection scans: on a busy relay the ladder's caches
alone made full collections take 80-150 ms. Two screens' worth is enough to
paint and scroll.
"""

from __future__ import annotations

from typing import Any

from textual.widgets import DataTable


def fit_render_caches(table: DataTable[Any], rows: int) -> None:
    """Size the caches for ``rows`` visible rows of ``table`` (twice that, kept)."""
    rows = max(8, rows)
    columns = max(8, len(table.columns))  # columns may not be added yet
    for cache, size in (("_cell_render_cache", 2 * rows * columns),
                        ("_row_render_cache", 2 * rows),
                        ("_row_renderable_cache", 2 * rows),
                        ("_line_cache", 2 * rows)):
        lru = getattr(table, cache, None)  # private: a Textual without it is left alone
        if lru is not None and hasattr(lru, "maxsize"):
            lru.maxsize = size
            if len(lru) > size:
                lru.clear()  # the cache drops one old entry per new one, never more
