#!/usr/bin/env bash
# Set up (scripts/setup.sh, Python part only) and run the live demo in the TUI.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --no-system
exec .venv/bin/dtlsproxy demo "$@"
