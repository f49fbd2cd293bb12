from __future__ import annotations

import json

import pytest

from testing.e2b_standin import standin_env
from testing.session_helpers import _errors


@pytest.fixture(scope="session", autouse=True)
def every_session_line_matches_the_published_schemas(tmp_path_factory):
    """After the whole suite: each event and metric line any test wrote validates."""
    yield
    base = tmp_path_factory.getbasetemp()
    problems = []
    checked = 0
    for name, schema in (("events.jsonl", "event"), ("metrics.jsonl", "metric")):
        for file in base.rglob(name):
            lines = file.read_bytes().split(b"\n")
            lines.pop()  # the part after the last newline: empty, or a line torn by a kill
            for number, line in enumerate(lines, 1):
                try:
                    record = json.loads(line)
                except ValueError:
                    continue  # deliberately corrupted lines in the logs-command tests
                checked += 1
                problems += [f"{file}:{number}: {e}" for e in _errors(schema, record)]
    assert not problems, "lines that break the published schemas:\n" + "\n".join(problems[:50])


@pytest.fixture
def e2b_standin(monkeypatch):
    """A local E2B stand-in the unmodified SDK talks to; asserts no sandbox is left alive."""
    with standin_env(monkeypatch, templates=("base", "osiris")) as server:
        yield server
        assert server.sandboxes == {}, "the run left a sandbox alive"
