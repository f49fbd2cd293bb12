"""Upstream Osiris's keys of filesystem.csv_extractor and csv_writer, with pandas' meaning."""

from __future__ import annotations

import bz2
import codecs
import datetime
import gzip
import lzma
import os
import textwrap
import zipfile
from pathlib import Path

import pyarrow as pa
import pytest

from osiris.components.api import StepError
from osiris.errors import PipelineError
from osiris.pipeline import compile_pipeline
from testing.step_helpers import ArrowInput, run_step, step_context


def extract(tmp_path, data, name="in.csv", **config):
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    ctx = step_context(tmp_path, "filesystem.csv_extractor", {"path": name, **config})
    return run_step(ctx)


def extract_error(tmp_path, data, name="in.csv", **config):
    with pytest.raises(StepError) as err:
        extract(tmp_path, data, name, **config)
    return err.value


# --- csv_extractor -------------------------------------------------------------------------


def test_header_row_counts_neither_blank_nor_comment_lines(tmp_path):
    text = "exported 2026-01-02\n\nby: ops\nid,name\n1,a\n2,b\n"
    table = extract(tmp_path, text, header=2)
    assert table.to_pylist() == [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]
    # skip_rows counts physical lines (the blank one too) and comes first
    text = "x\n\n# note\nlabel\n# note\nid,name\n1,a\n"
    table = extract(tmp_path, text, skip_rows=2, header=1, comment="#")
    assert table.to_pylist() == [{"id": 1, "name": "a"}]
    assert table.schema.names == ["id", "name"]


def test_skip_rows_skips_lines_before_the_header(tmp_path):
    text = "report\n\nid;n\n7;8\n"
    table = extract(tmp_path, text, skip_rows=2, delimiter=";")
    assert table.to_pylist() == [{"id": 7, "n": 8}]


def test_header_false_names_columns_by_position(tmp_path):
    table = extract(tmp_path, "007,x\n8,y\n", header=False, dtype={"0": "str"})
    assert table.schema.names == ["0", "1"]
    assert table.to_pylist() == [{"0": "007", "1": "x"}, {"0": "8", "1": "y"}]
    table = extract(tmp_path, "007,x\n8,y\n", header=False, columns=["1"])
    assert table.to_pylist() == [{"1": "x"}, {"1": "y"}]
    # our own key keeps pyarrow's names
    assert extract(tmp_path, "1,2\n", has_header=False).schema.names == ["f0", "f1"]


def test_limit_returns_the_first_rows(tmp_path):
    text = "id\n" + "".join(f"{i}\n" for i in range(1000))
    table = extract(tmp_path, text, limit=3)
    assert table.to_pylist() == [{"id": 0}, {"id": 1}, {"id": 2}]
    assert extract(tmp_path, text, limit=5000).num_rows == 1000


def _bytes_read() -> int:
    with open("/proc/self/io") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("rchar:"))


@pytest.mark.skipif(not os.path.exists("/proc/self/io"), reason="needs Linux's /proc/self/io")
def test_limit_stops_reading_the_file(tmp_path):
    path = tmp_path / "big.csv"
    with open(path, "w") as f:
        f.write("id,label\n" + "".join(f"{i},label {i}\n" for i in range(100_000)))
    os.truncate(path, 1 << 30)  # 1 GiB; the rest is a hole, so the test costs no disk
    before = _bytes_read()
    ctx = step_context(
        tmp_path, "filesystem.csv_extractor", {"path": "big.csv", "limit": 10, "block_size_mb": 1}
    )
    table = run_step(ctx)
    assert [r["id"] for r in table.to_pylist()] == list(range(10))
    # pyarrow reads a few dozen blocks ahead, never the whole GiB
    assert _bytes_read() - before < 128 << 20


def test_parse_dates_reads_the_listed_columns_as_timestamps(tmp_path):
    text = "day,note\n2026-01-02,2026-01-03\n2026-01-04 10:30:00,x\n"
    table = extract(tmp_path, text, parse_dates=["day"])
    assert table.schema.field("day").type == pa.timestamp("us")
    assert table.column("day").to_pylist() == [
        datetime.datetime(2026, 1, 2),
        datetime.datetime(2026, 1, 4, 10, 30),
    ]
    assert table.schema.field("note").type == pa.string()
    # true only means "parse the index" in pandas: nothing changes
    plain = extract(tmp_path, "day\n2026-01-02\n")
    assert extract(tmp_path, "day\n2026-01-02\n", parse_dates=True).equals(plain)
    assert plain.schema.field("day").type == pa.date32()
    err = extract_error(tmp_path, text, parse_dates=["when"])
    assert err.code == "config.invalid"
    assert err.message == (
        "parse_dates names ['when'], which 'in.csv' does not have (columns: day, note)"
    )


def test_dtype_takes_pandas_names(tmp_path):
    text = "code,n,ratio,ok,at,cat\n007,1,0.5,true,2026-01-02 03:04:05,a\n010,,1.5,false,,b\n"
    dtype = {
        "code": "str",
        "n": "Int64",
        "ratio": "float32",
        "ok": "boolean",
        "at": "datetime64[ns]",
        "cat": "category",
    }
    table = extract(tmp_path, text, dtype=dtype)
    assert table.schema == pa.schema(
        [
            ("code", pa.string()),
            ("n", pa.int64()),
            ("ratio", pa.float32()),
            ("ok", pa.bool_()),
            ("at", pa.timestamp("ns")),
            ("cat", pa.string()),
        ]
    )
    assert table.column("code").to_pylist() == ["007", "010"]
    assert table.column("n").to_pylist() == [1, None]
    # column_types wins over dtype for the same column
    table = extract(tmp_path, text, dtype={"n": "float64"}, column_types={"n": "int32"})
    assert table.schema.field("n").type == pa.int32()


def test_unknown_dtype_names_the_column_and_the_choices(tmp_path):
    err = extract_error(tmp_path, "a\n1\n", dtype={"a": "complex128"})
    assert err.code == "config.invalid"
    assert err.message.startswith(
        "dtype of column 'a' is 'complex128', which is not a pandas dtype this reader knows; "
        "use one of int8, int16, int32, int64, "
    )
    assert "Int64" in err.message and "datetime64[ns]" in err.message


def test_na_values_add_to_pandas_defaults(tmp_path):
    text = "a,b\nNA,-\nx,null\n"
    table = extract(tmp_path, text, na_values=["-"])
    assert table.to_pylist() == [{"a": None, "b": None}, {"a": "x", "b": None}]
    # without na_values only the empty string is NULL, as before
    assert extract(tmp_path, text).to_pylist() == [{"a": "NA", "b": "-"}, {"a": "x", "b": "null"}]


def test_comment_drops_lines_and_line_ends_but_not_quoted_text(tmp_path):
    text = (
        "# exported by ops\n"
        "id,note,n\n"
        '1,"#1 in # quotes",10 # trailing\n'
        "# between\n"
        "2,short#,cut\n"
        '3,"two\n# lines",30\n'
    )
    table = extract(tmp_path, text, comment="#")
    assert table.to_pylist() == [
        {"id": 1, "note": "#1 in # quotes", "n": 10},
        {"id": 2, "note": "short", "n": None},
        {"id": 3, "note": "two\n# lines", "n": 30},
    ]


def test_comment_with_crlf_and_another_encoding(tmp_path):
    text = "a;b\r\n1;é # x\r\n#c\r\n2;ü\r\n"
    table = extract(tmp_path, text.encode("utf-16"), delimiter=";", comment="#", encoding="utf-16")
    assert table.to_pylist() == [{"a": 1, "b": "é "}, {"a": 2, "b": "ü"}]


def test_skip_blank_lines_false_reads_blank_lines_as_null_rows(tmp_path):
    text = "a,b\n1,x\n\n2,y\n"
    assert extract(tmp_path, text).num_rows == 2
    table = extract(tmp_path, text, skip_blank_lines=False)
    assert table.to_pylist() == [
        {"a": 1, "b": "x"},
        {"a": None, "b": None},
        {"a": 2, "b": "y"},
    ]


@pytest.mark.parametrize(
    ("name", "pack", "compression"),
    [
        ("in.csv.gz", gzip.compress, "infer"),
        ("in.csv.bz2", bz2.compress, "infer"),
        ("in.csv.xz", lzma.compress, "infer"),
        ("in.gzip", gzip.compress, "gzip"),
        ("in.dat", bz2.compress, "bz2"),
        ("in.dat", lzma.compress, "xz"),
    ],
)
def test_compression(tmp_path, name, pack, compression):
    data = pack(b"id,name\n1,a\n2,b\n")
    table = extract(tmp_path, data, name, compression=compression)
    assert table.to_pylist() == [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]


def test_zip_holds_one_csv(tmp_path):
    with zipfile.ZipFile(tmp_path / "in.zip", "w") as z:
        z.writestr("export/", "")
        z.writestr("export/orders.csv", "id,name\n1,a\n")
    ctx = step_context(tmp_path, "filesystem.csv_extractor", {"path": "in.zip", "limit": 1})
    assert run_step(ctx).to_pylist() == [{"id": 1, "name": "a"}]
    with zipfile.ZipFile(tmp_path / "two.zip", "w") as z:
        z.writestr("a.csv", "id\n1\n")
        z.writestr("b.csv", "id\n2\n")
    with pytest.raises(StepError) as err:
        run_step(step_context(tmp_path, "filesystem.csv_extractor", {"path": "two.zip"}))
    assert err.value.code == "file.invalid"
    assert err.value.message == (
        "'two.zip' is a zip archive with 2 files; it must hold exactly one CSV file"
    )


def test_bad_compressed_data_is_a_file_error(tmp_path):
    err = extract_error(tmp_path, b"id\n1\n", "in.dat", compression="gzip")
    assert (err.code, err.message) == (
        "file.invalid",
        "cannot read CSV 'in.dat': zlib inflate failed: incorrect header check",
    )
    err = extract_error(tmp_path, lzma.compress(b"id\n" + b"1\n" * 1000)[:-20], "in.csv.xz")
    assert err.code == "file.invalid"
    assert err.message.startswith("cannot read CSV 'in.csv.xz': ")


@pytest.mark.parametrize("data", ["", "\n\n"])
def test_an_empty_file_has_no_rows(tmp_path, data):
    table = extract(tmp_path, data, limit=5)
    assert (table.num_rows, table.num_columns) == (0, 0)


@pytest.mark.parametrize(
    ("encoding", "data"),
    [
        ("latin-1", "id,name\n1,Zoë\n".encode("latin-1")),
        ("iso-8859-1", "id,name\n1,Zoë\n".encode("latin-1")),
        ("utf-16", "id,name\n1,Zoë\n".encode("utf-16")),
        ("utf-8", "\ufeffid,name\n1,Zoë\n".encode()),
        ("ascii", b"id,name\n1,Zoe\n"),
    ],
)
def test_encodings(tmp_path, encoding, data):
    table = extract(tmp_path, data, encoding=encoding)
    assert table.to_pylist() == [{"id": 1, "name": "Zoe" if encoding == "ascii" else "Zoë"}]


def test_unknown_encoding_is_a_config_error(tmp_path):
    err = extract_error(tmp_path, "a\n1\n", encoding="klingon")
    assert (err.code, err.message) == (
        "config.invalid",
        "unknown encoding 'klingon'; use utf-8, utf-16, ascii, latin-1 or another Python codec "
        "name",
    )


# --- csv_writer ----------------------------------------------------------------------------

ROWS = pa.table(
    {
        "id": pa.array([1, None, 3]),
        "price": pa.array([1.5, None, 2.0]),
        "ok": pa.array([True, None, False]),
        "day": pa.array([datetime.date(2026, 1, 2), None, datetime.date(2026, 1, 3)]),
        "name": pa.array(["a", None, 'it\'s "q", ok']),
    }
)


def write_csv(tmp_path, table=ROWS, name="o.csv", **config):
    handle = ArrowInput.of(table, batch_rows=2, step_id="src")
    ctx = step_context(
        tmp_path, "filesystem.csv_writer", {"path": name, **config}, inputs={"src": handle}
    )
    assert run_step(ctx) is None
    return (tmp_path / "out" / name).read_bytes()


def write_error(tmp_path, table=ROWS, name="o.csv", **config):
    with pytest.raises(StepError) as err:
        write_csv(tmp_path, table, name, **config)
    return err.value


def test_default_format_is_unchanged(tmp_path):
    assert write_csv(tmp_path) == (
        b'"id","price","ok","day","name"\n'
        b'1,1.5,true,2026-01-02,"a"\n'
        b",,,,\n"
        b'3,2,false,2026-01-03,"it\'s ""q"", ok"\n'
    )


@pytest.mark.parametrize(("newline", "eol"), [("lf", b"\n"), ("crlf", b"\r\n"), ("cr", b"\r")])
def test_newline(tmp_path, newline, eol):
    data = write_csv(tmp_path, pa.table({"a": [1, 2]}), newline=newline)
    assert data == b'"a"' + eol + b"1" + eol + b"2" + eol


def test_quoting_all_quotes_every_field_and_null(tmp_path):
    assert write_csv(tmp_path, quoting="all") == (
        b'"id","price","ok","day","name"\n'
        b'"1","1.5","true","2026-01-02","a"\n'
        b'"","","","",""\n'
        b'"3","2","false","2026-01-03","it\'s ""q"", ok"\n'
    )


def test_quoting_nonnumeric_leaves_numbers_bare(tmp_path):
    assert write_csv(tmp_path, quoting="nonnumeric") == (
        b'"id","price","ok","day","name"\n'
        b'1,1.5,true,"2026-01-02","a"\n'
        b'"","","","",""\n'
        b'3,2,false,"2026-01-03","it\'s ""q"", ok"\n'
    )


def test_quoting_none_never_quotes_and_refuses_what_needs_quotes(tmp_path):
    table = pa.table({"id": [1, None], "name": ["a b", None]})
    assert write_csv(tmp_path, table, quoting="none") == b"id,name\n1,a b\n,\n"
    err = write_error(tmp_path, quoting="none")
    assert (err.code, err.message) == (
        "write.failed",
        "column 'name' has a value with the delimiter, the quote character or a line break, "
        "which `quoting: none` cannot write; use quoting: minimal",
    )
    err = write_error(tmp_path, pa.table({"a,b": [1]}), quoting="none")
    assert err.message == (
        "column name 'a,b' has the delimiter, the quote character or a line break, which "
        "`quoting: none` cannot write; rename the column or use quoting: minimal"
    )


def test_quotechar(tmp_path):
    assert write_csv(tmp_path, quotechar="'") == (
        b"'id','price','ok','day','name'\n"
        b"1,1.5,true,2026-01-02,'a'\n"
        b",,,,\n"
        b"3,2,false,2026-01-03,'it''s \"q\", ok'\n"
    )
    assert write_csv(tmp_path, quotechar="|", quoting="all", delimiter=";").splitlines()[2] == (
        b"||;||;||;||;||"
    )
    # upstream's example pipeline names the default; it stays on pyarrow's writer
    assert write_csv(tmp_path, quotechar='"') == write_csv(tmp_path, name="p.csv")


def test_latin1_bytes(tmp_path):
    table = pa.table({"név": ["Zoë", "é"]})
    assert write_csv(tmp_path, table, encoding="latin-1") == b'"n\xe9v"\n"Zo\xeb"\n"\xe9"\n'
    assert write_csv(tmp_path, table, encoding="latin-1", quoting="nonnumeric", quotechar="'") == (
        b"'n\xe9v'\n'Zo\xeb'\n'\xe9'\n"
    )


def test_a_character_the_encoding_lacks_names_its_column(tmp_path):
    table = pa.table({"id": [1, 2], "price": ["1 €", "2 €"]})
    err = write_error(tmp_path, table, encoding="latin-1")
    assert (err.code, err.message) == (
        "write.failed",
        "column 'price' has '€', which latin-1 cannot encode; write 'o.csv' with an encoding "
        "that can, such as utf-8",
    )
    assert not (tmp_path / "out" / "o.csv").exists()
    err = write_error(tmp_path, pa.table({"€": [1]}), encoding="ascii")
    assert err.message.startswith("the column names have '€', which ascii cannot encode")


def test_utf16_has_one_byte_order_mark(tmp_path):
    data = write_csv(tmp_path, pa.table({"a": ["ü"]}), encoding="utf-16")
    assert data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    assert data.decode("utf-16") == '"a"\n"ü"\n'


def test_header_is_include_header(tmp_path):
    assert write_csv(tmp_path, pa.table({"a": [1]}), header=False) == b"1\n"
    assert write_csv(tmp_path, pa.table({"a": [1]}), header=True) == b'"a"\n1\n'


def test_columns_keep_the_input_order(tmp_path):
    # upstream sorts them by name; we do not
    assert write_csv(tmp_path, pa.table({"b": [1], "a": [2]})) == b'"b","a"\n1,2\n'


def test_create_dirs(tmp_path):
    err = write_error(tmp_path, name="new/o.csv", create_dirs=False)
    assert (err.code, err.message) == (
        "write.failed",
        "the folder of 'new/o.csv' does not exist; create it or set `create_dirs: true`",
    )
    assert write_csv(tmp_path, pa.table({"a": [1]}), name="o.csv", create_dirs=False)
    (tmp_path / "out" / "made").mkdir()
    assert write_csv(tmp_path, pa.table({"a": [1]}), name="made/o.csv", create_dirs=False)
    assert write_csv(tmp_path, pa.table({"a": [1]}), name="new/o.csv") == b'"a"\n1\n'


def test_append_adds_rows_without_a_header(tmp_path):
    first = pa.table({"id": [1], "name": ["a"]})
    second = pa.table({"id": [2], "name": ["b"]})
    assert write_csv(tmp_path, first, write_mode="append") == b'"id","name"\n1,"a"\n'
    assert write_csv(tmp_path, second, write_mode="append") == (b'"id","name"\n1,"a"\n2,"b"\n')
    assert write_csv(tmp_path, second, write_mode="overwrite") == b'"id","name"\n2,"b"\n'
    assert write_csv(tmp_path, second, write_mode="replace") == b'"id","name"\n2,"b"\n'


def test_append_ends_an_unfinished_last_line(tmp_path):
    target = tmp_path / "out" / "o.csv"
    target.parent.mkdir()
    target.write_bytes(b"id;name\r\n1;a")
    table = pa.table({"id": [2], "name": ["b"]})
    data = write_csv(tmp_path, table, write_mode="append", delimiter=";", newline="crlf")
    assert data == b'id;name\r\n1;a\r\n2;"b"\r\n'


def test_append_refuses_other_columns_and_keeps_the_file(tmp_path):
    target = tmp_path / "out" / "o.csv"
    target.parent.mkdir()
    target.write_bytes(b"id,name\n1,a\n")
    err = write_error(tmp_path, pa.table({"id": [2], "nom": ["b"]}), write_mode="append")
    assert (err.code, err.message) == (
        "write.failed",
        "cannot append to 'o.csv': its columns are ['id', 'name'], the input's are ['id', "
        "'nom']; append needs the same columns in the same order, or use write_mode: overwrite",
    )
    err = write_error(tmp_path, pa.table({"id": [2]}), write_mode="append", header=False)
    assert err.message == (
        "cannot append to 'o.csv': its rows have 2 fields, the input has 1 columns; use "
        "write_mode: overwrite"
    )
    assert target.read_bytes() == b"id,name\n1,a\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["o.csv"]


def test_append_in_utf16_adds_no_second_byte_order_mark(tmp_path):
    table = pa.table({"a": ["ü"]})
    write_csv(tmp_path, table, write_mode="append", encoding="utf-16")
    data = write_csv(tmp_path, table, write_mode="append", encoding="utf-16")
    assert data.count(codecs.BOM_UTF16_LE) + data.count(codecs.BOM_UTF16_BE) == 1
    assert data.decode("utf-16") == '"a"\n"ü"\n"ü"\n'


def test_unsupported_column_types_are_a_write_error(tmp_path):
    err = write_error(tmp_path, pa.table({"tags": [[1, 2]]}))
    assert (err.code, err.message) == (
        "write.failed",
        "cannot write 'o.csv' as CSV: Unsupported Type:list<item: int64>",
    )


# --- compiling upstream pipelines ----------------------------------------------------------

UPSTREAM = """
oml_version: "0.1.0"
name: csv-keys
steps:
  - id: read
    component: filesystem.csv_extractor
    mode: read
    config:
      path: data/in.csv.gz
      delimiter: ","
      encoding: utf-8
      header: 1
      columns: [id, day]
      skip_rows: 2
      limit: 10
      parse_dates: [day]
      dtype: {id: Int64}
      na_values: ["-"]
      chunk_size: 10000
      skip_blank_lines: false
      comment: "#"
      compression: infer
  - id: write
    component: filesystem.csv_writer
    mode: write
    needs: [read]
    config:
      path: out/x.csv
      delimiter: ","
      header: true
      encoding: latin-1
      newline: crlf
      quoting: nonnumeric
      quotechar: '"'
      chunk_size: 1000
      create_dirs: true
      write_mode: overwrite
"""


def compile_text(tmp_path: Path, text: str):
    path = tmp_path / "p.yaml"
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return compile_pipeline(path, environ={})


def compile_errors(tmp_path: Path, text: str) -> list[tuple[str, str | None]]:
    with pytest.raises(PipelineError) as err:
        compile_text(tmp_path, text)
    return [(p.message, p.hint) for p in err.value.problems if p.severity == "error"]


def test_upstream_keys_compile_and_chunk_size_is_a_warning(tmp_path):
    manifest = compile_text(tmp_path, UPSTREAM)
    assert [(w.severity, w.step_id, w.path, w.message) for w in manifest.warnings] == [
        (
            "warning",
            "read",
            "config.chunk_size",
            "'chunk_size' changes nothing here: the file is streamed in blocks of block_size_mb",
        ),
        (
            "warning",
            "write",
            "config.chunk_size",
            "'chunk_size' changes nothing here: rows are written in batches as they stream in",
        ),
    ]
    steps = {s["id"]: s for s in manifest.data["steps"]}
    assert steps["read"]["config"]["parse_dates"] == ["day"]
    assert steps["write"]["config"]["quoting"] == "nonnumeric"


def test_a_typo_is_still_an_error(tmp_path):
    text = UPSTREAM.replace('      delimiter: ","\n      header: true', '      delimeter: ","')
    assert compile_errors(tmp_path, text) == [
        ("unknown key 'delimeter'", "did you mean 'delimiter'?")
    ]


def test_synonyms_are_refused_together(tmp_path):
    text = UPSTREAM.replace("      header: 1\n", "      header: 1\n      has_header: true\n")
    text = text.replace("      header: true\n", "      header: true\n      include_header: true\n")
    text = text.replace("      comment:", "      null_values: [x]\n      comment:")
    assert compile_errors(tmp_path, text) == [
        ("give only one of 'has_header', 'header'", "they mean the same"),
        ("give only one of 'null_values', 'na_values'", "they mean the same"),
        ("give only one of 'include_header', 'header'", "they mean the same"),
    ]
