#!/bin/sh
# Make the image's virtual environment smaller without changing what it can do; the Dockerfile
# runs it in the builder stage, after the dependencies are installed:
#
#   sh slim.sh /opt/osiris
#
# 1. Strips the shared libraries (`strip --strip-unneeded`, from binutils, which only the builder
#    stage has). Only ELF files are touched; the dynamic symbols and the unwind tables (.eh_frame,
#    needed for C++ exceptions and Rust panics) stay.
# 2. Removes what no import reads: the packages' test suites, C/C++/Cython sources and headers.
# 3. Removes pyarrow's Arrow Flight (RPC) and S3 filesystem modules and their libraries: osiris
#    reads and writes local files and databases, and pyarrow reports the two as not built
#    (`import pyarrow.flight` raises ImportError, `pyarrow.fs` has no S3FileSystem).
#    libarrow_python's unversioned and fully versioned copies become links to the one the
#    modules load.
# 4. Ships the packages' Python modules as their compiled .pyc alone: the .pyc that pip compiled
#    at install time moves next to where its source was (`mod.py` -> `mod.pyc`, which Python
#    imports when there is no source) and the source goes. What reads sources at runtime keeps
#    them: a package that calls `inspect.getsource` and friends (anyio builds its lazy imports
#    from its own source), and a module whose file name its package spells out in a string (the
#    ADBC drivers read their version from `_static_version.py`).
#    Tracebacks through the others name the file and line but cannot show the line's text.
# 5. Checks that every runtime dependency still imports and works a little.
#
# pip (compiled like the rest) and the packages' metadata stay: `pip check` and `pip install` in
# derived images work as before, and `pip install --force-reinstall --no-deps PACKAGE` brings a
# package's sources back.
set -eu
venv=$1
site=$(echo "$venv"/lib/python3*/site-packages)
[ -d "$site" ] || { echo "slim.sh: no site-packages under $venv" >&2; exit 1; }
before=$(du -sk "$venv" | cut -f1)

# 1. strip: ELF shared objects only (pyarrow's test data has names such as x.some-index.parquet)
find "$site" -type f \( -name '*.so' -o -name '*.so.*' \) | while IFS= read -r file; do
    if [ "$(head -c 4 "$file" | od -An -c | tr -d ' ')" = '177ELF' ]; then
        strip --strip-unneeded "$file"
    fi
done

# 2. tests, sources, headers
find "$site" -depth -type d -name tests -exec rm -rf {} +
find "$site" -type f \( -name '*.pyx' -o -name '*.pxd' -o -name '*.pxi' -o -name '*.h' \
    -o -name '*.hpp' -o -name '*.cc' -o -name '*.cpp' -o -name '*.a' \) -delete

# 3. pyarrow
pa=$site/pyarrow
if [ -d "$pa" ]; then
    rm -rf "$pa/include" "$pa/includes" "$pa/src"
    rm -f "$pa"/_pyarrow_cpp_tests.*.so \
        "$pa"/_flight.*.so "$pa"/libarrow_flight.so.* "$pa"/libarrow_python_flight.so* \
        "$pa"/_s3fs.*.so "$pa"/libarrow_s3.so.*
    # libX.so and libX.so.MAJOR.MINOR.PATCH are copies of libX.so.MAJOR (wheels have no links)
    for lib in "$pa"/libarrow_python*.so; do
        [ -f "$lib" ] || continue
        for soname in "$lib".*; do
            case ${soname#"$lib".} in *.*) continue ;; esac
            for copy in "$lib" "$soname".*; do
                if [ -f "$copy" ] && [ ! -L "$copy" ] && cmp -s "$copy" "$soname"; then
                    ln -sf "${soname##*/}" "$copy"
                fi
            done
        done
    done
fi

# 4. sourceless modules. `osiris` is installed later, with its sources.
tag=$("$venv/bin/python" -c 'import sys; print(sys.implementation.cache_tag)')
keep=$(grep -rlE --include='*.py' 'getsource(lines|file)?\(|findsource\(' "$site" \
    | sed "s|^$site/||; s|/.*||; s|\.py$||" | sort -u)
for top in "$site"/*; do
    name=${top##*/}
    case $name in *.dist-info | *.libs | __pycache__ | osiris) continue ;; esac
    case $name in *.py) ;; *.*) continue ;; esac # data files and .pth at the top stay
    if printf '%s\n' "$keep" | grep -qx "${name%.py}"; then
        echo "slim.sh: ${name%.py} reads its own source; it keeps it"
        continue
    fi
    # file names the package spells out ('_static_version.py'): those modules keep their source
    named=$(grep -rhoE --include='*.py' "[\"'][A-Za-z0-9_]+[.]py[\"']" "$top" | tr -d "\"'" | sort -u)
    # a package's modules, or a top-level module (its .pyc is in the top __pycache__)
    find "$top" -name '*.py' | while IFS= read -r source; do
        compiled="${source%/*}/__pycache__/$(basename "$source" .py).$tag.pyc"
        if printf '%s\n' "$named" | grep -qxF "${source##*/}"; then
            continue
        fi
        if [ -f "$compiled" ]; then
            mv "$compiled" "${source}c"
            rm "$source"
        fi
    done
done
find "$site" -depth -type d -name __pycache__ -empty -delete

# 5. the runtime still imports and works
"$venv/bin/python" - <<'EOF'
import contextlib
import io
import sqlite3
import tempfile

import adbc_driver_manager.dbapi
import adbc_driver_postgresql.dbapi
import anyio
import anyio.abc
import connectorx
import duckdb
import dulwich.objectspec
import dulwich.repo
import e2b
import github_action_utils
import httpx
import jsonschema
import pgpq
import psycopg
import pyarrow as pa
import pyarrow.acero
import pyarrow.compute as pc
import pyarrow.csv
import pyarrow.dataset
import pyarrow.fs
import pyarrow.ipc
import pyarrow.json
import pyarrow.parquet as pq
import pyarrow.substrait
import pydantic
import pymysql
import yaml

assert psycopg.pq.__impl__ == "binary", psycopg.pq.__impl__
# the modules came from sourceless .pyc files, and anyio still resolves its lazy names
assert yaml.__file__.endswith("__init__.pyc"), yaml.__file__
assert anyio.abc.ByteStream and anyio.create_task_group
orders = pa.table({"n": [1, 2, 3], "s": ["a", "b", "c"]})
buffer = io.BytesIO()
pq.write_table(orders, buffer)
assert pq.read_table(io.BytesIO(buffer.getvalue())).equals(orders)
assert pc.sum(orders["n"]).as_py() == 6
try:  # a C++ exception inside libparquet, caught and raised as a Python error
    pq.read_table(io.BytesIO(b"not parquet"))
except pa.ArrowInvalid:
    pass
else:
    raise AssertionError("reading a broken parquet file did not fail")
assert duckdb.sql("select sum(n) as n from orders").fetchall() == [(6,)]
encoder = pgpq.ArrowToPostgresBinaryEncoder(orders.schema)
encoder.write_header()
encoder.write_batch(orders.to_batches()[0])
assert encoder.finish()
with tempfile.TemporaryDirectory() as tmp:  # a real read through connectorx (Rust), into Arrow
    with contextlib.closing(sqlite3.connect(f"{tmp}/t.db")) as db, db:
        db.execute("create table t (n integer, s text)")
        db.executemany("insert into t values (?, ?)", [(1, "a"), (2, "b"), (3, "c")])
    read = connectorx.read_sql(f"sqlite://{tmp}/t.db", "select n, s from t", return_type="arrow")
    assert read.column("n").to_pylist() == [1, 2, 3], read
# the PostgreSQL drivers load their libpq (nothing listens on port 9: refused at once)
for connect in (adbc_driver_postgresql.dbapi.connect, psycopg.connect):
    try:
        connect("postgresql://u:p@127.0.0.1:9/db")
    except (adbc_driver_manager.dbapi.OperationalError, psycopg.OperationalError) as error:
        assert "refused" in str(error), error
    else:
        raise AssertionError(f"{connect.__module__} connected to a closed port")
print("slim.sh: the dependencies import and work")
EOF

after=$(du -sk "$venv" | cut -f1)
echo "slim.sh: $venv from $((before / 1024)) MiB to $((after / 1024)) MiB"
