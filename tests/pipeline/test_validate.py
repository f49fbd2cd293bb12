from __future__ import annotations

from pathlib import Path

import pytest

from osiris.errors import PipelineError
from osiris.pipeline import Param, load_pipeline
from testing.pipelines import ORDERS, problems, write

P = Path("p.yaml")
STEP = """
  - id: {id}
    component: fixture.sql_transform
    mode: transform
    needs: {needs}
    config: {{query: select 1}}
"""


def load_problems(text: str) -> list[str]:
    return problems(lambda: load_pipeline(write(P, text)))


def with_steps(*steps: tuple[str, list[str]]) -> str:
    body = "".join(STEP.format(id=i, needs="[" + ", ".join(n) + "]") for i, n in steps)
    return 'oml_version: "0.1.0"\nname: p\nsteps:' + body


def test_loads_the_fixture_pipeline():
    pipeline = load_pipeline(ORDERS)
    assert pipeline.name == "orders-summary"
    assert pipeline.description == "Sum up large orders per customer."
    assert pipeline.params["min_amount"] == Param(
        name="min_amount", type="number", default=10, description="Smallest order amount to count"
    )
    assert pipeline.params["day"].default is None
    assert pipeline.params["day"].env_var == "OSIRIS_PARAM_DAY"
    assert [s.id for s in pipeline.steps] == ["extract_orders", "summarize", "write_summary"]
    assert pipeline.order == ("extract_orders", "summarize", "write_summary")
    assert pipeline.step("summarize").needs == ("extract_orders",)
    assert pipeline.extensions == {"x-owner": "data-team"}
    assert pipeline.source == ORDERS.read_bytes()


def test_top_level_must_be_a_mapping(here):
    assert load_problems("- a\n- b\n") == [
        "p.yaml:1:1: the top level must be a mapping (oml_version, name, steps), got a list "
        "(hint: see docs/pipelines.md for the layout of a pipeline file)"
    ]
    assert load_problems("just text\n") == [
        "p.yaml:1:1: the top level must be a mapping (oml_version, name, steps), "
        "got string 'just text' (hint: see docs/pipelines.md for the layout of a pipeline file)"
    ]


def test_empty_file(here):
    assert load_problems("") == [
        "p.yaml:1:1: the file is empty "
        "(hint: write the YAML content; see docs/pipelines.md for an example)"
    ]


def test_yaml_syntax_error(here):
    assert load_problems('oml_version: "0.1.0"\nname: [p\n') == [
        "p.yaml:3:1: invalid YAML: while parsing a flow sequence, did not find expected ',' "
        "or ']' (hint: check indentation, quotes, colons and brackets around this position)"
    ]


def test_missing_and_unknown_top_level_keys(here):
    assert load_problems("nmae: p\nx-team: ok\nfoo: 1\n") == [
        "p.yaml:1:1: missing required key 'name' (hint: add `name: my-pipeline`)",
        "p.yaml:1:1: missing required key 'oml_version' "
        '(hint: add `oml_version: "0.1.0"` at the top of the file)',
        "p.yaml:1:1: missing required key 'steps' (hint: add `steps:` with at least one step)",
        "p.yaml:1:1: nmae: unknown key 'nmae' (hint: did you mean 'name'?)",
        "p.yaml:3:1: foo: unknown key 'foo' (hint: allowed keys: description, metadata, name, "
        "oml_version, params, schedule, steps; custom keys must start with 'x-')",
    ]


def test_oml_version(here):
    steps = "steps:\n" + STEP.format(id="a", needs="[]")
    assert load_problems(f'oml_version: "0.2.0"\nname: p\n{steps}') == [
        "p.yaml:1:14: oml_version: unsupported oml_version '0.2.0' "
        '(hint: this version of Osiris supports oml_version "0.1.0")'
    ]
    assert load_problems(f"oml_version: 0.1\nname: p\n{steps}") == [
        "p.yaml:1:14: oml_version: expected a quoted string, got number 0.1 "
        '(hint: write oml_version: "0.1.0")'
    ]


def test_name_and_description(here):
    steps = "steps:\n" + STEP.format(id="a", needs="[]")
    # any name, as upstream Osiris takes it; only an empty one is refused
    text = f'oml_version: "0.1.0"\nname: Orders Summary\n{steps}'
    assert load_pipeline(write(P, text)).name == "Orders Summary"
    assert load_problems(f'oml_version: "0.1.0"\nname: " "\n{steps}') == [
        "p.yaml:2:7: name: the name is empty (hint: write `name: my-pipeline`)"
    ]
    assert load_problems(f'oml_version: "0.1.0"\nname: 12\ndescription: [x]\n{steps}') == [
        "p.yaml:2:7: name: expected a string, got integer 12",
        "p.yaml:3:14: description: expected a string, got a list",
    ]


def test_params(here):
    text = """
        oml_version: "0.1.0"
        name: p
        params:
          n: {type: integer, default: "x"}
          Bad: {type: string}
          m: {type: float}
          k: 5
          ok: {type: boolean, default: true, help: x}
          f: {type: number, default: true}
          nodefault: {type: string, default: null}
        steps:
          - {id: a, component: fixture.sql_transform, mode: transform, config: {query: q}}
    """
    assert load_problems(text) == [
        "p.yaml:4:31: params.n.default: expected an integer (the parameter's type), "
        "got string 'x' (hint: fix the default, or remove it to make the parameter required)",
        "p.yaml:5:3: params.Bad: invalid parameter name 'Bad' (hint: use lower-case letters, "
        "digits and '_', starting with a letter or '_')",
        "p.yaml:6:13: params.m.type: unknown parameter type 'float' "
        "(hint: use one of: string, integer, number, boolean)",
        "p.yaml:7:6: params.k: a parameter must be a mapping (type, default, description), "
        "got integer 5 (hint: write `k: {type: string, default: ...}`)",
        "p.yaml:8:38: params.ok.help: unknown key 'help' (hint: allowed keys: default, "
        "description, type; custom keys must start with 'x-')",
        "p.yaml:9:30: params.f.default: expected a number (the parameter's type), "
        "got boolean true (hint: fix the default, or remove it to make the parameter required)",
        "p.yaml:10:38: params.nodefault.default: expected a string (the parameter's type), "
        "got null (hint: fix the default, or remove it to make the parameter required)",
    ]


def test_steps_shape(here):
    assert load_problems('oml_version: "0.1.0"\nname: p\nsteps: []\n') == [
        "p.yaml:3:8: steps: a pipeline needs at least one step (hint: add a step under `steps:`)"
    ]
    assert load_problems('oml_version: "0.1.0"\nname: p\nsteps: {a: 1}\n') == [
        "p.yaml:3:8: steps: expected a list, got a mapping"
    ]
    text = """
        oml_version: "0.1.0"
        name: p
        steps:
          - just a string
          - id: Bad Id
            component: 5
            mode: transform
            config: [1]
            needs: a
          - id: ok
            mode: transform
            x-note: fine
            color: red
    """
    assert load_problems(text) == [
        "p.yaml:4:5: steps[0]: a step must be a mapping (id, component, mode, config), "
        "got string 'just a string' (hint: write each step as `- id: ...` with its keys "
        "indented below)",
        "p.yaml:5:9: steps[1].id: invalid step id 'Bad Id' (hint: use letters, digits, '-', "
        "'_' and '.')",
        "p.yaml:6:16: steps[1].component: expected a string, got integer 5",
        "p.yaml:8:13: steps[1].config: expected a mapping, got a list",
        "p.yaml:9:12: steps[1].needs: expected a list, got string 'a'",
        "p.yaml:10:5: step 'ok': missing required key 'component' (hint: add `component: "
        "family.kind`; `osiris components list` shows the available ones)",
        "p.yaml:13:5: step 'ok' → color: unknown key 'color' (hint: allowed keys: component, "
        "config, description, id, inputs, mode, needs; custom keys must start with 'x-')",
    ]


def test_duplicate_ids_point_at_the_second(here):
    assert load_problems(with_steps(("a", []), ("b", []), ("a", []))) == [
        "p.yaml:16:9: step 'a' → id: duplicate step id 'a' (first used on line 4) "
        "(hint: give every step a unique id)"
    ]


def test_needs_unknown_self_and_duplicates(here):
    assert load_problems(with_steps(("load", ["lod", "load"]), ("b", ["zz", "load", "load"]))) == [
        "p.yaml:7:13: step 'load' → needs[0]: needs unknown step 'lod' "
        "(hint: did you mean 'load'?)",
        "p.yaml:7:18: step 'load' → needs[1]: step 'load' needs itself "
        "(hint: remove 'load' from needs)",
        "p.yaml:13:13: step 'b' → needs[0]: needs unknown step 'zz' "
        "(hint: step ids in this pipeline: load, b)",
        "p.yaml:13:23: step 'b' → needs[2]: 'load' is listed twice in needs "
        "(hint: remove the duplicate)",
    ]


def test_cycles_are_named_in_order(here):
    text = with_steps(("a", ["c"]), ("b", ["a"]), ("c", ["b"]), ("d", ["c"]), ("e", []))
    assert load_problems(text) == [
        "p.yaml:7:5: step 'a' → needs: steps form a cycle: a → c → b → a "
        "(hint: each step needs the next one; remove one of these needs to break the cycle)"
    ]


def test_two_cycles_are_both_reported(here):
    text = with_steps(("a", ["b"]), ("b", ["a"]), ("c", ["d"]), ("d", ["c"]))
    assert [p.split(" (hint")[0] for p in load_problems(text)] == [
        "p.yaml:7:5: step 'a' → needs: steps form a cycle: a → b → a",
        "p.yaml:19:5: step 'c' → needs: steps form a cycle: c → d → c",
    ]


def test_topological_order_breaks_ties_by_file_order(here):
    text = with_steps(
        ("report", ["join"]),
        ("join", ["b", "a"]),
        ("b", []),
        ("a", []),
        ("side", []),
    )
    assert load_pipeline(write(P, text)).order == ("b", "a", "join", "report", "side")


def test_all_problems_are_reported_together(here):
    text = """
        oml_version: "9"
        name: ""
        steps:
          - id: a
            component: fixture.sql_transform
            mode: transform
            needs: [missing]
            config: {query: q}
    """
    with pytest.raises(PipelineError) as err:
        load_pipeline(write(P, text))
    assert err.value.message == "3 problems found"
    assert [(p.line, p.col, p.step_id, p.path) for p in err.value.problems] == [
        (1, 14, None, "oml_version"),
        (2, 7, None, "name"),
        (7, 13, "a", "needs[0]"),
    ]
    assert err.value.exit_code == 2


def test_empty_sections_read_as_none(here):
    text = (
        'oml_version: "0.1.0"\nname: p\nparams:\nsteps:\n  - id: a\n    component: c.d\n'
        "    mode: extract\n    config:\n    needs:\n"
    )
    pipeline = load_pipeline(write(P, text))
    assert pipeline.params == {}
    assert pipeline.steps[0].config == {}
    assert pipeline.steps[0].needs == ()
