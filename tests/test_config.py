from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from osiris.config import CLI_FLAGS, LoadedConfig, OsirisConfig, load_config
from osiris.errors import EXIT_USAGE, UsageError

HINT = "docs/configuration.md lists every key with its type, default and environment variable"
ROOT = Path(__file__).resolve().parents[1]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def load(tmp_path: Path, yaml_text: str | None = None, **kwargs) -> LoadedConfig:
    if yaml_text is not None:
        write(tmp_path / "osiris.yaml", yaml_text)
    kwargs.setdefault("environ", {})
    return load_config(cwd=tmp_path, **kwargs)


def error_of(tmp_path: Path, yaml_text: str | None = None, **kwargs) -> UsageError:
    with pytest.raises(UsageError) as info:
        load(tmp_path, yaml_text, **kwargs)
    assert info.value.exit_code == EXIT_USAGE
    return info.value


# -- defaults ---------------------------------------------------------------------------------

ALL_KEYS = [
    "connections_file",
    "logging.events",
    "logging.level",
    "logging.logs_dir",
    "runner.bundle_on_failure",
    "runner.cpu",
    "runner.e2b.cpu",
    "runner.e2b.env_from_secrets",
    "runner.e2b.image",
    "runner.e2b.memory_mb",
    "runner.e2b.network.allow",
    "runner.e2b.timeout_seconds",
    "runner.e2b.wait_for_sandbox_seconds",
    "runner.executor",
    "runner.idle_timeout_seconds",
    "runner.max_parallel_runs",
    "runner.max_parallel_steps",
    "runner.memory_mb",
    "runner.network.allow",
    "runner.network.connect_timeout_seconds",
    "runner.on_failure",
    "runner.timeout_seconds",
]


def test_no_file_no_env_gives_the_defaults(tmp_path):
    loaded = load(tmp_path)
    assert loaded.file is None
    assert loaded.sources == dict.fromkeys(ALL_KEYS, "default")
    assert loaded.to_dict()["values"] == {
        "connections_file": None,
        "logging": {"events": ["*"], "level": "INFO", "logs_dir": "logs"},
        "runner": {
            "bundle_on_failure": True,
            "cpu": None,
            "e2b": {
                "cpu": None,
                "env_from_secrets": [],
                "image": "osiris",
                "memory_mb": None,
                "network": {"allow": None},
                "timeout_seconds": 3600,
                "wait_for_sandbox_seconds": 600,
            },
            "executor": "local",
            "idle_timeout_seconds": 600,
            "max_parallel_runs": 1,
            "max_parallel_steps": 4,
            "memory_mb": None,
            "network": {"allow": ["*"], "connect_timeout_seconds": 30.0},
            "on_failure": "stop",
            "timeout_seconds": 3600,
        },
    }


def test_empty_file_and_empty_sections_mean_defaults(tmp_path):
    loaded = load(tmp_path, "# nothing yet\nrunner:\nlogging:\n  level: info\n")
    assert loaded.file == tmp_path / "osiris.yaml"
    assert loaded.get("runner.executor") == "local"
    assert loaded.get("logging.level") == "INFO"
    assert loaded.sources["logging.level"] == "osiris.yaml:4"
    assert load(tmp_path, "").sources == dict.fromkeys(ALL_KEYS, "default")


# -- precedence: CLI > ENV > YAML > defaults --------------------------------------------------

# key, (yaml text, parsed), (env var, env text, parsed), cli value
PRECEDENCE = [
    (
        "runner.executor",
        ("runner:\n  executor: e2b\n", "e2b", 2),
        ("OSIRIS_RUNNER__EXECUTOR", "local", "local"),
        "e2b",
    ),
    (
        "runner.timeout_seconds",
        ("runner:\n  timeout_seconds: 5\n", 5, 2),
        ("OSIRIS_RUNNER__TIMEOUT_SECONDS", "7", 7),
        9,
    ),
    (
        "logging.logs_dir",
        ("logging:\n  logs_dir: yaml-logs\n", "yaml-logs", 2),
        ("OSIRIS_LOGGING__LOGS_DIR", "env-logs", "env-logs"),
        "cli-logs",
    ),
    (
        "logging.events",
        ("logging:\n  events:\n    - run_*\n", ["run_*"], 2),
        ("OSIRIS_LOGGING__EVENTS", '["step_*","run_start"]', ["step_*", "run_start"]),
        ["step_complete"],
    ),
    (
        "runner.network.allow",
        ("runner:\n  network:\n    allow: [db:5432]\n", ["db:5432"], 3),
        (
            "OSIRIS_RUNNER__NETWORK__ALLOW",
            "a.example.com, b.example.com:443",
            ["a.example.com", "b.example.com:443"],
        ),
        ["https://api.example.com"],
    ),
    (
        "runner.e2b.network.allow",
        ("runner:\n  e2b:\n    network:\n      allow: [x]\n", ["x"], 4),
        ("OSIRIS_RUNNER__E2B__NETWORK__ALLOW", "y", ["y"]),
        ["z"],
    ),
    (
        "runner.bundle_on_failure",
        ("runner:\n  bundle_on_failure: false\n", False, 2),
        ("OSIRIS_RUNNER__BUNDLE_ON_FAILURE", "true", True),
        False,
    ),
    (
        "connections_file",
        ("connections_file: conf/connections.yaml\n", "conf/connections.yaml", 1),
        ("OSIRIS_CONNECTIONS_FILE", "env.yaml", "env.yaml"),
        "cli.yaml",
    ),
]
PRECEDENCE_IDS = [case[0] for case in PRECEDENCE]


@pytest.mark.parametrize(
    ("key", "yaml_case", "env_case", "cli_value"), PRECEDENCE, ids=PRECEDENCE_IDS
)
def test_precedence(tmp_path, key, yaml_case, env_case, cli_value):
    yaml_text, yaml_value, line = yaml_case
    env_name, env_text, env_value = env_case
    default = load(tmp_path).get(key)
    flag = CLI_FLAGS.get(key, f"--{key}")
    layers = [
        ({}, {}, default, "default"),
        ({}, {}, yaml_value, f"osiris.yaml:{line}"),
        ({env_name: env_text}, {}, env_value, f"env {env_name}"),
        ({env_name: env_text}, {key: cli_value}, cli_value, f"cli {flag}"),
    ]
    for index, (environ, cli, value, source) in enumerate(layers):
        text = yaml_text if index else None
        loaded = load(tmp_path / str(index), text, environ=environ, cli=cli)
        assert loaded.get(key) == value
        assert loaded.sources[key] == source
        others = {k: s for k, s in loaded.sources.items() if k != key}
        assert set(others.values()) == {"default"}


def test_layers_merge_recursively(tmp_path):
    loaded = load(
        tmp_path,
        "runner:\n  timeout_seconds: 5\n  network:\n    allow: [db:5432]\n",
        environ={
            "OSIRIS_RUNNER__EXECUTOR": "e2b",
            "OSIRIS_RUNNER__NETWORK__CONNECT_TIMEOUT_SECONDS": "2.5",
        },
        cli={"runner.e2b.image": "custom", "logging.level": "DEBUG"},
    )
    runner = loaded.config.runner
    assert (runner.timeout_seconds, runner.executor, runner.e2b.image) == (5, "e2b", "custom")
    assert runner.network.allow == ["db:5432"]
    assert runner.network.connect_timeout_seconds == 2.5
    assert {k: s for k, s in loaded.sources.items() if s != "default"} == {
        "logging.level": "cli --logging.level",
        "runner.e2b.image": "cli --image",
        "runner.executor": "env OSIRIS_RUNNER__EXECUTOR",
        "runner.network.allow": "osiris.yaml:4",
        "runner.network.connect_timeout_seconds": (
            "env OSIRIS_RUNNER__NETWORK__CONNECT_TIMEOUT_SECONDS"
        ),
        "runner.timeout_seconds": "osiris.yaml:2",
    }


def test_cli_sources_use_the_flag_names(tmp_path):
    loaded = load(
        tmp_path,
        cli={"runner.executor": "e2b", "runner.idle_timeout_seconds": 0, "logging.logs_dir": "x"},
        cli_flags={"runner.idle_timeout_seconds": "--idle-timeout"},
    )
    assert loaded.sources["runner.executor"] == "cli --executor"
    assert loaded.sources["runner.idle_timeout_seconds"] == "cli --idle-timeout"
    assert loaded.sources["logging.logs_dir"] == "cli --logs-dir"
    assert loaded.get("runner.idle_timeout_seconds") == 0


def test_env_section_as_json_and_deeper_variables_win(tmp_path):
    loaded = load(
        tmp_path,
        "runner:\n  memory_mb: 512\n",
        environ={
            "OSIRIS_RUNNER": '{"executor": "e2b", "network": {"allow": ["a"]}}',
            "OSIRIS_RUNNER__EXECUTOR": "local",
        },
    )
    assert loaded.get("runner.executor") == "local"
    assert loaded.get("runner.network.allow") == ["a"]
    assert loaded.get("runner.memory_mb") == 512
    assert loaded.sources["runner.executor"] == "env OSIRIS_RUNNER__EXECUTOR"
    assert loaded.sources["runner.network.allow"] == "env OSIRIS_RUNNER"
    assert loaded.sources["runner.memory_mb"] == "osiris.yaml:2"


def test_env_null_clears_and_empty_is_unset(tmp_path):
    loaded = load(
        tmp_path,
        "runner:\n  memory_mb: 512\n  executor: e2b\n",
        environ={"OSIRIS_RUNNER__MEMORY_MB": "null", "OSIRIS_RUNNER__EXECUTOR": ""},
    )
    assert loaded.get("runner.memory_mb") is None
    assert loaded.sources["runner.memory_mb"] == "env OSIRIS_RUNNER__MEMORY_MB"
    assert loaded.get("runner.executor") == "e2b"
    assert loaded.sources["runner.executor"] == "osiris.yaml:3"


def test_env_lists_take_comma_separated_values(tmp_path):
    loaded = load(
        tmp_path,
        environ={
            "OSIRIS_LOGGING__EVENTS": "run_*,step_*",
            "OSIRIS_RUNNER__E2B__ENV_FROM_SECRETS": "MYSQL_PASSWORD",
            "OSIRIS_RUNNER__NETWORK__ALLOW": "*",
        },
    )
    assert loaded.get("logging.events") == ["run_*", "step_*"]
    assert loaded.get("runner.e2b.env_from_secrets") == ["MYSQL_PASSWORD"]
    assert loaded.get("runner.network.allow") == ["*"]


def test_unrelated_osiris_variables_are_ignored(tmp_path):
    loaded = load(tmp_path, environ={"OSIRIS_PARAM_DAY": "1", "OSIRIS_SESSION": "x", "HOME": "/"})
    assert set(loaded.sources.values()) == {"default"}


def test_level_is_case_insensitive(tmp_path):
    assert (
        load(tmp_path, environ={"OSIRIS_LOGGING__LEVEL": "debug"}).get("logging.level") == "DEBUG"
    )


# -- which file -------------------------------------------------------------------------------


def test_osiris_config_names_the_file(tmp_path):
    write(tmp_path / "osiris.yaml", "runner:\n  executor: local\n")
    write(tmp_path / "conf" / "ci.yaml", "\nrunner:\n  executor: e2b\n")
    loaded = load(tmp_path, environ={"OSIRIS_CONFIG": "conf/ci.yaml"})
    assert loaded.file == tmp_path / "conf" / "ci.yaml"
    assert loaded.sources["runner.executor"] == "conf/ci.yaml:3"
    assert loaded.get("runner.executor") == "e2b"


def test_explicit_file_beats_osiris_config(tmp_path):
    write(tmp_path / "a.yaml", "runner:\n  executor: e2b\n")
    loaded = load(tmp_path, config_file=Path("a.yaml"), environ={"OSIRIS_CONFIG": "missing.yaml"})
    assert loaded.sources["runner.executor"] == "a.yaml:2"


def test_absolute_file_is_shown_as_given(tmp_path):
    path = write(tmp_path / "elsewhere" / "osiris.yaml", "runner:\n  cpu: 2\n")
    loaded = load(tmp_path, config_file=path)
    assert loaded.sources["runner.cpu"] == f"{path}:2"
    assert loaded.get("runner.cpu") == 2.0


def test_given_environ_is_independent_of_os_environ(tmp_path, monkeypatch):
    monkeypatch.delenv("OSIRIS_CONFIG", raising=False)
    monkeypatch.setenv("OSIRIS_RUNNER__EXECUTOR", "e2b")
    assert load(tmp_path, environ={}).get("runner.executor") == "local"
    from_os = load_config(cwd=tmp_path)
    assert from_os.get("runner.executor") == "e2b"
    assert from_os.sources["runner.executor"] == "env OSIRIS_RUNNER__EXECUTOR"
    assert OsirisConfig().runner.executor == "e2b"


# -- errors -----------------------------------------------------------------------------------


def test_unknown_keys_name_the_line_and_suggest(tmp_path):
    error = error_of(
        tmp_path,
        "runner:\n  executr: e2b\n  timout_seconds: 3\nexecutor: local\nfoo: 1\n"
        "logging:\n  level: verbose\n",
    )
    assert error.message == (
        "osiris.yaml:2: runner.executr: unknown key (did you mean runner.executor?)\n"
        "osiris.yaml:3: runner.timout_seconds: unknown key (did you mean runner.timeout_seconds?)\n"
        "osiris.yaml:4: executor: unknown key (did you mean runner.executor?)\n"
        "osiris.yaml:5: foo: unknown key (known keys here: logging, runner, connections_file)\n"
        "osiris.yaml:7: logging.level: expected one of DEBUG, INFO, WARNING, ERROR, got 'verbose'"
    )
    assert error.hint == HINT


def test_bad_types_from_yaml(tmp_path):
    error = error_of(
        tmp_path,
        "runner:\n  bundle_on_failure: maybe\n  cpu: -1\n  memory_mb: 1.5\n"
        "  timeout_seconds: 0\n  idle_timeout_seconds: -1\n"
        "  e2b:\n    env_from_secrets: [MYSQL PASSWORD]\n    network:\n      allow: db\n"
        "logging:\n  events: [1, run_*]\n",
    )
    assert error.message == (
        "osiris.yaml:2: runner.bundle_on_failure: expected true or false, got 'maybe'\n"
        "osiris.yaml:3: runner.cpu: expected a number greater than 0 or null, got -1\n"
        "osiris.yaml:4: runner.memory_mb: expected an integer greater than 0 or null, got 1.5\n"
        "osiris.yaml:5: runner.timeout_seconds: expected an integer greater than 0, got 0\n"
        "osiris.yaml:6: runner.idle_timeout_seconds: expected an integer, 0 or more, got -1\n"
        "osiris.yaml:8: runner.e2b.env_from_secrets: expected a list of environment variable"
        " names, got ['MYSQL PASSWORD']\n"
        "osiris.yaml:10: runner.e2b.network.allow: expected a list of hosts, host:port or URLs"
        " or null, got 'db'\n"
        "osiris.yaml:12: logging.events: expected a list of event names or globs, got [1, 'run_*']"
    )


def test_section_that_is_not_a_mapping(tmp_path):
    error = error_of(tmp_path, "runner: local\n")
    assert error.message == "osiris.yaml:1: runner: expected a mapping, got 'local'"


def test_bad_type_from_env(tmp_path):
    error = error_of(tmp_path, environ={"OSIRIS_RUNNER__TIMEOUT_SECONDS": "soon"})
    assert error.message == (
        "env OSIRIS_RUNNER__TIMEOUT_SECONDS: runner.timeout_seconds: expected an integer greater"
        " than 0, got 'soon'"
    )
    assert error.hint == HINT


def test_unknown_key_from_env(tmp_path):
    error = error_of(tmp_path, environ={"OSIRIS_RUNNER__E2B__IMAG": "x"})
    assert error.message == (
        "env OSIRIS_RUNNER__E2B__IMAG: runner.e2b.imag: unknown key"
        " (did you mean runner.e2b.image?)"
    )


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "OSIRIS_LOGGING__EVENTS",
            '["run_*"',
            "env OSIRIS_LOGGING__EVENTS: logging.events: expected a list of event names or globs"
            " (JSON or comma-separated), got '[\"run_*\"'",
        ),
        (
            "OSIRIS_RUNNER",
            "executor=e2b",
            "env OSIRIS_RUNNER: runner: expected a mapping, got 'executor=e2b'",
        ),
    ],
)
def test_unparsable_env_value(tmp_path, name, value, message):
    assert error_of(tmp_path, environ={name: value}).message == message


def test_bad_type_from_cli(tmp_path):
    error = error_of(
        tmp_path,
        "runner:\n  executor: e2b\n",
        environ={"OSIRIS_RUNNER__EXECUTOR": "local"},
        cli={"runner.executor": "docker", "runner.timeout_seconds": "1h"},
    )
    assert error.message == (
        "cli --executor: runner.executor: expected one of local, e2b, got 'docker'\n"
        "cli --timeout: runner.timeout_seconds: expected an integer greater than 0, got '1h'"
    )


def test_errors_from_all_sources_are_reported_together(tmp_path):
    error = error_of(
        tmp_path,
        "runner:\n  cpu: many\n",
        environ={"OSIRIS_RUNNER__MEMORY_MB": "lots"},
        cli={"runner.e2b.image": ""},
    )
    assert error.message == (
        "cli --image: runner.e2b.image: expected a template name, got ''\n"
        "env OSIRIS_RUNNER__MEMORY_MB: runner.memory_mb: expected an integer greater than 0 or"
        " null, got 'lots'\n"
        "osiris.yaml:2: runner.cpu: expected a number greater than 0 or null, got 'many'"
    )


def test_missing_explicit_file(tmp_path):
    error = error_of(tmp_path, config_file=Path("conf/osiris.yaml"))
    assert error.message == "config file conf/osiris.yaml does not exist"
    assert error.hint == "check the path; without one, osiris reads ./osiris.yaml if it exists"
    error = error_of(tmp_path, environ={"OSIRIS_CONFIG": "ci.yaml"})
    assert error.message == "config file ci.yaml (named by OSIRIS_CONFIG) does not exist"
    (tmp_path / "conf").mkdir()
    error = error_of(tmp_path, config_file=Path("conf"))
    assert error.message == "config file conf is not a file"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "runner:\n  executor: e2b\n   timeout_seconds: 3\n",
            "osiris.yaml:3:19: invalid YAML: mapping values are not allowed here",
        ),
        (
            "runner:\n  network:\n    allow: [a, b\n",
            "osiris.yaml:4:1: invalid YAML: expected ',' or ']', but got '<stream end>'",
        ),
        (
            "runner:\n\texecutor: e2b\n",
            "osiris.yaml:2:1: invalid YAML: found character '\\t' that cannot start any token",
        ),
    ],
)
def test_malformed_yaml_has_a_position(tmp_path, text, message):
    error = error_of(tmp_path, text)
    assert error.message == message
    assert error.hint == "check the indentation and quoting at that position"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- runner\n", "osiris.yaml:1: expected a mapping of settings, got a list"),
        ("runner\n", "osiris.yaml:1: expected a mapping of settings, got 'runner'"),
        (
            "runner:\n  executor: e2b\n  executor: local\n",
            "osiris.yaml:3: runner.executor: duplicate key (first set on line 2)",
        ),
        ("runner:\n  1: x\n", "osiris.yaml:2: runner.1: expected a key name, got int"),
    ],
)
def test_malformed_settings_file(tmp_path, text, message):
    assert error_of(tmp_path, text).message == message


def test_error_is_printed_with_its_hint(tmp_path):
    error = error_of(tmp_path, environ={"OSIRIS_RUNNER__EXECUTOR": "docker"})
    assert error.format() == (
        "env OSIRIS_RUNNER__EXECUTOR: runner.executor: expected one of local, e2b, got 'docker'\n"
        f"  hint: {HINT}"
    )


# -- LoadedConfig -----------------------------------------------------------------------------


def test_show_is_one_aligned_line_per_key(tmp_path):
    loaded = load(
        tmp_path,
        "runner:\n  executor: e2b\n  network:\n    allow: [db.internal:5432]\n",
        environ={"OSIRIS_LOGGING__LEVEL": "warning"},
        cli={"runner.timeout_seconds": 60},
    )
    assert loaded.show() == (
        "connections_file                        null                  default\n"
        'logging.events                          ["*"]                 default\n'
        "logging.level                           WARNING               env OSIRIS_LOGGING__LEVEL\n"
        "logging.logs_dir                        logs                  default\n"
        "runner.bundle_on_failure                true                  default\n"
        "runner.cpu                              null                  default\n"
        "runner.e2b.cpu                          null                  default\n"
        "runner.e2b.env_from_secrets             []                    default\n"
        "runner.e2b.image                        osiris                default\n"
        "runner.e2b.memory_mb                    null                  default\n"
        "runner.e2b.network.allow                null                  default\n"
        "runner.e2b.timeout_seconds              3600                  default\n"
        "runner.e2b.wait_for_sandbox_seconds     600                   default\n"
        "runner.executor                         e2b                   osiris.yaml:2\n"
        "runner.idle_timeout_seconds             600                   default\n"
        "runner.max_parallel_runs                1                     default\n"
        "runner.max_parallel_steps               4                     default\n"
        "runner.memory_mb                        null                  default\n"
        'runner.network.allow                    ["db.internal:5432"]  osiris.yaml:4\n'
        "runner.network.connect_timeout_seconds  30.0                  default\n"
        "runner.on_failure                       stop                  default\n"
        "runner.timeout_seconds                  60                    cli --timeout"
    )


def test_to_dict_is_json_ready(tmp_path):
    loaded = load(tmp_path, "runner:\n  cpu: 1.5\n")
    data = json.loads(json.dumps(loaded.to_dict()))
    assert data["values"]["runner"]["cpu"] == 1.5
    assert data["sources"]["runner.cpu"] == "osiris.yaml:2"
    assert list(data["sources"]) == ALL_KEYS


def test_get_sections_and_unknown_keys(tmp_path):
    loaded = load(tmp_path)
    assert loaded.get("runner.e2b").image == "osiris"
    with pytest.raises(UsageError) as info:
        loaded.get("runner.timeout")
    assert info.value.message == (
        "unknown configuration key 'runner.timeout' (did you mean runner.timeout_seconds?)"
    )
    with pytest.raises(UsageError):
        loaded.get("runner.executor.name")


def test_run_settings_local(tmp_path):
    loaded = load(
        tmp_path,
        "runner:\n  timeout_seconds: 60\n  memory_mb: 256\n  cpu: 1\n"
        "  network:\n    allow: [db:3306]\n  e2b:\n    timeout_seconds: 120\n",
    )
    assert loaded.run_settings("local") == {
        "limits": {
            "timeout_seconds": 60,
            "idle_timeout_seconds": 600,
            "memory_mb": 256,
            "cpu": 1.0,
        },
        "network": {"allow": ["db:3306"], "connect_timeout_seconds": 30.0},
        "steps": {"max_parallel": 4, "on_failure": "stop"},
    }


def test_run_settings_e2b_applies_the_overrides_that_are_set(tmp_path):
    inherit = load(tmp_path / "a", "runner:\n  timeout_seconds: 60\n  network:\n    allow: [db]\n")
    assert inherit.run_settings("e2b") == {
        "limits": {
            "timeout_seconds": 60,
            "idle_timeout_seconds": 600,
            "memory_mb": None,
            "cpu": None,
        },
        "network": {"allow": ["db"], "connect_timeout_seconds": 30.0},
        "steps": {"max_parallel": 4, "on_failure": "stop"},
    }
    override = load(
        tmp_path / "b",
        "runner:\n  timeout_seconds: 60\n  cpu: 0.5\n  network:\n    allow: [db]\n"
        "  e2b:\n    timeout_seconds: 120\n    cpu: 2\n    memory_mb: 1024\n"
        "    network:\n      allow: [db.example.com:5432]\n",
    )
    assert override.run_settings("e2b") == {
        "limits": {
            "timeout_seconds": 120,
            "idle_timeout_seconds": 600,
            "memory_mb": 1024,
            "cpu": 2.0,
        },
        "network": {"allow": ["db.example.com:5432"], "connect_timeout_seconds": 30.0},
        "steps": {"max_parallel": 4, "on_failure": "stop"},
    }
    with pytest.raises(UsageError) as info:
        override.run_settings("docker")
    assert (info.value.message, info.value.hint) == (
        "unknown executor 'docker'",
        "use one of local, e2b",
    )


def test_config_is_frozen(tmp_path):
    loaded = load(tmp_path)
    with pytest.raises(ValueError, match="frozen"):
        loaded.config.runner.executor = "e2b"


# -- docs and import cost ---------------------------------------------------------------------


def test_every_key_is_documented_with_its_env_var():
    doc = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    for key in ALL_KEYS:
        assert f"`{key}`" in doc, key
        assert f"`OSIRIS_{key.upper().replace('.', '__')}`" in doc, key


def test_import_does_not_load_heavy_modules():
    code = (
        "import sys, osiris.config\n"
        "print([m for m in ('pyarrow', 'duckdb', 'e2b') if m in sys.modules])"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OSIRIS_")}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.strip() == "[]"
