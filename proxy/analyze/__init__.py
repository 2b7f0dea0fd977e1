"""Offline analysis of a capture: the pipeline through the Tracker, the process split of
``--jobs``, and the text ladder."""
