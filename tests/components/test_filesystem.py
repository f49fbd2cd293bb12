from __future__ import annotations

import datetime
import decimal
import os
import subprocess

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from osiris.components.api import StepError
from testing.step_helpers import ArrowInput, run_step, step_context


def write(tmp_path, rel, text):
    path = tmp_path / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_extractor_types_nulls_unicode(tmp_path):
    write(
        tmp_path,
        "d/x.csv",
        'id,amount,day,note\n1,12.50,2026-01-02,"tab\there"\n2,,2026-01-03,🦄 ünï\n',
    )
    table = run_step(
        step_context(
            tmp_path,
            "filesystem.csv_extractor",
            {"path": "d/x.csv", "column_types": {"amount": "decimal128(12,2)", "day": "date32"}},
        )
    )
    assert table.schema.field("amount").type == pa.decimal128(12, 2)
    assert table.to_pylist() == [
        {
            "id": 1,
            "amount": decimal.Decimal("12.50"),
            "day": datetime.date(2026, 1, 2),
            "note": "tab\there",
        },
        {"id": 2, "amount": None, "day": datetime.date(2026, 1, 3), "note": "🦄 ünï"},
    ]


def test_csv_extractor_streams_in_blocks(tmp_path):
    rows = "".join(f"{i},label {i}\n" for i in range(200_000))
    write(tmp_path, "big.csv", "id,label\n" + rows)
    ctx = step_context(
        tmp_path, "filesystem.csv_extractor", {"path": "big.csv", "block_size_mb": 1}
    )
    from osiris.components.filesystem.csv_extractor.driver import run

    batches = list(run(ctx))
    assert len(batches) > 1
    assert sum(b.num_rows for b in batches) == 200_000


def test_csv_extractor_errors(tmp_path):
    with pytest.raises(StepError) as err:
        run_step(step_context(tmp_path, "filesystem.csv_extractor", {"path": "missing.csv"}))
    assert err.value.code == "file.not_found"
    assert "input file 'missing.csv' not found" in err.value.message
    write(tmp_path, "x.csv", "a\n1\n")
    with pytest.raises(StepError) as err:
        run_step(
            step_context(
                tmp_path,
                "filesystem.csv_extractor",
                {"path": "x.csv", "column_types": {"a": "complex128"}},
            )
        )
    assert err.value.code == "config.invalid"


def test_csv_and_parquet_writers_round_trip(tmp_path):
    table = pa.table(
        {
            "id": pa.array([1, 2, 3], pa.int64()),
            "amount": pa.array(
                [decimal.Decimal("1.10"), None, decimal.Decimal("3.30")], pa.decimal128(12, 2)
            ),
            "name": ["a", "b,c", 'd"e'],
        }
    )
    outputs = []
    handle = ArrowInput.of(table, batch_rows=2, step_id="src")
    run_step(
        step_context(
            tmp_path,
            "filesystem.parquet_writer",
            {"path": "o/t.parquet"},
            inputs={"src": handle},
            outputs=outputs,
        )
    )
    run_step(
        step_context(
            tmp_path,
            "filesystem.csv_writer",
            {"path": "o/t.csv"},
            inputs={"src": handle},
            outputs=outputs,
        )
    )
    assert [p.name for p in outputs] == ["t.parquet", "t.csv"]
    assert pq.read_table(tmp_path / "out/o/t.parquet").equals(table)
    assert (tmp_path / "out/o/t.csv").read_text().splitlines() == [
        '"id","amount","name"',
        '1,1.10,"a"',
        '2,,"b,c"',
        '3,3.30,"d""e"',
    ]
    # a round trip through the Parquet extractor keeps the exact types
    (tmp_path / "out/o/t.parquet").rename(tmp_path / "t.parquet")
    back = run_step(
        step_context(
            tmp_path,
            "filesystem.parquet_extractor",
            {"path": "t.parquet", "columns": ["amount", "id"]},
        )
    )
    assert back.schema.names == ["amount", "id"]
    assert back.column("amount").type == pa.decimal128(12, 2)


def test_writer_is_atomic_when_the_input_fails(tmp_path):
    schema = pa.schema([("id", pa.int64())])

    def batches():
        yield pa.record_batch([pa.array([1, 2])], schema=schema)
        raise StepError("test.failure", "input broke")

    class Broken:
        step_id = "src"

        def open(self):
            return pa.RecordBatchReader.from_batches(schema, batches())

    target = tmp_path / "out/t.csv"
    target.parent.mkdir(parents=True)
    target.write_text("previous\n")
    with pytest.raises(StepError):
        run_step(
            step_context(
                tmp_path, "filesystem.csv_writer", {"path": "t.csv"}, inputs={"src": Broken()}
            )
        )
    assert target.read_text() == "previous\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["t.csv"]


def test_writer_refuses_paths_outside_the_output_area(tmp_path):
    handle = ArrowInput.of(pa.table({"a": [1]}), step_id="src")
    with pytest.raises(StepError) as err:
        run_step(
            step_context(
                tmp_path,
                "filesystem.csv_writer",
                {"path": "a/../../x.csv"},
                inputs={"src": handle},
            )
        )
    assert err.value.message == "output path 'a/../../x.csv' leaves the output area"


@pytest.fixture
def tiny_disk(tmp_path):
    """A 64 KiB tmpfs as the output area (mounting needs root, as CI and the dev machines run)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    out = tmp_path / "out"
    out.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(out)], check=True)
    yield out
    subprocess.run(["umount", "--lazy", str(out)], check=True)


@pytest.mark.parametrize("component", ["filesystem.csv_writer", "filesystem.parquet_writer"])
def test_disk_full_is_a_clear_error_and_leaves_nothing(tmp_path, tiny_disk, component):
    table = pa.table({"v": [f"value {i:08d} " * 4 for i in range(20_000)]})
    with pytest.raises(StepError) as err:
        run_step(
            step_context(
                tmp_path,
                component,
                {"path": "big.out"},
                inputs={"src": ArrowInput.of(table, step_id="src")},
            )
        )
    assert err.value.code == "write.disk_full"
    assert err.value.message == (
        "could not write 'big.out': no space left on the device; free some space or write "
        "the output elsewhere"
    )
    assert list(tiny_disk.iterdir()) == []
