from __future__ import annotations

from pathlib import Path

import pytest

from osiris.pipeline.params import coerce
from testing.pipelines import ORDERS, compile_file, problems, write

P = Path("p.yaml")
TYPED = """
    oml_version: "0.1.0"
    name: p
    params:
      n: {type: integer, default: 5}
      x: {type: number, default: 1.5}
      flag: {type: boolean, default: false}
      s: {type: string, default: "a b"}
    steps:
      - id: t
        component: fixture.sql_transform
        mode: transform
        config:
          query: "n=${params.n} x=${params.x} flag=${params.flag} s=${params.s} $${params.n}"
          threshold: ${params.x}
          enabled: ${params.flag}
      - id: r
        component: fixture.csv_extractor
        mode: extract
        config:
          path: "${params.s}"
          limit: ${params.n}
"""


def configs(manifest) -> dict[str, dict]:
    return {s["id"]: s["config"] for s in manifest.data["steps"]}


def test_precedence_param_over_env_over_default():
    env = {"OSIRIS_PARAM_DAY": "2024-01-02", "OSIRIS_PARAM_REGION": "US"}
    m = compile_file(ORDERS, params={"day": "2024-01-03"}, environ=env)
    assert m.data["params"] == {"day": "2024-01-03", "min_amount": 10, "region": "US"}
    m = compile_file(ORDERS, environ=env)
    assert m.data["params"] == {"day": "2024-01-02", "min_amount": 10, "region": "US"}
    m = compile_file(ORDERS, environ={"OSIRIS_PARAM_DAY": "d", "OSIRIS_PARAM_MIN_AMOUNT": "2.5"})
    assert m.data["params"] == {"day": "d", "min_amount": 2.5, "region": "EU"}


def test_whole_references_keep_their_type_embedded_ones_become_text(here):
    m = compile_file(write(P, TYPED))
    assert configs(m) == {
        "t": {
            "query": "n=5 x=1.5 flag=false s=a b $${params.n}",
            "threshold": 1.5,
            "enabled": False,
        },
        "r": {"path": "a b", "limit": 5},
    }
    m = compile_file(write(P, TYPED), params={"n": "7", "x": "2", "flag": "YES", "s": "${HOME}"})
    assert configs(m)["t"]["enabled"] is True
    assert configs(m)["r"] == {"path": "$${HOME}", "limit": 7}
    # A `${` coming from a parameter value stays literal: it is not an environment reference.
    assert m.data["env"] == {"optional": [], "required": [], "secret": []}
    assert m.data["params"] == {"flag": True, "n": 7, "s": "${HOME}", "x": 2}


@pytest.mark.parametrize(
    ("ptype", "text", "value"),
    [
        ("string", " keep spaces ", " keep spaces "),
        ("integer", "42", 42),
        ("integer", " -7 ", -7),
        ("number", "3.25", 3.25),
        ("number", "10", 10),
        ("number", "1e3", 1000.0),
        ("boolean", "true", True),
        ("boolean", "Off", False),
        ("boolean", "1", True),
    ],
)
def test_coerce(ptype, text, value):
    result = coerce(ptype, text)
    assert result == value
    assert type(result) is type(value)


@pytest.mark.parametrize(
    ("ptype", "text"),
    [
        ("integer", "1.5"),
        ("integer", "1_000"),
        ("integer", ""),
        ("number", "nan"),
        ("number", "inf"),
        ("number", "1e999"),
        ("integer", "9" * 5000),
        ("number", "1,5"),
        ("boolean", "maybe"),
    ],
)
def test_coerce_rejects(ptype, text):
    with pytest.raises(ValueError):
        coerce(ptype, text)


def test_coercion_errors_name_the_parameter_and_source():
    assert problems(lambda: compile_file(ORDERS, params={"day": "d", "min_amount": "lots"})) == [
        f"{ORDERS}:5:3: params.min_amount: parameter 'min_amount' must be a number, got 'lots' "
        "from --param min_amount (hint: give --param min_amount a number value, e.g. 3.5)"
    ]
    env = {"OSIRIS_PARAM_DAY": "d", "OSIRIS_PARAM_MIN_AMOUNT": "x" * 50}
    assert problems(lambda: compile_file(ORDERS, environ=env)) == [
        f"{ORDERS}:5:3: params.min_amount: parameter 'min_amount' must be a number, "
        f"got '{'x' * 37}...' from OSIRIS_PARAM_MIN_AMOUNT "
        "(hint: give OSIRIS_PARAM_MIN_AMOUNT a number value, e.g. 3.5)"
    ]


def test_missing_and_unknown_parameters():
    assert problems(lambda: compile_file(ORDERS, params={"dya": "x"})) == [
        f"{ORDERS}:4:1: params: unknown parameter 'dya' given with --param "
        "(hint: declared parameters: day, min_amount, region)",
        f"{ORDERS}:7:3: params.day: parameter 'day' has no value "
        "(hint: pass --param day=... or set OSIRIS_PARAM_DAY, or give it a default)",
    ]


def test_unknown_parameter_reference_and_bad_templates(here):
    text = """
        oml_version: "0.1.0"
        name: p
        steps:
          - id: t
            component: fixture.sql_transform
            mode: transform
            config:
              query: "${params.nope} and ${env.X}"
              threshold: "${params.n:-1}"
          - id: u
            component: fixture.sql_transform
            mode: transform
            needs: []
            config: {query: "${not valid}"}
    """
    assert problems(lambda: compile_file(write(P, text), params={"n": "1"})) == [
        "p.yaml:1:1: params: unknown parameter 'n' given with --param "
        "(hint: this pipeline declares no parameters; add it under `params:`)",
        "p.yaml:8:14: step 't' → config.query: '${env.X}' is not a valid reference "
        "(hint: write ${params.name} for a parameter or ${VAR} for an environment variable)",
        "p.yaml:8:14: step 't' → config.query: unknown parameter 'nope' in '${params.nope}' "
        "(hint: declare 'nope' under `params:`)",
        "p.yaml:9:18: step 't' → config.threshold: '${params.n:-1}': parameters take no ':-' "
        "default here (hint: give parameter 'n' a default under `params:` instead)",
        "p.yaml:14:21: step 'u' → config.query: '${not valid}' is not a valid reference "
        "(hint: write ${VAR}, ${VAR:-default} or ${params.name}; write $${ for a literal ${)",
    ]
