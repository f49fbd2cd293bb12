"""The Sakila sample databases (MySQL's original and jOOQ's PostgreSQL port), loaded into fresh
test databases. The SQL lives outside the project, in shared/data/sakila/ (fetched data is
kept there, never committed); OSIRIS_SAKILA_DIR points elsewhere. Tests that need it skip
when it is not there.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from testing import db

DIR = Path(os.environ.get("OSIRIS_SAKILA_DIR") or Path(__file__).parents[2] / "shared/data/sakila")
MYSQL = (DIR / "mysql" / "sakila-schema.sql", DIR / "mysql" / "sakila-data.sql")
POSTGRES = (
    DIR / "postgres" / "postgres-sakila-schema.sql",
    DIR / "postgres" / "postgres-sakila-insert-data-using-copy.sql",
)
# the 16 base tables of MySQL's Sakila (film_text too: it is a table there)
MYSQL_TABLES = [
    "actor", "address", "category", "city", "country", "customer", "film", "film_actor",
    "film_category", "film_text", "inventory", "language", "payment", "rental", "staff", "store",
]  # fmt: skip


def available() -> bool:
    return all(p.is_file() for p in (*MYSQL, *POSTGRES))


@contextlib.contextmanager
def mysql_sakila() -> Iterator[dict[str, Any]]:
    """A new MariaDB database holding MySQL's Sakila (its own `sakila` schema lines dropped)."""
    with db.mysql_database() as conn:
        script = "\n".join(p.read_text(encoding="utf-8") for p in MYSQL)
        script = re.sub(
            r"(?m)^(DROP SCHEMA IF EXISTS sakila|CREATE SCHEMA sakila|USE sakila);$", "", script
        )
        script = re.sub(r"\bsakila\.", "", script)  # its views name their tables sakila.x
        subprocess.run(
            ["mariadb", "-h", "127.0.0.1", "-u", "root", conn["database"]],
            input=script,
            text=True,
            check=True,
            capture_output=True,
        )
        yield conn


@contextlib.contextmanager
def postgres_sakila() -> Iterator[dict[str, Any]]:
    """A new PostgreSQL database holding jOOQ's port of Sakila."""
    with db.postgres_database() as conn:
        args = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", conn["database"], "-q"]
        args += ["-v", "ON_ERROR_STOP=1"]
        for path in POSTGRES:
            args += ["-f", str(path)]
        subprocess.run(args, check=True, capture_output=True, text=True)
        yield conn
