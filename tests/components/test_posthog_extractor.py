"""posthog.extractor end to end: real `osiris run` against the HogQL stand-in (testing/
posthog_api.py, which runs every query in DuckDB), and incremental runs into PostgreSQL."""

from __future__ import annotations

import csv
import datetime as dt
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from testing import db
from testing.posthog_api import PostHogApi
from testing.runner_helpers import osiris_cli, write_pipeline

KEY = "phx_canaryPersonalKey0123456789"
T0 = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)


def events(n: int, start: int = 0, at: dt.datetime = T0) -> list[dict[str, Any]]:
    """`n` events, four per second (sub-second timestamps), uuids in no particular order."""
    out = []
    for i in range(start, start + n):
        out.append(
            {
                "uuid": f"{(i * 7919) % 100_003:06d}-{i:06d}",
                "event": ["$pageview", "signup", "purchase"][i % 3],
                "timestamp": (at + dt.timedelta(milliseconds=250 * i)).isoformat(),
                "distinct_id": f"user{i % 11}",
                "person_id": f"p{i % 11}",
                "properties": {"$browser": "Firefox" if i % 2 else "Chrome",
                               "plan": {"tier": "pro"} if i % 5 == 0 else None},
            }
        )  # fmt: skip
    return out


def config(api: PostHogApi, **extra: Any) -> dict[str, Any]:
    return {
        "api_key": "${POSTHOG_API_KEY}",
        "project_id": str(api.project),
        "region": "self_hosted",
        "custom_base_url": api.url,
        "data_type": "events",
        "initial_since": "2026-11-01T00:00:00Z",
        "page_size": 100,
        **extra,
    }


def run(tmp_path: Path, cfg: dict[str, Any], writer: str | None = None, key: str = KEY) -> Any:
    writer = writer or (
        "component: filesystem.csv_writer\n    mode: write\n    needs: [posthog]\n"
        "    config: {path: out/events.csv}"
    )
    write_pipeline(
        tmp_path,
        'oml_version: "0.1.0"\nname: ph\nsteps:\n'
        "  - id: posthog\n    component: posthog.extractor\n    mode: read\n"
        f"    config: {json.dumps(cfg)}\n"
        f"  - id: load\n    {writer}\n",
    )
    return osiris_cli("run", "pipeline.yaml", "--json", cwd=tmp_path, env={"POSTHOG_API_KEY": key})


def read_csv(tmp_path: Path) -> list[dict[str, str]]:
    with (tmp_path / "out" / "events.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def test_every_event_once_through_faults_with_the_key_in_no_file(tmp_path):
    source = events(350)
    with PostHogApi(source, key=KEY) as api:
        api.faults = {2: "429", 3: "drop"}
        done = run(tmp_path, config(api))
        queries = list(api.queries)
    assert done.returncode == 0, done.stderr
    rows = read_csv(tmp_path)
    assert sorted(r["uuid"] for r in rows) == sorted(e["uuid"] for e in source)
    assert len(rows) == 350  # 100 a page, seek paging: no row twice, none skipped
    first = next(r for r in rows if r["uuid"] == source[0]["uuid"])
    assert first["event"] == "$pageview" and first["properties_$browser"] == "Chrome"
    assert json.loads(first["properties_plan"]) == {"tier": "pro"}
    assert first["timestamp"].startswith("2026-11-01 12:00:00")
    assert len(queries) == 4
    assert "ORDER BY timestamp ASC, uuid ASC LIMIT 100" in queries[0]
    assert "timestamp > toDateTime('2026-11-01 12:00:24.750000')" in queries[1]
    for path in tmp_path.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            if path.suffix == ".zip":
                with zipfile.ZipFile(path) as zf:
                    data = b"".join(zf.read(n) for n in zf.namelist())
            assert KEY.encode() not in data, path


def test_event_types_and_a_quote_in_them(tmp_path):
    source = events(30)
    source[4]["event"] = "it's done"
    with PostHogApi(source, key=KEY) as api:
        done = run(tmp_path, config(api, event_types=["signup", "it's done"]))
    assert done.returncode == 0, done.stderr
    got = {r["uuid"]: r["event"] for r in read_csv(tmp_path)}
    assert got == {e["uuid"]: e["event"] for e in source if e["event"] in ("signup", "it's done")}


def test_persons(tmp_path):
    persons = [
        {"id": f"p{i:03d}", "created_at": (T0 + dt.timedelta(seconds=i)).isoformat(),
         "is_identified": i % 2 == 0, "properties": {"email": f"u{i}@example.com"}}
        for i in range(120)
    ]  # fmt: skip
    with PostHogApi([], persons, key=KEY) as api:
        done = run(tmp_path, config(api, data_type="persons"))
    assert done.returncode == 0, done.stderr
    rows = read_csv(tmp_path)
    assert [r["id"] for r in rows] == [p["id"] for p in persons]
    assert rows[3]["person_properties_email"] == "u3@example.com"
    assert rows[3]["is_identified"] == "false"


def test_a_wrong_key_is_auth_failed(tmp_path):
    with PostHogApi(events(3), key=KEY) as api:
        done = run(tmp_path, config(api), key="phx_wrong_key_0000")
    assert done.returncode == 1
    error = json.loads(done.stdout)["error"]
    assert error["code"] == "auth.failed" and "answered 401" in error["message"]


@pytest.fixture
def pg():
    with db.postgres_database() as conn:
        yield conn


def test_incremental_runs_read_what_is_new_and_late_events_in_the_lookback(tmp_path, pg):
    (tmp_path / "osiris_connections.yaml").write_text(
        "connections:\n  postgres:\n    dw:\n"
        f"      {{host: 127.0.0.1, port: 5432, user: postgres, database: {pg['database']}}}\n"
    )
    writer = (
        "component: postgres.writer\n    mode: write\n    needs: [posthog]\n"
        "    config: {connection: '@postgres.dw', table: events, write_mode: upsert, "
        "primary_key: [uuid]}"
    )
    cfg = lambda api: config(api, cursor_column="timestamp", since="auto")  # noqa: E731
    source = events(300)
    with PostHogApi(source, key=KEY) as api:
        first = run(tmp_path, cfg(api), writer)
        assert first.returncode == 0, first.stderr
        assert json.loads(first.stdout)["rows_read"] == 300
        # 40 new events, and 5 that arrive late: 10 minutes older than the newest one written
        newest = T0 + dt.timedelta(milliseconds=250 * 299)
        late = events(5, start=1000, at=newest - dt.timedelta(minutes=10))
        new = events(40, start=300)
        api.add_events(late + new)
        second = run(tmp_path, cfg(api), writer)
        assert second.returncode == 0, second.stderr
        # the newest written event less 15 minutes: the last 15 minutes again (all 300 here lie
        # within 75 s), plus what is new
        assert json.loads(second.stdout)["rows_read"] == 345
        third = run(tmp_path, {**cfg(api), "lookback_window_minutes": 5}, writer)
        assert third.returncode == 0, third.stderr
    got = db.postgres_query(pg, "SELECT uuid, event, distinct_id FROM events ORDER BY uuid")
    everything = source + late + new
    assert got == sorted((e["uuid"], e["event"], e["distinct_id"]) for e in everything)
    # with a 5-minute window, only what lies within 5 minutes of the newest event comes again
    newest_all = max(dt.datetime.fromisoformat(e["timestamp"]) for e in everything)
    window = [
        e for e in everything
        if dt.datetime.fromisoformat(e["timestamp"]) >= newest_all - dt.timedelta(minutes=5)
    ]  # fmt: skip
    assert json.loads(third.stdout)["rows_read"] == len(window)
