#!/usr/bin/env bash
# Install the peer tools the benchmark runs side by side with osiris, each in its own venv under
# /tmp (nothing here is committed), plus py-spy for profiling. Idempotent: an existing venv whose
# marker import works is kept.
#
#   bash bench/setup_peers.sh
#
# Versions are pinned to the ones measured in docs/benchmarks.md.
set -euo pipefail
PY=${PYTHON:-python3}

venv() {  # venv DIR CHECK-IMPORT PACKAGES...
  local dir=$1 check=$2
  shift 2
  if [[ -x $dir/bin/python ]] && "$dir/bin/python" -c "$check" 2>/dev/null; then
    echo "ok: $dir"
    return
  fi
  echo "installing into $dir: $*"
  "$PY" -m venv "$dir"
  "$dir/bin/pip" install --quiet --upgrade pip
  "$dir/bin/pip" install --quiet "$@"
}

# connectorx -> ADBC baseline, and the naive pandas peer (same interpreter, separate from osiris);
# pgpq and psycopg for bench/experiments/copy_encoders.py.
venv /tmp/venv-py "import connectorx, adbc_driver_postgresql, pandas, sqlalchemy, psycopg2, pgpq, psycopg" \
  'connectorx==0.4.6' 'adbc-driver-postgresql==1.13.0' 'pyarrow==26.0.1' \
  'pandas' 'sqlalchemy' 'psycopg2-binary' 'pymysql' 'pgpq==0.12.0' 'psycopg[binary]'

# dlt 1.31 with the sql_database source (pyarrow backend) and the postgres destination.
venv /tmp/venv-dlt "import dlt, pymysql, pyarrow; assert dlt.__version__.startswith('1.31')" \
  'dlt[postgres,sql_database]==1.31.*' 'pymysql' 'pyarrow'

# sling: `pip install sling` (1.6.x) downloads its Go binary from GitHub on first use, which fails
# without internet access; the last per-platform wheel ships the binary itself.
venv /tmp/venv-sling14 "import sling_linux_amd64" 'sling-linux-amd64==1.4.11'

# profiler (standalone binary; attaches to the osiris processes from outside).
venv /tmp/venv-prof "import os, sys; assert os.path.exists(sys.prefix + '/bin/py-spy')" 'py-spy'

command -v /usr/bin/time >/dev/null || { apt-get update && apt-get install -y time; }
command -v mariadb >/dev/null || { apt-get update && apt-get install -y mariadb-client; }
command -v psql >/dev/null || { apt-get update && apt-get install -y postgresql-client; }
echo "peers ready"
