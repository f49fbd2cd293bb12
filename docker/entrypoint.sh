#!/bin/bash
# The image's entrypoint. GitHub runs a container action with GITHUB_ACTIONS=true and the inputs
# as INPUT_* variables: then this is the action (entrypoint.py → osiris.action). Anywhere else it
# is the osiris CLI. A first argument "osiris" always means the CLI, so `docker run IMAGE osiris
# run x.yaml` and a workflow's `uses: docker://IMAGE` with `args: osiris ...` both work.
# bash, not sh: GitHub passes inputs with a dash in their name as such (INPUT_BASE-REF), and
# Debian's sh (dash) drops variables whose names are not shell names before it runs anything.
set -eu
if [ "${1:-}" = "osiris" ]; then
    shift
    exec /opt/osiris/bin/osiris "$@"
fi
if [ "${GITHUB_ACTIONS:-}" = "true" ]; then
    exec /opt/osiris/bin/python /app/entrypoint.py "$@"
fi
exec /opt/osiris/bin/osiris "$@"
