from __future__ import annotations

from pathlib import Path

import pytest

from osiris.document import format_path, parse_yaml, read_yaml


def findings(text: str) -> list[tuple[int, int, str, str]]:
    doc = parse_yaml(text, file="p.yaml")
    return [(f.line, f.col, format_path(f.path), f.message) for f in doc.findings]


def test_positions_of_keys_and_values():
    doc = parse_yaml("a: 1\nb:\n  - x\n  - {c: d}\n", file="p.yaml")
    assert doc.data == {"a": 1, "b": ["x", {"c": "d"}]}
    assert doc.positions.value(("a",)) == (1, 4)
    assert doc.positions.key(("a",)) == (1, 1)
    assert doc.positions.value(("b", 1, "c")) == (4, 9)
    assert doc.positions.key(("b", 1, "c")) == (4, 6)
    # A path that does not exist falls back to its nearest existing ancestor.
    assert doc.positions.value(("b", 1, "missing", "deeper")) == (4, 5)
    assert doc.findings == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "a: [1, 2\n",
            (
                2,
                1,
                "",
                "invalid YAML: while parsing a flow sequence, did not find expected ',' or ']'",
            ),
        ),
        ("a: b: c\n", (1, 5, "", "invalid YAML: mapping values are not allowed in this context")),
        (
            "a: 1\n---\nb: 2\n",
            (
                2,
                1,
                "",
                "invalid YAML: expected a single document in the stream, "
                "but found another document",
            ),
        ),
        ("a: *nope\n", (1, 4, "", "invalid YAML: found undefined alias")),
        ("", (1, 1, "", "the file is empty")),
        ("# only a comment\n", (1, 1, "", "the file is empty")),
        ("a: 1\nb: x\x07y\n", (2, 5, "", "invalid YAML: character U+0007 is not allowed")),
    ],
)
def test_syntax_errors_are_located(text, expected):
    assert findings(text) == [expected]


def test_duplicate_keys_point_at_the_second():
    assert findings("a: 1\nb:\n  c: 1\n  c: 2\na: 3\n") == [
        (4, 3, "b.c", "duplicate key 'c' (first defined on line 3)"),
        (5, 1, "a", "duplicate key 'a' (first defined on line 1)"),
    ]


def test_keys_keep_their_text_and_odd_keys_are_findings():
    doc = parse_yaml("on: 1\n1: 2\nnull: 3\n", file="p.yaml")
    assert doc.data == {"on": 1, "1": 2, "null": 3}
    assert findings("? [a]\n: 1\n") == [(1, 3, "", "a key must be a non-empty text")]
    assert findings('"": 1\n') == [(1, 1, "", "a key must be a non-empty text")]


def test_values_that_are_not_plain_json_are_findings():
    assert findings("a: !custom 1\nb: !!binary aGk=\nc: !!set {x}\n") == [
        (1, 4, "a", "unsupported YAML tag '!custom'"),
        (2, 4, "b", "unsupported YAML tag '!!binary'"),
        (3, 4, "c", "unsupported YAML tag '!!set'"),
    ]
    assert findings("a: .nan\nb: -.inf\n") == [
        (1, 4, "a", "'.nan' is not a finite number"),
        (2, 4, "b", "'-.inf' is not a finite number"),
    ]
    assert findings("a: " + "9" * 5000 + "\n") == [
        (1, 4, "a", "'" + "9" * 5000 + "' is not a number Osiris can represent")
    ]


def test_dates_stay_text_and_yaml_11_scalars_follow_pyyaml():
    doc = parse_yaml("d: 2024-05-01\nt: 2024-05-01T10:00:00Z\nb: yes\nn: ~\nf: 1.5\n", file="p")
    assert doc.data == {
        "d": "2024-05-01",
        "t": "2024-05-01T10:00:00Z",
        "b": True,
        "n": None,
        "f": 1.5,
    }


def test_aliases_and_merge_keys():
    doc = parse_yaml(
        "base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  y: 3\nlist: [*b, *b]\n", file="p.yaml"
    )
    assert doc.data["use"] == {"x": 1, "y": 3}
    assert doc.data["list"] == [{"x": 1, "y": 2}, {"x": 1, "y": 2}]
    # Merged keys are located where they were written, explicit keys where they are.
    assert doc.positions.value(("use", "x")) == (1, 14)
    assert doc.positions.value(("use", "y")) == (4, 6)
    assert findings("a: &a [1, *a]\n") == [
        (1, 4, "a[1]", "an alias refers to a node that contains it")
    ]
    assert findings("a:\n  <<: 5\n") == [
        (2, 7, "a", "'<<' must merge a mapping or a list of mappings")
    ]


def test_alias_bombs_and_deep_nesting_are_bounded():
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 8)]
    result = findings("\n".join(lines) + "\n")
    assert result[0][3] == "the document is too large (more than 100000 values)"
    assert findings("a: " + "[" * 70 + "]" * 70 + "\n")[0][3] == "nesting is deeper than 64 levels"


def test_read_yaml_reports_unreadable_and_non_utf8(tmp_path: Path):
    raw, doc = read_yaml(tmp_path / "missing.yaml")
    assert raw == b""
    assert [(f.line, f.message) for f in doc.findings] == [
        (0, "cannot read the file: No such file or directory")
    ]
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes(b"a: 1\nname: caf\xe9\n")
    _, doc = read_yaml(bad, file="latin1.yaml")
    assert [(f.line, f.col, f.message) for f in doc.findings] == [
        (2, 10, "the file is not valid UTF-8 text")
    ]
    bom = tmp_path / "bom.yaml"
    bom.write_bytes(b"\xef\xbb\xbfa: 1\n")
    assert read_yaml(bom)[1].data == {"a": 1}


def test_format_path():
    assert format_path(("steps", 2, "config", "columns", 0)) == "steps[2].config.columns[0]"
    assert format_path(()) == ""
