"""The command line: :mod:`proxy.cli.main` and one module per subcommand; the Tui port."""
