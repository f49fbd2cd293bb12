#!/usr/bin/env bash
# Debian packages some tests need, installed when missing (as root, through apt): PostGIS for
# the installed PostgreSQL (spatial types) and Chromium (report.html drawn by a real browser).
# Without them those tests skip; nothing else depends on them.
set -euo pipefail

wanted=()
pg_version=$(find /etc/postgresql -mindepth 1 -maxdepth 1 -printf "%f\n" 2>/dev/null | sort -V | tail -n 1)
if [ -n "$pg_version" ] && [ ! -f "/usr/share/postgresql/$pg_version/extension/postgis.control" ]; then
  wanted+=("postgresql-$pg_version-postgis-3")
fi
command -v chromium >/dev/null || wanted+=(chromium)
[ ${#wanted[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "system-packages: not installing ${wanted[*]} (needs root and apt); their tests will skip" >&2
  exit 0
fi
echo "system-packages: installing ${wanted[*]}"
DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q \
  --no-install-recommends "${wanted[@]}" >/dev/null \
  || echo "system-packages: could not install ${wanted[*]}; their tests will skip" >&2
