from __future__ import annotations

import importlib
import json
import shutil

import jsonschema
import pytest

import osiris.session
from osiris.session import load_schema
from testing.session_helpers import assert_session_valid, write_events, write_session

SID = "run_20250102T030405_aaaaaa"


@pytest.mark.parametrize("name", ["event", "metric", "session"])
def test_published_schemas_are_valid_json_schemas(name):
    jsonschema.Draft202012Validator.check_schema(load_schema(name))


def test_unknown_schema_name():
    with pytest.raises(ValueError, match="unknown schema 'events'"):
        load_schema("events")


def test_the_helper_reports_every_invalid_line(logs_dir):
    path = write_session(logs_dir, SID)
    write_events(
        path,
        {"ts": "2025-01-02T03:04:05.000Z", "event": "run_start"},
        {"ts": "2025-01-02 03:04:05", "event": "run_start"},
        {"ts": "2025-01-02T03:04:05.000Z", "event": "step_complete", "step": "a", "rows": -1},
        {"ts": "2025-01-02T03:04:05.000Z", "event": "step_failed", "step": "a"},
        tail='{"ts":',
    )
    metric = {"ts": "2025-01-02T03:04:05.000Z", "session": SID, "metric": "rows_read"}
    line = json.dumps({**metric, "value": 1, "unit": "ms", "tags": {}})
    (path / "metrics.jsonl").write_text(line + "\n")
    with pytest.raises(AssertionError) as excinfo:
        assert_session_valid(path)
    # The suite-wide check in tests/conftest.py must not trip over these deliberate errors.
    shutil.rmtree(path)
    assert str(excinfo.value).splitlines()[1:] == [
        "events.jsonl: the last line has no newline (truncated)",
        "events.jsonl:2: ts: '2025-01-02 03:04:05' does not match "
        "'^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\\\.[0-9]{3}Z$'",
        "events.jsonl:3: <root>: 'duration_ms' is a required property",
        "events.jsonl:3: rows: -1 is less than the minimum of 0",
        "events.jsonl:4: <root>: 'error_code' is a required property",
        "events.jsonl:4: <root>: 'message' is a required property",
        "metrics.jsonl:1: unit: 'rows' was expected",
    ]


def test_every_public_name_is_exported():
    for module in ("osiris.session", "osiris.session.schemas", "osiris.session.commands"):
        mod = importlib.import_module(module)
        for name in mod.__all__:
            assert hasattr(mod, name), f"{module}.{name}"
    public = {n for n in dir(osiris.session) if not n.startswith("_")}
    modules = {
        "annotations",
        "bundle",
        "commands",
        "info",
        "masking",
        "render",
        "report",
        "schemas",
        "session",
        "writers",
    }
    assert public - modules == set(osiris.session.__all__)
