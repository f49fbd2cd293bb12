"""testing/latency_proxy.py, checked with the servers' own clients: every byte arrives, in
order, and each round trip takes at least the latency it adds."""

from __future__ import annotations

import time

import psycopg
import pymysql
import pytest

from testing import db
from testing.latency_proxy import delayed

pytestmark = pytest.mark.db

RTT = 0.1


@pytest.fixture
def mysql():
    with db.mysql_database() as conn:
        yield conn


@pytest.fixture
def pg():
    with db.postgres_database() as conn:
        yield conn


def test_mysql_through_the_proxy_pays_the_round_trip_and_gets_every_byte(mysql):
    blob = bytes(range(256)) * 16_000  # 4 MB: many chunks, each delayed, none reordered
    with delayed("127.0.0.1", 3306, rtt=RTT) as port:
        conn = pymysql.connect(host="127.0.0.1", port=port, user="root", database=mysql["database"])
        try:
            with conn.cursor() as cur:
                start = time.monotonic()
                cur.execute("SELECT 1")
                assert cur.fetchall() == ((1,),)
                assert time.monotonic() - start >= RTT
                cur.execute("CREATE TABLE b (v LONGBLOB)")
                cur.execute("INSERT INTO b VALUES (%s)", (blob,))
                cur.execute("SELECT v FROM b")
                assert cur.fetchall()[0][0] == blob
        finally:
            conn.close()


def test_postgres_through_the_proxy(pg):
    with delayed("127.0.0.1", 5432, rtt=RTT) as port:
        conninfo = f"host=127.0.0.1 port={port} user=postgres dbname={pg['database']}"
        with psycopg.connect(conninfo) as conn:
            start = time.monotonic()
            assert conn.execute("SELECT 1").fetchall() == [(1,)]
            assert time.monotonic() - start >= RTT
            rows = conn.execute("SELECT g, md5(g::text) FROM generate_series(1, 50000) g")
            got = rows.fetchall()
    assert got == db.postgres_query(pg, "SELECT g, md5(g::text) FROM generate_series(1, 50000) g")
