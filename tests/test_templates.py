from __future__ import annotations

import pytest

from osiris.session import Masker
from osiris.templates import (
    MissingVariableError,
    Ref,
    TemplateError,
    env_refs,
    parse_template,
    render,
    whole_ref,
)


def test_parse_template():
    assert parse_template("plain") == ["plain"]
    assert parse_template("${A}") == [Ref("A")]
    assert parse_template("x${A:-1}y${params.n}") == ["x", Ref("A", "1"), "y", Ref("params.n")]
    assert parse_template("${A:-}") == [Ref("A", "")]
    assert parse_template("${A:-a-b:-c}") == [Ref("A", "a-b:-c")]
    assert parse_template("$${A} $$ $x") == ["${A} $$ $x"]
    assert Ref("A", "x").text == "${A:-x}"
    with pytest.raises(TemplateError, match=r"^'\$\{A' is missing its closing '\}'$"):
        parse_template("${A")
    for bad in ("${1A}", "${A-B}", "${}", "${ A}"):
        with pytest.raises(TemplateError, match=r"is not a valid reference$"):
            parse_template(bad)


@pytest.mark.parametrize(
    ("text", "kind", "detail"),
    [
        ("${PG_PASSWORD}", "env", "PG_PASSWORD"),
        ("${params.since}", "param", "since"),
        ("${extract-movies.df}", "step", "extract-movies"),
        ("${extract_orders.df}", "step", "extract_orders"),
        ("${v1.2.df}", "step", "v1.2"),
        ("${a.b}", "invalid", None),
        ("${params.bad-name}", "invalid", None),
    ],
)
def test_reference_kinds(text, kind, detail):
    ref = whole_ref(text)
    assert ref is not None
    assert ref.kind == kind
    if kind == "param":
        assert ref.param == detail
    if kind == "step":
        assert ref.step == detail


def test_render_follows_the_shell_for_defaults():
    env = {"HOST": "db", "EMPTY": ""}
    assert render("${HOST}:${PORT:-3306}", env) == "db:3306"
    assert render("${EMPTY:-fallback}", env) == "fallback"
    assert render("${EMPTY}", env) == ""
    assert render("$${HOST} ${params.x}", env) == "${HOST} ${params.x}"
    with pytest.raises(MissingVariableError) as err:
        render("${NOPE}", env)
    assert err.value.name == "NOPE"
    assert render("a${NOPE}b", env, missing="keep") == "a${NOPE}b"


def test_env_refs_skip_params_steps_and_malformed_text():
    value = {"a": ["${A:-1} ${params.p}", "${s.df}"], "b": "${B", "c": 3}
    assert env_refs(value) == [Ref("A", "1")]


def test_masker_resolves_templates_as_the_run_does():
    # `${PW:-hunter22}` with PW set but empty is `hunter22`, for connections and masker alike
    manifest = {
        "env": {"secret": []},
        "connections": {
            "@mysql.a": {"fields": {"password": "x${PW:-hunter22}"}, "secret_fields": ["password"]}
        },
    }
    masker = Masker.from_manifest(manifest, {"PW": ""})
    assert "xhunter22" in masker.secrets
    assert masker.mask("login with xhunter22 now") == "login with *** now"
