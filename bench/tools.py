"""The tools the benchmark runs, each as: command, environment, target table, how to reset it.

Peers live in venvs that bench/setup_peers.sh creates under /tmp; a tool whose executable is
missing is reported and skipped, never silently dropped.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
MY_URL = "mysql://bench:bench-secret@127.0.0.1:3306/bench"
PG_URL = "postgresql://postgres@127.0.0.1:5432/bench"


def _osiris() -> str:
    """BENCH_OSIRIS, else the `osiris` next to this interpreter, else the one on PATH."""
    beside = Path(sys.executable).with_name("osiris")
    return os.environ.get("BENCH_OSIRIS") or (
        str(beside) if beside.exists() else shutil.which("osiris") or "osiris"
    )


OSIRIS = _osiris()
VENV_PY = "/tmp/venv-py/bin/python"
VENV_DLT = "/tmp/venv-dlt/bin/python"
SLING = "/tmp/venv-sling14/lib/python3.11/site-packages/sling_linux_amd64/bin/sling-linux-amd64"
PANDAS_ROWS = 100_000

# The typed target of the raw pipe and the baseline: what bench.events maps to, without a
# primary key (as in the peer anchors), `attrs` as text.
TYPED_DDL = (
    "CREATE TABLE {t} (id bigint NOT NULL, user_id integer NOT NULL, event_type varchar(64) "
    "NOT NULL, url varchar(255), amount numeric(12,2) NOT NULL, score double precision NOT NULL, "
    "created_at timestamp NOT NULL, event_date date NOT NULL, is_active boolean NOT NULL, "
    "payload text NOT NULL, attrs text)"
)
COLUMNS = "id,user_id,event_type,url,amount,score,created_at,event_date,is_active,payload,attrs"


@dataclass
class Tool:
    name: str
    title: str
    cmd: list[str]
    target: str  # schema.table in Postgres
    reset_sql: list[str]
    needs: list[str]  # files that must exist
    env: dict[str, str] = field(default_factory=dict)
    reset_dirs: list[str] = field(default_factory=list)
    rows: int | None = None  # rows copied when not the whole table (pandas)
    note: str = ""

    def missing(self) -> list[str]:
        return [n for n in self.needs if not (Path(n).exists() or shutil.which(n))]


def _base_env() -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env


def _drop(table: str) -> str:
    return f"DROP TABLE IF EXISTS {table}"


def all_tools(source: str, logs_dir: Path, osiris_params: list[str]) -> dict[str, Tool]:
    env = _base_env()
    pipelines = BENCH / "pipelines"

    def osiris(
        name: str, pipeline: str, target: str, title: str, *, typed: bool = False, note: str = ""
    ) -> Tool:
        """`typed`: the target is TYPED_DDL, made by run.py (the pipeline appends to it)."""
        table = f"public.{target}"
        return Tool(
            name=name,
            title=title,
            cmd=[
                OSIRIS,
                "run",
                str(pipelines / pipeline),
                "--logs-dir",
                str(logs_dir / name),
                "--param",
                f"source_table={source}",
                "--param",
                f"target_table={target}",
                "--quiet",
                *(arg for p in osiris_params for arg in ("--param", p)),
            ],
            target=table,
            reset_sql=[_drop(table), *([TYPED_DDL.format(t=table)] if typed else [])],
            needs=[OSIRIS],
            env=env,
            reset_dirs=[str(logs_dir / name)],
            note=note,
        )

    select = f"SELECT {COLUMNS} FROM bench.{source}"
    mariadb = (
        "mariadb -h127.0.0.1 -P3306 -ubench -pbench-secret --quick --batch --skip-column-names "
        "--default-character-set=utf8mb4"
    )
    psql = "psql -h 127.0.0.1 -U postgres -d bench -X -q -v ON_ERROR_STOP=1"
    tools = [
        osiris(
            "osiris",
            "mysql_to_postgres.yaml",
            "events_osiris",
            "osiris: mysql.extractor → postgres.writer",
        ),
        osiris(
            "osiris_typed",
            "mysql_to_postgres_append.yaml",
            "events_osiris_typed",
            "osiris: the same two steps, appending to the baseline's table",
            typed=True,
            note="typed DDL made by run.py (no PK, attrs text): the baseline's work, for the "
            "cost of jsonb and the key",
        ),
        osiris(
            "osiris_duckdb",
            "mysql_duckdb_postgres.yaml",
            "events_osiris_duckdb",
            "osiris: mysql.extractor → duckdb.processor → postgres.writer",
        ),
        Tool(
            name="raw_pipe",
            title="raw pipe: mariadb --batch \\| psql \\copy (text)",
            cmd=[
                "bash",
                "-o",
                "pipefail",
                "-c",
                f"{mariadb} -e '{select}' | {psql} -c "
                "\"\\copy public.events_raw FROM STDIN WITH (FORMAT text, NULL 'NULL')\"",
            ],
            target="public.events_raw",
            reset_sql=[_drop("public.events_raw"), TYPED_DDL.format(t="public.events_raw")],
            needs=["mariadb", "psql"],
            env=env,
            note="typed DDL made by run.py (no PK, attrs text); the word NULL would become NULL",
        ),
        Tool(
            name="baseline",
            title="baseline: connectorx → ADBC adbc_ingest (binary COPY), 20 lines of Python",
            cmd=[
                VENV_PY,
                str(BENCH / "peers" / "baseline.py"),
                "--my",
                MY_URL,
                "--pg",
                PG_URL,
                "--source",
                source,
                "--target",
                "events_baseline",
            ],
            target="public.events_baseline",
            reset_sql=[
                _drop("public.events_baseline"),
                TYPED_DDL.format(t="public.events_baseline"),
            ],
            needs=[VENV_PY],
            env=env,
            note="typed DDL made by run.py (no PK, attrs text)",
        ),
        Tool(
            name="sling",
            title="sling 1.4.11 run --mode full-refresh",
            cmd=[
                SLING,
                "run",
                "--src-conn",
                "MYSQL",
                "--src-stream",
                f"bench.{source}",
                "--tgt-conn",
                "PG",
                "--tgt-object",
                "public.events_sling",
                "--mode",
                "full-refresh",
            ],
            target="public.events_sling",
            reset_sql=[_drop("public.events_sling"), _drop("public.events_sling_tmp")],
            needs=[SLING],
            env={
                **env,
                "MYSQL": MY_URL,
                "PG": PG_URL + "?sslmode=disable",
                "SLING_HOME_DIR": "/tmp/sling_home",
                "SLING_DISABLE_TELEMETRY": "true",
                "SLING_CLI_SKIP_UPDATE": "true",
            },
        ),
        Tool(
            name="dlt",
            title="dlt 1.31 sql_table backend=pyarrow → postgres, replace",
            cmd=[
                VENV_DLT,
                str(BENCH / "peers" / "dlt_run.py"),
                "--my",
                MY_URL.replace("mysql://", "mysql+pymysql://"),
                "--pg",
                PG_URL.replace("postgres@", "postgres:unused@"),
                "--source",
                source,
                "--dataset",
                "dlt_bench",
                "--pipelines-dir",
                "/tmp/dlt_pipelines",
            ],
            target=f"dlt_bench.{source}",
            reset_sql=[
                "DROP SCHEMA IF EXISTS dlt_bench CASCADE",
                "DROP SCHEMA IF EXISTS dlt_bench_staging CASCADE",
            ],
            needs=[VENV_DLT],
            env=env,
            reset_dirs=["/tmp/dlt_pipelines/bench_dlt_bench"],
        ),
        Tool(
            name="pandas",
            title=f"pandas naive read_sql → to_sql(multi), {PANDAS_ROWS:,} rows, scaled",
            cmd=[
                VENV_PY,
                str(BENCH / "peers" / "pandas_naive.py"),
                "--my",
                MY_URL.replace("mysql://", "mysql+pymysql://"),
                "--pg",
                PG_URL.replace("postgresql://", "postgresql+psycopg2://"),
                "--source",
                source,
                "--target",
                "events_pandas",
                "--limit",
                str(PANDAS_ROWS),
            ],
            target="public.events_pandas",
            reset_sql=[_drop("public.events_pandas")],
            needs=[VENV_PY],
            env=env,
            rows=PANDAS_ROWS,
        ),
    ]
    return {t.name: t for t in tools}
