from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from osiris.session.masking import Masker
from osiris.session.writers import EventFilter, JsonlWriter, log_to, read_jsonl, utc_timestamp

NAMES = ("run_start", "run_stdout", "run_complete", "step_start", "step_failed", "brand_new_event")


@pytest.mark.parametrize(
    ("patterns", "admitted"),
    [
        (["*"], set(NAMES)),
        (["run_*"], {"run_start", "run_stdout", "run_complete"}),
        (["run_*", "step_failed"], {"run_start", "run_stdout", "run_complete", "step_failed"}),
        (["step_?????"], {"step_start"}),
        (["run_[sc]*"], {"run_start", "run_stdout", "run_complete"}),
        ([], set()),
    ],
)
def test_event_filter_names_and_globs(patterns, admitted):
    event_filter = EventFilter(patterns)
    assert {n for n in NAMES if event_filter.admits(n)} == admitted


def test_event_filter_accepts_a_single_string():
    assert EventFilter("run_*").admits("run_start")
    assert not EventFilter("run_*").admits("step_start")


def test_utc_timestamp_has_milliseconds_and_z():
    when = datetime(2025, 3, 4, 5, 6, 7, 891234, tzinfo=UTC)
    assert utc_timestamp(when) == "2025-03-04T05:06:07.891Z"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", utc_timestamp())


def test_jsonl_writer_masks_flushes_each_line_and_drops_after_close(tmp_path: Path):
    path = tmp_path / "records.jsonl"
    writer = JsonlWriter(path, Masker(["hunter2"]))
    assert writer.write({"ts": "t", "msg": "pw hunter2", "n": 1, "ü": "é"})
    # Flushed: readable before close.
    assert path.read_text(encoding="utf-8") == '{"ts":"t","msg":"pw ***","n":1,"ü":"é"}\n'
    writer.close()
    assert not writer.write({"late": True})
    assert path.read_text(encoding="utf-8").count("\n") == 1


def test_read_jsonl_reports_a_truncated_last_line_and_bad_lines(tmp_path: Path):
    path = tmp_path / "records.jsonl"
    path.write_text('{"a":1}\nnot json\n[1]\n{"b":2}\n{"c":', encoding="utf-8")
    content = read_jsonl(path)
    assert content.records == [{"a": 1}, {"b": 2}]
    assert content.truncated
    assert content.problems == [
        "records.jsonl:2: not a JSON object, skipped",
        "records.jsonl:3: not a JSON object, skipped",
        "records.jsonl:5: last line is truncated (the writer stopped mid-line), ignored",
    ]


def test_read_jsonl_accepts_a_complete_last_line_without_newline(tmp_path: Path):
    path = tmp_path / "records.jsonl"
    path.write_text('{"a":1}\n{"b":2}', encoding="utf-8")
    content = read_jsonl(path)
    assert content.records == [{"a": 1}, {"b": 2}]
    assert not content.truncated
    assert content.problems == []


def test_read_jsonl_missing_file(tmp_path: Path):
    content = read_jsonl(tmp_path / "events.jsonl")
    assert content.records == []
    assert content.problems == ["events.jsonl is missing"]


def test_log_to_masks_messages_and_tracebacks_and_removes_its_handlers(tmp_path, capsys):
    osiris_logger = logging.getLogger("osiris")
    before = list(osiris_logger.handlers)
    level_before = osiris_logger.level
    log = tmp_path / "osiris.log"
    with log_to(log, Masker(["hunter2"]), console_level=logging.INFO):
        assert logging.getLogger("httpx").level == logging.WARNING
        child = logging.getLogger("osiris.session.test")
        child.debug("dsn is mysql://app:hunter2@db/x")
        child.info("visible on the console with hunter2")
        try:
            raise RuntimeError("failed with password hunter2")
        except RuntimeError:
            child.exception("boom")
    assert osiris_logger.handlers == before
    assert osiris_logger.level == level_before

    text = log.read_text(encoding="utf-8")
    assert "hunter2" not in text
    lines = text.splitlines()
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT[\d:.]{12}Z DEBUG   osiris.session.test: dsn is mysql://app:\*\*\*@db/x",
        lines[0],
    )
    assert "RuntimeError: failed with password ***" in text
    assert capsys.readouterr().err.splitlines()[:2] == ["visible on the console with ***", "boom"]


def test_jsonl_lines_are_valid_json_when_written_from_many_threads(tmp_path: Path):
    import threading

    path = tmp_path / "records.jsonl"
    writer = JsonlWriter(path, Masker())
    payload = "x" * 5000

    def work(n: int) -> None:
        for i in range(200):
            writer.write({"thread": n, "i": i, "payload": payload})

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    writer.close()
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1600
    assert all(json.loads(line)["payload"] == payload for line in lines)
