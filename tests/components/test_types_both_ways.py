"""Types across families, both ways: PostgreSQL domains, enums, arrays, tsvector, spatial values
and MySQL's TIME, ENUM and SET, each copied between the real MariaDB and PostgreSQL servers."""

from __future__ import annotations

import datetime as dt
import struct
from pathlib import Path

import pytest

from osiris.components import get_registry
from osiris.components.api import StepError
from testing import db

pytestmark = pytest.mark.db

POINT = struct.pack("<BIdd", 1, 1, 1.5, -2.0)  # WKB: little endian, type 1 (point), x, y


def copy(tmp_path: Path, read: tuple[str, dict, dict], write: tuple[str, dict], **config) -> None:
    """Extract with `read` (component, connection, config) and write the stream with `write`
    (component, connection) and `config`."""
    source, src, extract = read
    writer, dst = write
    ctx = db.step_context(tmp_path, source, extract, src)
    reader = get_registry().require(source).load_driver().run(ctx)
    handle = db.ArrowInput(reader.schema, reader)
    load = db.step_context(tmp_path, writer, config, dst, inputs={"up": handle})
    assert db.run_step(load) is None


def pg_columns(conn: dict, table: str) -> dict[str, str]:
    rows = db.postgres_query(
        conn,
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
        f"WHERE attrelid = '{table}'::regclass AND attnum > 0 AND NOT attisdropped "
        "ORDER BY attnum",
    )
    return dict(rows)


def my_columns(conn: dict, table: str) -> dict[str, str]:
    rows = db.mysql_query(
        conn,
        "SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = "
        f"'{conn['database']}' AND TABLE_NAME = '{table}' ORDER BY ORDINAL_POSITION",
    )
    return dict(rows)


PG_SOURCE = [
    "CREATE DOMAIN year AS integer CHECK (VALUE BETWEEN 1901 AND 2155)",
    "CREATE DOMAIN short_name AS varchar(12)",
    "CREATE TYPE mpaa_rating AS ENUM ('G', 'PG', 'PG-13', 'it''s')",
    """CREATE TABLE film (
      id int PRIMARY KEY, released year, code short_name, rating mpaa_rating,
      features text[], scores int[], fulltext tsvector, addr inet)""",
    """INSERT INTO film VALUES
      (1, 2006, 'abc', 'PG-13', '{"Trailers","Deleted Scenes"}', '{1,2,NULL}',
       to_tsvector('simple', 'a quick fox'), '10.0.0.1'),
      (2, NULL, NULL, 'it''s', '{}', NULL, NULL, NULL),
      (3, 1901, 'x', NULL, NULL, '{}', ''::tsvector, '::1')""",
]


def test_postgres_to_mysql_domains_arrays_enums_and_tsvector(tmp_path, mysql, pg):
    db.postgres_execute(pg, *PG_SOURCE)
    copy(
        tmp_path,
        ("postgres.extractor", pg, {"table": "film"}),
        ("mysql.writer", mysql),
        table="film",
    )
    assert my_columns(mysql, "film") == {
        "id": "int(11)",
        "released": "int(11)",  # the domain's base type, not LONGTEXT
        "code": "varchar(12)",
        "rating": "enum('G','PG','PG-13','it''s')",
        "features": "longtext",  # MariaDB's JSON
        "scores": "longtext",
        "fulltext": "longtext",
        "addr": "longtext",
    }
    rows = db.mysql_query(mysql, "SELECT * FROM film ORDER BY id")
    assert rows == [
        (1, 2006, "abc", "PG-13", '["Trailers", "Deleted Scenes"]', "[1, 2, null]",
         "'a':1 'fox':3 'quick':2", "10.0.0.1"),
        (2, None, None, "it's", "[]", None, None, None),
        (3, 1901, "x", None, None, "[]", "", "::1"),
    ]  # fmt: skip
    checked = "SELECT JSON_VALID(features), JSON_LENGTH(features) FROM film WHERE id = 1"
    assert db.mysql_query(mysql, checked) == [(1, 2)]


def test_postgres_to_postgres_recreates_enums_domains_as_base_and_tsvector(tmp_path, pg):
    db.postgres_execute(pg, *PG_SOURCE)
    db.postgres_execute(pg, "CREATE SCHEMA copy")
    copy(
        tmp_path,
        ("postgres.extractor", pg, {"table": "film"}),
        ("postgres.writer", pg),
        table="copy.film",
    )
    assert pg_columns(pg, "copy.film") == {
        "id": "integer",
        "released": "integer",
        "code": "character varying(12)",
        "rating": "copy.mpaa_rating",  # the enum, created in the target schema
        "features": "text[]",
        "scores": "integer[]",
        "fulltext": "tsvector",
        "addr": "inet",
    }
    labels = db.postgres_query(
        pg, "SELECT enum_range(NULL::copy.mpaa_rating)::text"
    )  # fmt: skip
    assert labels == [("{G,PG,PG-13,it's}",)]
    columns = "id, released, code, rating::text, features, scores, fulltext::text, addr::text"
    expected = db.postgres_query(pg, f"SELECT {columns} FROM film ORDER BY id")
    assert db.postgres_query(pg, f"SELECT {columns} FROM copy.film ORDER BY id") == expected

    # a second copy reuses the enum type it created
    copy(
        tmp_path,
        ("postgres.extractor", pg, {"table": "film"}),
        ("postgres.writer", pg),
        table="copy.film",
        write_mode="replace",
    )
    assert db.postgres_query(pg, "SELECT count(*) FROM copy.film") == [(3,)]


MY_SOURCE = [
    """CREATE TABLE film (
      id INT PRIMARY KEY, features JSON, scores JSON, rating ENUM('G','PG-13','it''s'),
      perks SET('wifi','pool'), span TIME(6), spot POINT)""",
    """INSERT INTO film VALUES
      (1, '["Trailers", "Deleted Scenes"]', '[1, 2, null]', 'PG-13', 'wifi,pool',
       '-838:59:59.000001', POINT(1.5, -2)),
      (2, '[]', NULL, NULL, '', '25:00:00', NULL),
      (3, NULL, '[]', 'it''s', NULL, NULL, NULL)""",
]


def test_mysql_to_postgres_time_as_interval_and_json_arrays_only_when_asked(tmp_path, mysql, pg):
    db.mysql_execute(mysql, *MY_SOURCE)
    copy(
        tmp_path,
        ("mysql.extractor", mysql, {"table": "film"}),
        ("postgres.writer", pg),
        table="as_json",
    )
    copy(
        tmp_path,
        ("mysql.extractor", mysql, {"table": "film"}),
        ("postgres.writer", pg),
        table="as_arrays",
        json_arrays={"features": "text", "scores": "integer"},
    )
    assert pg_columns(pg, "as_json") == {
        "id": "integer",
        "features": "jsonb",
        "scores": "jsonb",
        "rating": "text",
        "perks": "text",
        "span": "interval",
        "spot": "bytea",  # no PostGIS in this database: the WKB as it is
    }
    assert pg_columns(pg, "as_arrays")["features"] == "text[]"
    assert pg_columns(pg, "as_arrays")["scores"] == "integer[]"
    rows = db.postgres_query(pg, "SELECT * FROM as_arrays ORDER BY id")
    assert rows == [
        (1, ["Trailers", "Deleted Scenes"], [1, 2, None], "PG-13", "wifi,pool",
         -dt.timedelta(hours=838, minutes=59, seconds=59, microseconds=1), POINT),
        (2, [], None, None, "", dt.timedelta(hours=25), None),
        (3, None, [], "it's", None, None, None),
    ]  # fmt: skip
    as_json = db.postgres_query(pg, "SELECT features, scores FROM as_json ORDER BY id")
    assert as_json == [(["Trailers", "Deleted Scenes"], [1, 2, None]), ([], None), (None, [])]


def test_json_arrays_into_an_existing_array_column(tmp_path, mysql, pg):
    db.mysql_execute(mysql, *MY_SOURCE)
    db.postgres_execute(pg, "CREATE TABLE t (id int PRIMARY KEY, features varchar(20)[])")
    copy(
        tmp_path,
        ("mysql.extractor", mysql, {"table": "film", "columns": ["id", "features"]}),
        ("postgres.writer", pg),
        table="t",
    )
    assert db.postgres_query(pg, "SELECT features FROM t ORDER BY id") == [
        (["Trailers", "Deleted Scenes"],),
        ([],),
        (None,),
    ]


def test_json_arrays_naming_a_missing_column_is_config_invalid(tmp_path, mysql, pg):
    db.mysql_execute(mysql, *MY_SOURCE)
    with pytest.raises(StepError) as err:
        copy(
            tmp_path,
            ("mysql.extractor", mysql, {"table": "film", "columns": ["id"]}),
            ("postgres.writer", pg),
            table="t",
            json_arrays=["features"],
        )
    assert (err.value.code, err.value.message) == (
        "config.invalid",
        "`json_arrays` names 'features', which the input does not have; its columns are id",
    )


def test_mysql_to_mysql_recreates_enum_set_and_time(tmp_path, mysql):
    db.mysql_execute(mysql, *MY_SOURCE)
    copy(
        tmp_path,
        ("mysql.extractor", mysql, {"table": "film"}),
        ("mysql.writer", mysql),
        table="copied",
    )
    source, copied = my_columns(mysql, "film"), my_columns(mysql, "copied")
    assert copied["rating"] == source["rating"] == "enum('G','PG-13','it''s')"
    assert copied["perks"] == source["perks"] == "set('wifi','pool')"
    assert copied["span"] == "time(6)"
    assert copied["spot"] == "longblob"  # WKB
    original = db.mysql_query(mysql, "SELECT id, features, rating, perks, span FROM film")
    assert db.mysql_query(mysql, "SELECT id, features, rating, perks, span FROM copied") == original
    same = "SELECT ST_Equals(ST_GeomFromWKB(c.spot), f.spot) FROM film f JOIN copied c USING (id)"
    assert db.mysql_query(mysql, same + " WHERE f.id = 1") == [(1,)]


def test_csv_writes_a_time_span_as_hours_minutes_seconds(tmp_path, mysql):
    db.mysql_execute(mysql, *MY_SOURCE)
    ctx = db.step_context(
        tmp_path, "mysql.extractor", {"table": "film", "columns": ["id", "span"]}, mysql
    )
    reader = get_registry().require("mysql.extractor").load_driver().run(ctx)
    write = db.step_context(
        tmp_path, "filesystem.csv_writer", {"path": "spans.csv"}, None,
        inputs={"up": db.ArrowInput(reader.schema, reader)},
    )  # fmt: skip
    assert db.run_step(write) is None
    written = next(tmp_path.rglob("spans.csv")).read_text()
    assert written == '"id","span"\n1,"-838:59:59.000001"\n2,"25:00:00"\n3,\n'


# --- PostGIS, where the server has it ------------------------------------------------------


def postgis_available(conn: dict) -> bool:
    return bool(
        db.postgres_query(
            conn, "SELECT count(*) FROM pg_available_extensions WHERE name = 'postgis'"
        )[0][0]
    )


def test_spatial_values_into_postgis_geometry_and_back(tmp_path, mysql, pg):
    if not postgis_available(pg):
        pytest.skip("PostGIS is not installed on this PostgreSQL (scripts/services.sh installs it)")
    db.postgres_execute(pg, "CREATE EXTENSION postgis")
    db.mysql_execute(mysql, *MY_SOURCE)
    copy(
        tmp_path,
        ("mysql.extractor", mysql, {"table": "film", "columns": ["id", "spot"]}),
        ("postgres.writer", pg),
        table="places",
    )
    assert pg_columns(pg, "places")["spot"] == "geometry"
    assert db.postgres_query(pg, "SELECT id, ST_AsText(spot) FROM places ORDER BY id") == [
        (1, "POINT(1.5 -2)"), (2, None), (3, None)
    ]  # fmt: skip
    # and PostGIS geometry back to MySQL: WKB the server reads
    copy(
        tmp_path,
        ("postgres.extractor", pg, {"table": "places"}),
        ("mysql.writer", mysql),
        table="back",
    )
    assert db.mysql_query(
        mysql, "SELECT ST_AsText(ST_GeomFromWKB(spot)) FROM back WHERE id = 1"
    ) == [("POINT(1.5 -2)",)]
    rows = db.postgres_query(pg, "SELECT ST_AsBinary(spot) FROM places WHERE id = 1")
    assert bytes(rows[0][0]) == POINT
