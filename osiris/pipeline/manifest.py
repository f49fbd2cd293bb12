"""The compiled manifest: canonical JSON, fingerprints, and run-time resolution of step config.

Canonical JSON is `json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`
followed by "\\n"; every fingerprint is `sha256:` + the hex digest of the UTF-8 bytes of the
canonical JSON of what it covers (the manifest fingerprint: the whole manifest without its
`fingerprint` key). Config strings in a manifest are templates: `${VAR}` is read from the
executor's environment by `resolve_step_config`, and `$${` stands for a literal `${`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from osiris.connections import resolve_connection, substitute_value
from osiris.errors import Problem, UsageError

MANIFEST_VERSION = "0.1"


def canonical_json(obj: Any) -> str:
    return (
        json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        + "\n"
    )


def fingerprint(obj: Any) -> str:
    return "sha256:" + hashlib.sha256(canonical_json(obj).encode("utf-8")).hexdigest()


def step_fingerprint(step: Mapping[str, Any]) -> str:
    keys = ("component", "component_version", "mode", "config", "connection", "needs")
    covered = {k: step[k] for k in keys}
    if step.get("connection_fields"):
        covered["connection_fields"] = step["connection_fields"]
    return fingerprint(covered)


class Manifest:
    """A thin wrapper over the manifest dict (see the module docstring for the encoding)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        # what the compiler noticed but accepted (not part of the manifest's data)
        self.warnings: list[Problem] = []

    @classmethod
    def build(cls, body: dict[str, Any]) -> Manifest:
        """Seal a manifest body (everything but `fingerprint`) by adding its fingerprint."""
        data = {k: v for k, v in body.items() if k != "fingerprint"}
        data["fingerprint"] = fingerprint(data)
        return cls(data)

    @property
    def fingerprint(self) -> str:
        return str(self.data["fingerprint"])

    @property
    def name(self) -> str:
        return str(self.data["pipeline"]["name"])

    @property
    def steps(self) -> list[dict[str, Any]]:
        return list(self.data["steps"])

    def to_json(self) -> str:
        return canonical_json(self.data)

    def write(self, path: Path) -> Path:
        path.write_text(self.to_json(), encoding="utf-8")
        return path

    @classmethod
    def from_json(cls, text: str, *, origin: str = "manifest") -> Manifest:
        """Parse and verify a manifest; a broken or edited one is a UsageError (exit 2)."""
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise UsageError(
                f"{origin} is not valid JSON: {exc}",
                hint="compile the pipeline again with `osiris compile`",
            ) from None
        if not isinstance(data, dict) or data.get("manifest_version") != MANIFEST_VERSION:
            found = data.get("manifest_version") if isinstance(data, dict) else None
            raise UsageError(
                f"{origin} has manifest_version {json.dumps(found)}, "
                f"this Osiris reads {MANIFEST_VERSION}",
                hint="compile the pipeline again with this version of Osiris",
            )
        body = {k: v for k, v in data.items() if k != "fingerprint"}
        if data.get("fingerprint") != fingerprint(body):
            raise UsageError(
                f"{origin} does not match its fingerprint (it was changed after compiling)",
                hint="do not edit manifests; change the pipeline and compile it again",
            )
        return cls(data)

    @classmethod
    def from_file(cls, path: Path) -> Manifest:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read manifest {path}: {exc}", hint="check the path") from None
        return cls.from_json(text, origin=str(path))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Manifest) and self.data == other.data

    def __hash__(self) -> int:
        return hash(self.fingerprint)

    def __repr__(self) -> str:
        return f"Manifest({self.name!r}, {self.fingerprint})"


def resolve_step_config(step: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """The step's config with every `${VAR}` resolved from `environ` (at run time, never on disk).

    A missing variable without default raises ConnectionsError naming the step and the key.
    """
    where = f"step '{step['id']}'"
    return {
        key: substitute_value(value, environ, where=where, field=f"config.{key}")
        for key, value in step["config"].items()
    }


def step_connection(
    manifest: Mapping[str, Any], step: Mapping[str, Any], environ: Mapping[str, str]
) -> dict[str, Any] | None:
    """The resolved, canonical connection a step uses, with the fields the step overrides."""
    ref = step.get("connection")
    if not ref:
        return None
    entry = manifest["connections"][ref]
    fields = dict(entry["fields"])
    fields.update(step.get("connection_fields") or {})
    return resolve_connection({**entry, "fields": fields}, environ)
