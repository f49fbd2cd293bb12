"""The component registry, built-ins and entry-point discovery, and the components commands."""

from __future__ import annotations

import json

import pytest

from osiris.cli import main
from osiris.components import Component, Registry, _load_spec, get_registry
from osiris.errors import UsageError

BUILTINS = {
    "duckdb.processor",
    "filesystem.csv_extractor",
    "filesystem.csv_writer",
    "filesystem.parquet_extractor",
    "filesystem.parquet_writer",
}


def test_builtins_and_entry_point_components_are_registered():
    registry = get_registry()
    names = set(registry.names())
    assert names >= BUILTINS
    # testing/testkit is a separate distribution installed into the test venv; it registers
    # through the `osiris.components` entry point group
    probe = registry.require("testkit.probe")
    assert probe.source == "osiris-testkit"
    assert probe.package == "osiris_testkit.probe"
    assert probe.load_driver().__name__ == "osiris_testkit.probe.driver"
    assert registry.require("filesystem.csv_writer").source == "builtin"


def test_unknown_component_names_the_fix():
    with pytest.raises(UsageError) as err:
        get_registry().require("nope.nothing")
    assert err.value.message == "unknown component 'nope.nothing'"
    assert err.value.hint == "run `osiris components list` to see the available ones"


def test_invalid_spec_is_a_clear_error():
    with pytest.raises(UsageError) as err:
        _load_spec("name: Bad Name\nversion: 1\n", "x/spec.yaml")
    assert err.value.message.startswith("invalid component spec x/spec.yaml: ")


def test_registry_is_a_plain_mapping():
    spec = get_registry().require("filesystem.csv_writer").spec
    registry = Registry({"filesystem.csv_writer": Component(spec, "p", "builtin")})
    assert registry.names() == ["filesystem.csv_writer"]
    assert registry.get("duckdb.processor") is None


def test_components_list_and_show(capsys):
    assert main(["components", "list", "--json"]) == 0
    listed = {c["name"]: c for c in json.loads(capsys.readouterr().out)}
    assert listed["testkit.probe"]["source"] == "osiris-testkit"
    assert listed["duckdb.processor"]["modes"] == ["transform"]

    assert main(["components", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["NAME", "VERSION", "MODES", "TITLE"]
    assert any(line.startswith("filesystem.csv_extractor") for line in lines)

    assert main(["components", "show", "testkit.probe", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["x-secret"] == ["/connection/password", "/connection/dsn", "/token"]
    assert shown["connection_family"] == "testdb"

    assert main(["components", "show", "nope.nothing"]) == 2
    assert "unknown component 'nope.nothing'" in capsys.readouterr().err


def test_load_driver_reads_only_the_spec_it_needs_and_falls_back_to_the_registry():
    from osiris.components import load_driver

    assert load_driver("supabase.writer").__name__ == "osiris.components.supabase.writer.driver"
    assert load_driver("filesystem.csv_writer").__name__ == (
        "osiris.components.filesystem.csv_writer.driver"
    )
    # registered through an entry point: found through the registry
    assert load_driver("testkit.probe").__name__ == "osiris_testkit.probe.driver"
    with pytest.raises(UsageError) as err:
        load_driver("nosuch.thing")
    assert err.value.message == "unknown component 'nosuch.thing'"
