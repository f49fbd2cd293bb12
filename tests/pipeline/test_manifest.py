from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from osiris.errors import ConnectionsError, UsageError
from osiris.pipeline import Manifest, resolve_step_config
from osiris.pipeline.manifest import canonical_json, fingerprint
from testing.pipelines import MYSQL_TO_POSTGRES, ORDERS, compile_file

REPO = Path(__file__).resolve().parents[2]
COMPILE = """
import sys
from pathlib import Path
from testing.pipelines import compile_file
params = dict(p.split("=", 1) for p in sys.argv[2:])
sys.stdout.write(compile_file(Path(sys.argv[1]), params=params).to_json())
"""


def test_canonical_json():
    assert canonical_json({"b": [1, {"d": None, "c": "é"}], "a": 1.0}) == (
        '{"a":1.0,"b":[1,{"c":"é","d":null}]}\n'
    )
    assert fingerprint({"a": 1}) == (
        "sha256:" + __import__("hashlib").sha256(b'{"a":1}\n').hexdigest()
    )


@pytest.mark.parametrize(
    ("pipeline", "params"), [(ORDERS, {"day": "2024-05-01"}), (MYSQL_TO_POSTGRES, {})]
)
def test_byte_identical_across_processes(pipeline, params):
    outputs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        proc = subprocess.run(
            [
                sys.executable,
                "-c",
                COMPILE,
                str(pipeline),
                *(f"{k}={v}" for k, v in params.items()),
            ],
            cwd=REPO,
            env=env,
            capture_output=True,
            check=True,
        )
        outputs.append(proc.stdout)
    assert outputs[0] == outputs[1]
    assert outputs[0].endswith(b"}\n")
    assert outputs[0].decode() == compile_file(pipeline, params=params).to_json()


def shuffled(value: Any, rng: random.Random) -> Any:
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {k: shuffled(v, rng) for k, v in items}
    if isinstance(value, list):
        return [shuffled(v, rng) for v in value]
    return value


def without_oml_fingerprint(manifest: Manifest) -> dict[str, Any]:
    data = json.loads(manifest.to_json())
    del data["fingerprint"], data["fingerprints"]["oml"]
    return data


@pytest.mark.parametrize("seed", range(5))
def test_shuffled_key_order_gives_the_same_manifest(tmp_path, seed):
    rng = random.Random(seed)
    source = MYSQL_TO_POSTGRES.parent
    for name in ("pipeline.yaml", "osiris_connections.yaml"):
        data = yaml.safe_load((source / name).read_text())
        text = yaml.safe_dump(shuffled(data, rng), sort_keys=False)
        (tmp_path / name).write_text(text)
    original = compile_file(MYSQL_TO_POSTGRES)
    reordered = compile_file(tmp_path / "pipeline.yaml")
    assert without_oml_fingerprint(reordered) == without_oml_fingerprint(original)
    assert reordered.data["fingerprints"]["oml"] != original.data["fingerprints"]["oml"]


def test_round_trip_and_verification(tmp_path):
    manifest = compile_file(ORDERS, params={"day": "d"})
    path = manifest.write(tmp_path / "manifest.json")
    loaded = Manifest.from_file(path)
    assert loaded == manifest
    assert loaded.fingerprint == manifest.fingerprint
    assert loaded.name == "orders-summary"
    assert [s["id"] for s in loaded.steps] == ["extract_orders", "summarize", "write_summary"]

    edited = manifest.to_json().replace("data/orders.csv", "data/other.csv")
    with pytest.raises(UsageError) as err:
        Manifest.from_json(edited)
    assert err.value.message == (
        "manifest does not match its fingerprint (it was changed after compiling)"
    )
    with pytest.raises(UsageError) as err:
        Manifest.from_json("{not json")
    assert err.value.message.startswith("manifest is not valid JSON: ")
    with pytest.raises(UsageError) as err:
        Manifest.from_json('{"manifest_version": "9"}', origin="m.json")
    assert err.value.message == 'm.json has manifest_version "9", this Osiris reads 0.1'
    with pytest.raises(UsageError) as err:
        Manifest.from_file(tmp_path / "missing.json")
    assert err.value.message.startswith(f"cannot read manifest {tmp_path / 'missing.json'}")


def test_resolve_step_config():
    step = {
        "id": "api",
        "config": {
            "url": "https://${API_HOST:-example.com}/v1",
            "token": "${API_TOKEN}",
            "literal": "$${NOT_ENV} costs $$5",
            "nested": {"list": ["${A}", 1, None]},
            "n": 3,
        },
    }
    env = {"API_TOKEN": "s3cret", "A": "a"}
    assert resolve_step_config(step, env) == {
        "url": "https://example.com/v1",
        "token": "s3cret",
        "literal": "${NOT_ENV} costs $$5",
        "nested": {"list": ["a", 1, None]},
        "n": 3,
    }
    with pytest.raises(ConnectionsError) as err:
        resolve_step_config(step, {"A": "a"})
    assert err.value.message == (
        "step 'api': environment variable API_TOKEN is not set (field config.token)"
    )
    assert err.value.hint == "export API_TOKEN=... or add a default: ${API_TOKEN:-...}"
