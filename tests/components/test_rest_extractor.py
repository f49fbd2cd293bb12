"""rest.extractor end to end: real `osiris run`, a real local HTTP API (testing/rest_api.py)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from testing.rest_api import RestApi
from testing.runner_helpers import osiris_cli, write_pipeline

TOKEN = "rest-canary-token-5e1f"


def records(n: int = 95) -> list[dict[str, Any]]:
    return [
        {
            "id": i,
            "name": f"item {i}",
            "price": i * 1.5,
            "active": i % 2 == 0,
            "meta": {"tier": "gold" if i % 3 == 0 else "basic", "score": i % 7},
            "tags": [f"t{i % 4}"],
        }
        for i in range(1, n + 1)
    ]


def pipeline(config: dict[str, Any]) -> str:
    return (
        'oml_version: "0.1.0"\nname: rest\nsteps:\n'
        "  - id: read\n    component: rest.extractor\n    mode: read\n"
        f"    config: {json.dumps(config)}\n"
        "  - id: write\n    component: filesystem.parquet_writer\n    mode: write\n"
        "    needs: [read]\n    config: {path: out/items.parquet}\n"
    )


def run(tmp_path: Path, config: dict[str, Any], env: dict[str, str] | None = None) -> Any:
    write_pipeline(tmp_path, pipeline(config))
    return osiris_cli("run", "pipeline.yaml", "--json", cwd=tmp_path, env=env)


def read_table(tmp_path: Path) -> list[dict[str, Any]]:
    return pq.read_table(tmp_path / "out" / "items.parquet").to_pylist()


def flat(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": record["id"],
        "name": record["name"],
        "price": record["price"],
        "active": record["active"],
        "meta_tier": record["meta"]["tier"],
        "meta_score": record["meta"]["score"],
        "tags": json.dumps(record["tags"]),
    }


PAGING = {
    "next_link": ({"type": "next_link", "next_path": "next"}, "data"),
    "link_header": ({"type": "link_header"}, None),
    "cursor": ({"type": "cursor", "cursor_path": "next_cursor", "has_more_path": "has_more"},
               "items"),
    "offset": ({"type": "offset", "page_size": 10, "total_path": "total"}, "results"),
    "page": ({"type": "page", "page_size": 10, "limit_param": "per_page"}, "results"),
}  # fmt: skip


@pytest.mark.parametrize("style", sorted(PAGING))
def test_every_page_of_every_pagination_style_is_read(tmp_path, style):
    paging, data_path = PAGING[style]
    with RestApi(records(), page_size=10) as api:
        config: dict[str, Any] = {"base_url": api.url, "path": f"/{style}/items",
                                  "pagination": paging}  # fmt: skip
        if data_path:
            config["data_path"] = data_path
        done = run(tmp_path, config)
        pages = len(api.requests)
    assert done.returncode == 0, done.stderr
    assert read_table(tmp_path) == [flat(r) for r in records()]
    assert pages == 10  # 95 records, 10 a page: no request more than needed
    schema = pq.read_schema(tmp_path / "out" / "items.parquet")
    assert str(schema.field("id").type) == "int64" and str(schema.field("price").type) == "double"
    assert schema.field("tags").metadata == {b"osiris.type": b"json"}
    assert json.loads(done.stdout)["rows_read"] == 95


def test_429_503_and_a_dropped_connection_are_retried(tmp_path):
    with RestApi(records(), page_size=10) as api:
        api.faults = {2: "429", 4: "503", 6: "drop"}
        done = run(
            tmp_path,
            {"base_url": api.url, "path": "/offset/items", "data_path": "results",
             "pagination": {"type": "offset", "page_size": 10}},
        )  # fmt: skip
        assert len(api.requests) == 13  # 10 pages, 3 answered with a fault first
    assert done.returncode == 0, done.stderr
    assert read_table(tmp_path) == [flat(r) for r in records()]
    stderr = (next((tmp_path / "logs").iterdir()) / "artifacts" / "stderr.txt").read_text()
    for said in ("HTTP 429 on GET", "HTTP 503 on GET", "RemoteProtocolError on GET"):
        assert f"step read: {said} {api.url}/offset/items" in stderr


def test_the_bearer_token_authenticates_and_is_in_no_file(tmp_path):
    with RestApi(records(12), page_size=5, token=TOKEN) as api:
        config = {"base_url": api.url, "path": "/cursor/items", "data_path": "items",
                  "auth": {"type": "bearer", "token": "${API_TOKEN}"},
                  "pagination": {"type": "cursor", "cursor_path": "next_cursor"}}  # fmt: skip
        done = run(tmp_path, config, env={"API_TOKEN": TOKEN})
        assert {r["headers"]["authorization"] for r in api.requests} == {f"Bearer {TOKEN}"}
        wrong = run(tmp_path, config, env={"API_TOKEN": "wrong-token-123"})
    assert done.returncode == 0, done.stderr
    assert len(read_table(tmp_path)) == 12
    assert wrong.returncode == 1
    error = json.loads(wrong.stdout)["error"]
    assert error["code"] == "auth.failed" and "answered 401" in error["message"]
    for path in tmp_path.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            if path.suffix == ".zip":
                with zipfile.ZipFile(path) as zf:
                    data = b"".join(zf.read(n) for n in zf.namelist())
            assert TOKEN.encode() not in data, path


def test_an_api_key_in_the_query_is_never_shown(tmp_path):
    with RestApi(records(3), token=TOKEN) as api:
        config = {"base_url": api.url, "path": "/nowhere/items",
                  "auth": {"type": "api_key", "in": "query", "name": "api_key",
                           "token": "${API_KEY}"}}  # fmt: skip
        done = run(tmp_path, config, env={"API_KEY": TOKEN})
        assert api.requests[0]["query"]["api_key"] == TOKEN
    assert done.returncode == 1
    error = json.loads(done.stdout)["error"]
    assert error["code"] == "http.not_found"
    assert "api_key=***" in error["message"] and TOKEN not in done.stdout + done.stderr


def test_a_literal_secret_is_refused_when_compiling(tmp_path):
    write_pipeline(
        tmp_path,
        pipeline({"base_url": "http://127.0.0.1:9", "auth": {"type": "bearer", "token": "abc"}}),
    )
    done = osiris_cli("validate", "pipeline.yaml", cwd=tmp_path)
    assert done.returncode == 2
    assert "'token' is a secret and must come from an environment variable" in done.stderr


def test_malformed_json_fails_the_step_and_writes_nothing(tmp_path):
    with RestApi(records(), page_size=10) as api:
        api.faults = {3: "bad_json"}
        done = run(
            tmp_path,
            {"base_url": api.url, "path": "/next_link/items", "data_path": "data",
             "pagination": {"type": "next_link"}, "retries": 0},
        )  # fmt: skip
    assert done.returncode == 1
    error = json.loads(done.stdout)["error"]
    assert error["code"] == "http.bad_json" and "(page 3)" in error["message"]
    assert not (tmp_path / "out" / "items.parquet").exists()


def test_the_records_must_be_where_data_path_says(tmp_path):
    with RestApi(records(5)) as api:
        done = run(tmp_path, {"base_url": api.url, "path": "/offset/items"})
    assert done.returncode == 1
    error = json.loads(done.stdout)["error"]
    assert (
        error["code"] == "http.bad_shape"
        and "set `data_path` (lists in it: results)" in (error["message"])
    )


def test_types_widen_in_the_first_records_and_never_change_silently_later(tmp_path):
    # the first 1,000 records fix the types: a fraction among them widens int64 to double ...
    early = [{"id": i, "amount": 2.5 if i == 999 else i} for i in range(1, 1201)]
    # ... one after them cannot change the column, and says how to pin it
    late = [{"id": i, "amount": 2.5 if i == 1101 else i} for i in range(1, 1201)]
    paging = {"type": "offset", "page_size": 500}
    for rows, pin in ((early, None), (late, None), (late, {"amount": "double"})):
        with RestApi(rows) as api:
            config = {"base_url": api.url, "path": "/offset/items", "data_path": "results",
                      "pagination": paging}  # fmt: skip
            if pin:
                config["schema"] = pin
            done = run(tmp_path, config)
        if rows is late and pin is None:
            assert done.returncode == 1
            error = json.loads(done.stdout)["error"]
            assert error["code"] == "type.changed" and "page 3 has 2.5" in error["message"]
            assert "schema: {amount: double}" in error["message"]
            continue
        assert done.returncode == 0, done.stderr
        assert [r["amount"] for r in read_table(tmp_path)] == [float(r["amount"]) for r in rows]


def test_hosts_outside_the_allow_list_are_never_asked(tmp_path):
    with RestApi(records(3)) as api:
        (tmp_path / "osiris.yaml").write_text("runner:\n  network:\n    allow: [db.example.com]\n")
        done = run(tmp_path, {"base_url": api.url, "path": "/offset/items"})
        assert api.requests == []
    assert done.returncode == 1
    error = json.loads(done.stdout)["error"]
    assert error["code"] == "network.denied" and "runner.network.allow" in error["message"]


def test_a_slow_answer_is_a_timeout_after_the_retries(tmp_path):
    with RestApi(records(5)) as api:
        api.faults = {1: ("slow", 3), 2: ("slow", 3)}
        done = run(
            tmp_path,
            {"base_url": api.url, "path": "/offset/items", "data_path": "results",
             "timeout": 1, "retries": 1},
        )  # fmt: skip
    assert done.returncode == 1
    error = json.loads(done.stdout)["error"]
    assert error["code"] == "connection.timeout"
    assert f"the REST API at {api.url}/offset/items did not answer in time" in error["message"]
