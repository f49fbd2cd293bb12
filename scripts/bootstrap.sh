#!/usr/bin/env bash
# Create .venv (if missing) and install the package with its development extras into it.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[dev]'
# the test-only components (entry point discovery is part of what the tests prove)
.venv/bin/python -m pip install --quiet -e testing/testkit
# Azurite (blob storage emulator) for the artifact-upload tests
if [ ! -x node_modules/.bin/azurite-blob ]; then
  command -v npm >/dev/null || { echo "bootstrap: npm is needed for Azurite (apt-get install npm)" >&2; exit 1; }
  npm install --no-save --no-audit --no-fund --silent azurite@3.35.0
fi
