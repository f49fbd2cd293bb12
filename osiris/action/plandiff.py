"""What a pipeline change does to the compiled plan: a pure diff of two manifest dicts.

Compared: steps (added, removed, and for the others component, version, mode, connection, needs,
every config key, inputs, outputs), write targets (connection + table or files, write mode),
parameters, the connections used (field templates) and run limits. Values of secret fields —
the component's `x-secret` config fields, a connection's `secret_fields`, and any key named
like a credential — are never shown, only that they changed. The manifest holds no secret
values in the first place; this keeps even a literal default of `${VAR:-...}` out of a PR.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Change", "PlanDiff", "StepDiff", "Target", "TargetChange", "diff_plans"]

_CREDENTIAL_KEY = re.compile(
    r"password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credential",
    re.IGNORECASE,
)
_WRITE_MODE_KEYS = ("write_mode", "if_exists", "mode")


@dataclass(frozen=True)
class Change:
    """One value that differs. `before`/`after` are display text, None when absent.

    For a secret both are None and `secret` is set; for multi-line text `diff` holds the
    unified-diff lines (`-`, `+`, ` ` prefixed) and before/after are None.
    """

    what: str
    before: str | None
    after: str | None
    secret: bool = False
    diff: tuple[str, ...] = ()


@dataclass(frozen=True)
class StepDiff:
    id: str
    kind: str  # added | removed | changed
    component: str
    mode: str
    changes: tuple[Change, ...] = ()


@dataclass(frozen=True)
class Target:
    """Where a write step writes: a connection and table, or files; and how."""

    where: str
    name: str
    write_mode: str

    def text(self) -> str:
        mode = self.write_mode or "default mode"
        return f"{self.where} → {self.name} ({mode})"


@dataclass(frozen=True)
class TargetChange:
    step: str
    before: Target | None
    after: Target | None


@dataclass(frozen=True)
class PlanDiff:
    """The difference between two plans; `base`/`head` None mean the pipeline is new/removed."""

    base_exists: bool
    head_exists: bool
    steps: tuple[StepDiff, ...] = ()
    targets: tuple[TargetChange, ...] = ()
    params: tuple[Change, ...] = ()
    connections: tuple[Change, ...] = ()
    run: tuple[Change, ...] = ()
    order: tuple[tuple[str, ...], tuple[str, ...]] | None = None

    @property
    def changed(self) -> bool:
        return bool(
            self.base_exists != self.head_exists
            or self.steps
            or self.targets
            or self.params
            or self.connections
            or self.run
            or self.order
        )

    def counts(self) -> dict[str, int]:
        kinds = [s.kind for s in self.steps]
        return {k: kinds.count(k) for k in ("added", "removed", "changed")}


def diff_plans(
    base: Mapping[str, Any] | None,
    head: Mapping[str, Any] | None,
    *,
    secret_fields: Mapping[str, Collection[str]] | None = None,
) -> PlanDiff:
    """Diff two compiled manifests (`Manifest.data`); None stands for "no such pipeline".

    `secret_fields` maps a component name to its secret config fields (top-level names, from
    the spec's `x-secret` pointers); their values are hidden.
    """
    secrets = secret_fields or {}
    base_steps = _steps(base)
    head_steps = _steps(head)
    steps: list[StepDiff] = []
    for sid, step in head_steps.items():
        old = base_steps.get(sid)
        if old is None:
            steps.append(StepDiff(sid, "added", step["component"], step["mode"]))
            continue
        changes = tuple(_step_changes(old, step, secrets))
        if changes:
            steps.append(StepDiff(sid, "changed", step["component"], step["mode"], changes))
    for sid, step in base_steps.items():
        if sid not in head_steps:
            steps.append(StepDiff(sid, "removed", step["component"], step["mode"]))

    targets = []
    for sid in [*head_steps, *(s for s in base_steps if s not in head_steps)]:
        before, after = _target(base_steps.get(sid)), _target(head_steps.get(sid))
        if before != after:
            targets.append(TargetChange(sid, before, after))

    # Parameters, connections and limits of a pipeline that exists on one side only are not
    # a change to review; its steps and targets say what it does.
    both = base is not None and head is not None
    common = [s for s in head_steps if s in base_steps]
    old_order = tuple(s for s in base_steps if s in head_steps)
    order = (old_order, tuple(common)) if old_order != tuple(common) else None
    return PlanDiff(
        base_exists=base is not None,
        head_exists=head is not None,
        steps=tuple(steps),
        targets=tuple(targets),
        params=tuple(_changes("", _get(base, "params"), _get(head, "params"), ())) if both else (),
        connections=tuple(_connection_changes(base, head)) if both else (),
        run=tuple(_changes("", _get(base, "run"), _get(head, "run"), ())) if both else (),
        order=order,
    )


def _get(manifest: Mapping[str, Any] | None, key: str) -> dict[str, Any]:
    value = (manifest or {}).get(key)
    return dict(value) if isinstance(value, Mapping) else {}


def _steps(manifest: Mapping[str, Any] | None) -> dict[str, Mapping[str, Any]]:
    return {s["id"]: s for s in (manifest or {}).get("steps") or []}


def _step_changes(
    old: Mapping[str, Any], new: Mapping[str, Any], secrets: Mapping[str, Collection[str]]
) -> Iterator[Change]:
    for key in ("component", "component_version", "mode", "connection", "needs"):
        yield from _changes("", {key: old.get(key)}, {key: new.get(key)}, set())
    hidden = {*secrets.get(old["component"], ()), *secrets.get(new["component"], ())}
    yield from _changes("config.", old.get("config") or {}, new.get("config") or {}, hidden)
    for key in ("inputs", "outputs"):
        yield from _changes("", {key: old.get(key)}, {key: new.get(key)}, set())


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, Mapping) and (value or not prefix):
        flat: dict[str, Any] = {}
        for key, item in value.items():
            flat.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    return {prefix: value}


def _changes(
    prefix: str, old: Mapping[str, Any], new: Mapping[str, Any], hidden: Collection[str]
) -> Iterator[Change]:
    """Leaf-by-leaf changes between two mappings, named `prefix` + dotted key.

    A leaf under a `hidden` top-level key, or named like a credential, is secret.
    """
    before, after = _flatten(old), _flatten(new)
    for key in sorted(before.keys() | after.keys()):
        b, a = before.get(key, _ABSENT), after.get(key, _ABSENT)
        if b == a:
            continue
        top = key.split(".", 1)[0]
        what = prefix + key
        secret = top in hidden or bool(_CREDENTIAL_KEY.search(key.rsplit(".", 1)[-1]))
        if secret:
            yield Change(what, None, None, secret=True)
        elif _multiline(b) or _multiline(a):
            yield Change(what, None, None, diff=_text_diff(b, a))
        else:
            yield Change(what, _show(b), _show(a))


class _Absent:
    def __repr__(self) -> str:
        return "<absent>"


_ABSENT: Any = _Absent()


def _multiline(value: Any) -> bool:
    return isinstance(value, str) and "\n" in value.strip()


def _text_diff(before: Any, after: Any) -> tuple[str, ...]:
    old = before.splitlines() if isinstance(before, str) else []
    new = after.splitlines() if isinstance(after, str) else []
    lines = difflib.unified_diff(old, new, lineterm="", n=2)
    return tuple(line for line in lines if not line.startswith(("---", "+++")))


def _show(value: Any) -> str | None:
    if value is _ABSENT:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _connection_changes(
    base: Mapping[str, Any] | None, head: Mapping[str, Any] | None
) -> Iterator[Change]:
    old, new = _get(base, "connections"), _get(head, "connections")
    for ref in sorted(old.keys() | new.keys()):
        o, n = old.get(ref) or {}, new.get(ref) or {}
        hidden = {*o.get("secret_fields", ()), *n.get("secret_fields", ())}
        if not o or not n:
            # Used only on one side: list the field names, not the values.
            fields = ", ".join(sorted((o or n).get("fields") or {})) or "no fields"
            text = f"{(o or n).get('family', '')} connection ({fields})"
            yield Change(ref, None if not o else text, None if not n else text)
            continue
        yield from _changes(f"{ref}.", o.get("fields") or {}, n.get("fields") or {}, hidden)


def _target(step: Mapping[str, Any] | None) -> Target | None:
    if step is None or step.get("mode") != "write":
        return None
    config = step.get("config") or {}
    table = config.get("table")
    if isinstance(table, str) and isinstance(config.get("schema"), str):
        table = f"{config['schema']}.{table}"
    if isinstance(table, str):
        name = table
    else:
        outputs = [str(o) for o in step.get("outputs") or []]
        name = ", ".join(outputs) or str(config.get("path") or "?")
    mode = next((str(config[k]) for k in _WRITE_MODE_KEYS if isinstance(config.get(k), str)), "")
    return Target(str(step.get("connection") or "files"), name, mode)
