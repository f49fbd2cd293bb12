"""Whole pipelines on the real servers, through `osiris run`: fan-out, fan-in, idempotent
upserts, and a connection failure that keeps its secret."""

from __future__ import annotations

import json

import pytest

from testing.db import (
    mysql_database,
    mysql_execute,
    mysql_user,
    postgres_database,
    postgres_execute,
    postgres_query,
)
from testing.runner_helpers import osiris_cli, write_pipeline

pytestmark = pytest.mark.db

CONNECTIONS = """
connections:
  mysql:
    shop:
      default: true
      host: 127.0.0.1
      port: 3306
      user: ${SHOP_USER:-root}
      password: ${SHOP_PASSWORD:-}
      database: ${SHOP_DB}
  postgres:
    dwh:
      default: true
      host: 127.0.0.1
      port: 5432
      user: postgres
      database: ${DWH_DB}
"""

PIPELINE = """
oml_version: "0.1.0"
name: shop-to-dwh
steps:
  - id: orders
    component: mysql.extractor
    mode: extract
    config: {connection: "@mysql", table: orders, batch_size: 2}
  - id: customers
    component: postgres.extractor
    mode: extract
    config: {connection: "@postgres", table: customers}
  - id: load_orders            # fan-out: orders feeds this writer and the join below
    component: postgres.writer
    mode: write
    needs: [orders]
    config: {connection: "@postgres", table: orders, write_mode: replace}
  - id: revenue                # fan-in: a MySQL table joined with a Postgres table
    component: duckdb.processor
    mode: transform
    needs: [orders, customers]
    config:
      query: >
        select c.id as customer_id, c.name, sum(o.amount) as revenue
        from orders o join customers c on c.id = o.customer_id group by all
  - id: load_revenue
    component: postgres.writer
    mode: write
    needs: [revenue]
    config:
      connection: "@postgres"
      table: revenue
      write_mode: upsert
      primary_key: [customer_id]
"""


@pytest.fixture
def shop(tmp_path):
    with mysql_database() as my, postgres_database() as pg:
        mysql_execute(
            my,
            "CREATE TABLE orders (id BIGINT PRIMARY KEY, customer_id INT NOT NULL,"
            " amount DECIMAL(12,2) NOT NULL, note VARCHAR(64))",
            "INSERT INTO orders VALUES (1, 1, 10.50, 'tab\\there'), (2, 1, 4.25, '🦄'),"
            " (3, 2, 100.00, NULL)",
        )
        postgres_execute(
            pg,
            "CREATE TABLE customers (id integer PRIMARY KEY, name text NOT NULL)",
            "INSERT INTO customers VALUES (1, 'Ada'), (2, 'Linus')",
        )
        write_pipeline(tmp_path, CONNECTIONS, name="osiris_connections.yaml")
        write_pipeline(tmp_path, PIPELINE)
        yield tmp_path, my, pg, {"SHOP_DB": my["database"], "DWH_DB": pg["database"]}


def test_fan_out_fan_in_and_idempotent_upsert(shop):
    project, _, pg, env = shop
    for _ in range(2):
        proc = osiris_cli("run", "pipeline.yaml", "--json", cwd=project, env=env)
        assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["steps"]["orders"]["rows_read"] == 3
    assert summary["steps"]["load_orders"]["rows_written"] == 3
    assert postgres_query(pg, "select id, amount::text, note from orders order by id") == [
        (1, "10.50", "tab\there"),
        (2, "4.25", "🦄"),
        (3, "100.00", None),
    ]
    assert postgres_query(
        pg, "select customer_id, name, revenue::text from revenue order by 1"
    ) == [(1, "Ada", "14.75"), (2, "Linus", "100.00")]
    types = postgres_query(
        pg,
        "select data_type, numeric_scale from information_schema.columns "
        "where table_name = 'orders' and column_name = 'amount'",
    )
    assert types == [("numeric", 2)]


def test_bad_credentials_fail_the_step_and_keep_the_secret(shop):
    project, _, _, env = shop
    password = "WrongPw-canary-9d1e"
    with mysql_user("right-password-1") as user:
        env = {**env, "SHOP_USER": user, "SHOP_PASSWORD": password}
        proc = osiris_cli("run", "pipeline.yaml", cwd=project, env=env)
    assert proc.returncode == 1
    assert "Failed in step 'orders' (exit 1): [auth.failed]" in proc.stderr
    session = next(p for p in (project / "logs").iterdir() if p.is_dir())
    failed = [
        json.loads(x)
        for x in (session / "events.jsonl").read_text().splitlines()
        if '"step_failed"' in x
    ]
    assert failed[0]["step"] == "orders" and failed[0]["error_code"] == "auth.failed"
    for path in project.joinpath("logs").rglob("*"):
        if path.is_file():
            assert password.encode() not in path.read_bytes(), path
    assert password not in proc.stdout + proc.stderr
