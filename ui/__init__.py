"""The Textual TUI: a subscriber of proxy events. Never touches sockets or parsing."""
