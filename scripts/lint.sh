#!/usr/bin/env bash
# Lint the code, the action metadata, the workflows and the Dockerfile.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${VENV:-.venv}/bin
"$bin/ruff" check .
"$bin/ruff" format --check .
"$bin/mypy"
"$bin/check-jsonschema" --builtin-schema vendor.github-actions action.yml
"$bin/check-jsonschema" --builtin-schema vendor.github-workflows \
  .github/workflows/*.yml docs/examples/workflows/*.yml
# zizmor reads the repo-root config only; the user examples carry their own policy
"$bin/zizmor" --offline .github/workflows/*.yml
"$bin/zizmor" --offline --config docs/examples/zizmor.yml docs/examples/workflows/*.yml
"$bin/hadolint" Dockerfile
"$bin/shellcheck" scripts/*.sh docker/*.sh .ci/run
echo "lint: ok"
