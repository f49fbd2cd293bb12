"""Random and mutated input must only ever produce PipelineError, with located problems."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from osiris.errors import PipelineError
from osiris.pipeline import load_pipeline
from testing.pipelines import MYSQL_TO_POSTGRES, ORDERS, compile_file

FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SEEDS = [ORDERS.read_text(), MYSQL_TO_POSTGRES.read_text()]
CONNECTIONS = (MYSQL_TO_POSTGRES.parent / "osiris_connections.yaml").read_text()
YAML_BITS = [
    ":",
    "-",
    " ",
    "\n",
    "  ",
    "{",
    "}",
    "[",
    "]",
    "&a",
    "*a",
    "<<",
    "!!",
    "'",
    '"',
    "#",
    "${",
    "}",
    "${params.",
    "@mysql",
    "?",
    "|",
    ">",
    "\t",
    "~",
    "null",
    "---",
]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def check(path: Path, *, compile_too: bool = True, **kwargs: Any) -> None:
    calls: list[Callable[[], object]] = [lambda: load_pipeline(path)]
    if compile_too:
        calls.append(lambda: compile_file(path, **kwargs))
    for call in calls:
        try:
            call()
        except PipelineError as exc:
            assert exc.problems, "a PipelineError must carry its problems"
            for problem in exc.problems:
                assert problem.line >= 1, problem.format()
                assert problem.col >= 1, problem.format()
                assert problem.message
                problem.format()


@st.composite
def mutated(draw: st.DrawFn, seeds: list[str]) -> str:
    text = draw(st.sampled_from(seeds))
    for _ in range(draw(st.integers(1, 6))):
        pos = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["delete", "insert", "bit", "dup_line", "indent"]))
        if action == "delete":
            text = text[:pos] + text[pos + draw(st.integers(1, 20)) :]
        elif action == "insert":
            text = text[:pos] + draw(st.text(max_size=8)) + text[pos:]
        elif action == "bit":
            text = text[:pos] + draw(st.sampled_from(YAML_BITS)) + text[pos:]
        else:
            lines = text.split("\n")
            i = draw(st.integers(0, len(lines) - 1))
            if action == "dup_line":
                lines.insert(i, lines[i])
            else:
                lines[i] = " " * draw(st.integers(0, 5)) + lines[i].lstrip()
            text = "\n".join(lines)
    return text


@FUZZ
@given(text=st.text(max_size=300))
def test_random_text(workdir, text):
    path = workdir / "random.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    check(path)


@settings(FUZZ, max_examples=100)
@given(raw=st.binary(max_size=200))
def test_random_bytes(workdir, raw):
    path = workdir / "bytes.yaml"
    path.write_bytes(raw)
    check(path, compile_too=False)


@FUZZ
@given(text=mutated(SEEDS))
def test_mutated_pipelines(workdir, text):
    (workdir / "osiris_connections.yaml").write_text(CONNECTIONS)
    path = workdir / "mutated.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    check(path, params={"day": "d"})


@settings(FUZZ, max_examples=150)
@given(pipeline=mutated([SEEDS[1]]), connections=mutated([CONNECTIONS]))
def test_mutated_connections(workdir, pipeline, connections):
    path = workdir / "pipeline.yaml"
    path.write_text(pipeline, encoding="utf-8", errors="surrogatepass")
    (workdir / "osiris_connections.yaml").write_text(
        connections, encoding="utf-8", errors="surrogatepass"
    )
    check(path)


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(
        [
            "${params.min_amount}",
            "${params.day}",
            "${X}",
            "${X:-1}",
            "@mysql",
            "@mysql.local",
            "fixture.csv_extractor",
            "extract",
            "transform",
            "write",
            "../x",
            "/abs",
            "$${x}",
            "${params.nope}",
            "${",
        ]
    ),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
step_keys = st.sampled_from(["id", "component", "mode", "config", "needs", "x-a", "other"])
steps = st.lists(
    st.dictionaries(
        step_keys,
        st.one_of(
            values,
            st.sampled_from(
                [
                    "a",
                    "b",
                    "c",
                    "fixture.sql_transform",
                    "fixture.mysql_extractor",
                    "fixture.http_extractor",
                    "extract",
                    "transform",
                ]
            ),
            st.lists(st.sampled_from(["a", "b", "c", "d"]), max_size=3),
            st.fixed_dictionaries(
                {},
                optional={
                    "query": values,
                    "path": values,
                    "connection": values,
                    "token": values,
                    "table": values,
                    "url": values,
                },
            ),
        ),
        max_size=6,
    ),
    max_size=4,
)
pipelines = st.fixed_dictionaries(
    {},
    optional={
        "oml_version": st.sampled_from(["0.1.0", "0.2", 0.1]) | values,
        "name": st.sampled_from(["p", "Bad Name"]) | values,
        "description": values,
        "params": st.dictionaries(
            st.sampled_from(["min_amount", "day", "Bad", "x"]),
            st.fixed_dictionaries(
                {},
                optional={
                    "type": st.sampled_from(["string", "integer", "number", "boolean", "float"])
                    | values,
                    "default": values,
                    "description": values,
                    "extra": values,
                },
            )
            | values,
            max_size=3,
        ),
        "steps": steps | values,
        "x-ext": values,
        "unknown": values,
    },
)


@FUZZ
@given(
    data=pipelines,
    params=st.dictionaries(
        st.sampled_from(["min_amount", "day", "zz"]), st.text(max_size=6), max_size=2
    ),
)
def test_structured_pipelines(workdir, data, params):
    (workdir / "osiris_connections.yaml").write_text(CONNECTIONS)
    path = workdir / "structured.yaml"
    path.write_text(
        yaml.safe_dump(data, allow_unicode=True), encoding="utf-8", errors="surrogatepass"
    )
    check(path, params=params, environ={"OSIRIS_PARAM_DAY": "x"})
