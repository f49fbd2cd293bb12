"""Structural checks of an OML document and the step graph (ids, needs, cycles).

Everything is checked and collected, nothing stops at the first problem: `build_pipeline` always
returns the best pipeline it can make of the document, and the document's findings say what is
wrong. Only steps whose id, component and mode are usable make it into the pipeline.
"""

from __future__ import annotations

import difflib
import heapq
import re
from pathlib import Path
from typing import Any, cast

from osiris.document import Document, KeyPath
from osiris.pipeline.model import (
    MODE_ALIASES,
    OML_VERSIONS,
    PARAM_NAME_PATTERN,
    PARAM_TYPES,
    STEP_ID_PATTERN,
    Param,
    ParamType,
    Pipeline,
    Step,
)
from osiris.templates import whole_ref

TOP_KEYS = {
    "oml_version": True,
    "name": True,
    "description": False,
    "metadata": False,
    "schedule": False,
    "params": False,
    "steps": True,
}
STEP_KEYS = {
    "id": True,
    "component": True,
    "mode": True,
    "config": False,
    "needs": False,
    "inputs": False,
    "description": False,
}
# modes whose steps read another step's output
_CONSUMERS = ("transform", "write")
# keys upstream Osiris refuses with a reason of its own (OML 0.1.0 predecessors)
_FORMER_KEYS = {
    "version": 'OML says `oml_version: "0.1.0"`',
    "connectors": "connections live in osiris_connections.yaml; steps name them with "
    '`connection: "@family.alias"`',
    "tasks": "OML calls them `steps`",
    "outputs": "steps write their outputs; there is no top-level `outputs`",
}
PARAM_KEYS = {"type": True, "default": False, "description": False}
_EXPECTED = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "a boolean",
    list: "a list",
    dict: "a mapping",
}
_MISSING_HINTS = {
    "oml_version": 'add `oml_version: "0.1.0"` at the top of the file',
    "name": "add `name: my-pipeline`",
    "steps": "add `steps:` with at least one step",
    "id": "add `id: my-step` (letters, digits, '-', '_' and '.')",
    "component": "add `component: family.kind`; `osiris components list` shows the available ones",
    "mode": "add `mode: read`, `transform` or `write` (one the component supports)",
    "type": "add `type: string`, `integer`, `number` or `boolean`",
}


def describe(value: Any) -> str:
    """A short, user-facing description of a YAML value for 'got ...' messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {'true' if value else 'false'}"
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"number {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"string '{shown}'"
    return "a list" if isinstance(value, list) else "a mapping"


def suggest(word: str, choices: list[str]) -> str | None:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


def _is(value: Any, kind: type) -> bool:
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, kind)


def expect(doc: Document, path: KeyPath, value: Any, kind: type) -> bool:
    if _is(value, kind):
        return True
    doc.add(path, f"expected {_EXPECTED[kind]}, got {describe(value)}")
    return False


def check_keys(
    doc: Document,
    path: KeyPath,
    data: dict[str, Any],
    keys: dict[str, bool],
    reasons: dict[str, str] | None = None,
) -> None:
    """Unknown keys (except `x-*`) and missing required keys of one mapping."""
    allowed = sorted(keys)
    for key in data:
        if key in keys or key.startswith("x-"):
            continue
        hint = (
            (reasons or {}).get(key)
            or suggest(key, allowed)
            or (f"allowed keys: {', '.join(allowed)}; custom keys must start with 'x-'")
        )
        doc.add((*path, key), f"unknown key '{key}'", hint, at_key=True)
    for key, required in keys.items():
        if required and key not in data:
            doc.add(path, f"missing required key '{key}'", _MISSING_HINTS.get(key))


def build_pipeline(doc: Document, path: Path, source: bytes) -> Pipeline | None:
    """The pipeline in `doc` (None if the top level is unusable); problems go to `doc.findings`."""
    data = doc.data
    if doc.findings and data is None:
        return None
    if not isinstance(data, dict):
        doc.add(
            (),
            f"the top level must be a mapping (oml_version, name, steps), got {describe(data)}",
            "see docs/pipelines.md for the layout of a pipeline file",
        )
        return None
    check_keys(doc, (), data, TOP_KEYS, _FORMER_KEYS)
    oml_version = data.get("oml_version")
    supported = ", ".join(f'"{v}"' for v in OML_VERSIONS)
    if "oml_version" in data and not isinstance(oml_version, str):
        doc.add(
            ("oml_version",),
            f"expected a quoted string, got {describe(oml_version)}",
            f"write oml_version: {supported}",
        )
    elif isinstance(oml_version, str) and oml_version not in OML_VERSIONS:
        doc.add(
            ("oml_version",),
            f"unsupported oml_version '{oml_version}'",
            f"this version of Osiris supports oml_version {supported}",
        )
    name = data.get("name")
    if "name" in data and expect(doc, ("name",), name, str) and not str(name).strip():
        doc.add(("name",), "the name is empty", "write `name: my-pipeline`")
    description = data.get("description", "")
    if not expect(doc, ("description",), description, str):
        description = ""
    metadata = data.get("metadata") or {}
    if not expect(doc, ("metadata",), metadata, dict):
        metadata = {}
    if "schedule" in data:
        doc.warn(
            ("schedule",),
            "`schedule` is kept with the pipeline, but osiris run does not schedule runs",
            "schedule runs with cron or a GitHub workflow's `on: schedule`",
            at_key=True,
        )
    # An empty `params:`, `config:` or `needs:` (null) means "none", as it reads.
    params = _params(doc, data.get("params") or {})
    steps = _steps(doc, data["steps"]) if "steps" in data else []
    order = _graph(doc, data.get("steps"), steps)
    return Pipeline(
        path=path,
        source=source,
        oml_version=oml_version if isinstance(oml_version, str) else "",
        name=name if isinstance(name, str) else "",
        description=cast(str, description),
        metadata=metadata,
        params=params,
        steps=tuple(steps),
        order=tuple(order),
        extensions={k: v for k, v in data.items() if k.startswith("x-")},
        document=doc,
    )


def _params(doc: Document, data: Any) -> dict[str, Param]:
    if not expect(doc, ("params",), data, dict):
        return {}
    params = {}
    for name, spec in data.items():
        path: KeyPath = ("params", name)
        if not re.match(PARAM_NAME_PATTERN, name):
            doc.add(
                path,
                f"invalid parameter name '{name}'",
                "use lower-case letters, digits and '_', starting with a letter or '_'",
                at_key=True,
            )
            continue
        if not isinstance(spec, dict):
            doc.add(
                path,
                f"a parameter must be a mapping (type, default, description), got {describe(spec)}",
                f"write `{name}: {{type: string, default: ...}}`",
            )
            continue
        check_keys(doc, path, spec, PARAM_KEYS)
        ptype = spec.get("type")
        if "type" in spec and ptype not in PARAM_TYPES:
            doc.add(
                (*path, "type"),
                f"unknown parameter type {describe(ptype)}"
                if not isinstance(ptype, str)
                else f"unknown parameter type '{ptype}'",
                f"use one of: {', '.join(PARAM_TYPES)}",
            )
            continue
        if ptype is None:
            continue
        description = spec.get("description", "")
        if not expect(doc, (*path, "description"), description, str):
            description = ""
        default = spec.get("default")
        if "default" in spec:
            kind = {"string": str, "integer": int, "number": float, "boolean": bool}[ptype]
            if not _is(default, kind):
                doc.add(
                    (*path, "default"),
                    f"expected {_EXPECTED[kind]} (the parameter's type), got {describe(default)}",
                    "fix the default, or remove it to make the parameter required",
                )
                continue
        params[name] = Param(
            name=name, type=cast(ParamType, ptype), default=default, description=description
        )
    return params


def _steps(doc: Document, data: Any) -> list[Step]:
    if not expect(doc, ("steps",), data, list):
        return []
    if not data:
        doc.add(("steps",), "a pipeline needs at least one step", "add a step under `steps:`")
    steps = []
    for index, raw in enumerate(data):
        path: KeyPath = ("steps", index)
        if not isinstance(raw, dict):
            doc.add(
                path,
                f"a step must be a mapping (id, component, mode, config), got {describe(raw)}",
                "write each step as `- id: ...` with its keys indented below",
            )
            continue
        check_keys(doc, path, raw, STEP_KEYS)
        ok = "id" in raw and "component" in raw and "mode" in raw
        step_id = raw.get("id")
        if "id" in raw and expect(doc, (*path, "id"), step_id, str):
            if not re.match(STEP_ID_PATTERN, str(step_id)):
                doc.add(
                    (*path, "id"),
                    f"invalid step id '{step_id}'",
                    "use letters, digits, '-', '_' and '.'",
                )
                ok = False
        else:
            ok = False
        for key in ("component", "mode"):
            if key in raw and not expect(doc, (*path, key), raw[key], str):
                ok = False
        config = raw.get("config") or {}
        if not expect(doc, (*path, "config"), config, dict):
            ok = False
        if "description" in raw:
            expect(doc, (*path, "description"), raw["description"], str)
        needs = _needs(doc, path, raw)
        inputs = _inputs(doc, path, raw)
        mode = raw.get("mode")
        if isinstance(mode, str):
            mode = MODE_ALIASES.get(mode, mode)
        if ok and not needs and not inputs and "needs" not in raw and mode in _CONSUMERS:
            needs = _implicit_need(doc, path, data, index)
        if ok and isinstance(step_id, str):
            extensions = {k: v for k, v in raw.items() if k.startswith("x-")}
            steps.append(
                Step(
                    index=index,
                    id=step_id,
                    component=raw["component"],
                    mode=mode,
                    config=config,
                    needs=tuple(dict.fromkeys([*needs, *inputs.values()])),
                    inputs=inputs,
                    extensions=extensions,
                )
            )
    return steps


def _implicit_need(doc: Document, path: KeyPath, data: list[Any], index: int) -> tuple[str, ...]:
    """Upstream Osiris's rule for a transform or write step that names no input: it reads the
    step before it in the file. Followed, with a warning, so the pipeline runs as it did."""
    before = data[index - 1] if index > 0 else None
    previous = before.get("id") if isinstance(before, dict) else None
    if not isinstance(previous, str):
        return ()
    doc.warn(
        path,
        f"the step names no input; as in upstream Osiris it reads the step before it, '{previous}'",
        f"write `needs: [{previous}]` to say so",
    )
    return (previous,)


def _needs(doc: Document, path: KeyPath, raw: dict[str, Any]) -> tuple[str, ...]:
    needs = raw.get("needs") or []
    if not expect(doc, (*path, "needs"), needs, list):
        return ()
    found: list[str] = []
    for i, need in enumerate(needs):
        if not expect(doc, (*path, "needs", i), need, str):
            continue
        if need in found:
            doc.add(
                (*path, "needs", i), f"'{need}' is listed twice in needs", "remove the duplicate"
            )
            continue
        found.append(need)
    return tuple(found)


def _inputs(doc: Document, path: KeyPath, raw: dict[str, Any]) -> dict[str, str]:
    """OML `inputs: {df: "${step.df}"}`: each value names the step whose output comes in."""
    inputs = raw.get("inputs") or {}
    if not expect(doc, (*path, "inputs"), inputs, dict):
        return {}
    found: dict[str, str] = {}
    for name, value in inputs.items():
        where: KeyPath = (*path, "inputs", name)
        ref = whole_ref(value) if isinstance(value, str) else None
        if ref is None or ref.kind != "step":
            doc.add(
                where,
                f"an input must name a step's output, got {describe(value)}",
                "write `" + name + ': "${<step id>.df}"`',
            )
            continue
        found[name] = ref.step
    return found


def _need_path(step: Step, raw: Any, need: str) -> KeyPath:
    """Where a step names `need`: in `needs:`, else in `inputs:`."""
    listed = raw.get("needs") if isinstance(raw, dict) else None
    if isinstance(listed, list) and need in listed:
        return ("steps", step.index, "needs", listed.index(need))
    name = next((k for k, v in step.inputs.items() if v == need), "")
    return ("steps", step.index, "inputs", name)


def _graph(doc: Document, raw_steps: Any, steps: list[Step]) -> list[str]:
    """Check ids and needs; return the topological order (Kahn, ties broken by file order)."""
    raw_list = raw_steps if isinstance(raw_steps, list) else []
    first: dict[str, int] = {}
    for index, raw in enumerate(raw_list):
        step_id = raw.get("id") if isinstance(raw, dict) else None
        if not isinstance(step_id, str) or not re.match(STEP_ID_PATTERN, step_id):
            continue
        if step_id in first:
            line = doc.positions.value(("steps", first[step_id], "id"))[0]
            doc.add(
                ("steps", index, "id"),
                f"duplicate step id '{step_id}' (first used on line {line})",
                "give every step a unique id",
            )
            continue
        first[step_id] = index
    ids = sorted(first, key=first.__getitem__)
    graph = {s.id: s for s in steps if first.get(s.id) == s.index}
    edges: dict[str, list[str]] = {}
    for step in graph.values():
        edges[step.id] = []
        for need in step.needs:
            where = _need_path(step, raw_list[step.index], need)
            if need == step.id:
                doc.add(where, f"step '{need}' needs itself", f"remove '{need}' from needs")
            elif need not in first:
                hint = suggest(need, ids) or f"step ids in this pipeline: {', '.join(ids)}"
                doc.add(where, f"needs unknown step '{need}'", hint)
            elif need in graph:
                if graph[need].mode == "write":
                    doc.add(
                        where,
                        f"'{need}' is a write step; it has no output to read",
                        f"name the step that '{need}' reads instead",
                    )
                edges[step.id].append(need)
    return _toposort(doc, graph, edges)


def _toposort(doc: Document, graph: dict[str, Step], edges: dict[str, list[str]]) -> list[str]:
    position = {sid: step.index for sid, step in graph.items()}
    waiting = {sid: len(needs) for sid, needs in edges.items()}
    users: dict[str, list[str]] = {sid: [] for sid in graph}
    for sid, needs in edges.items():
        for need in needs:
            users[need].append(sid)
    ready = [(position[sid], sid) for sid, n in waiting.items() if n == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        _, sid = heapq.heappop(ready)
        order.append(sid)
        for user in users[sid]:
            waiting[user] -= 1
            if waiting[user] == 0:
                heapq.heappush(ready, (position[user], user))
    left = {sid for sid in graph if sid not in order}
    while left:
        cycle = _find_cycle(left, edges, position)
        start = graph[cycle[0]]
        doc.add(
            ("steps", start.index, "needs"),
            f"steps form a cycle: {' → '.join([*cycle, cycle[0]])}",
            "each step needs the next one; remove one of these needs to break the cycle",
            at_key=True,
        )
        left -= _reaching(set(cycle), left, edges)
    return order


def _find_cycle(left: set[str], edges: dict[str, list[str]], position: dict[str, int]) -> list[str]:
    # Every step left after Kahn still needs another left step, so walking needs must loop.
    walk = [min(left, key=position.__getitem__)]
    while True:
        nxt = min((n for n in edges[walk[-1]] if n in left), key=position.__getitem__)
        if nxt in walk:
            cycle = walk[walk.index(nxt) :]
            first = cycle.index(min(cycle, key=position.__getitem__))
            return cycle[first:] + cycle[:first]
        walk.append(nxt)


def _reaching(targets: set[str], left: set[str], edges: dict[str, list[str]]) -> set[str]:
    """Steps in `left` that are in `targets` or (transitively) need one of them."""
    found = set(targets)
    changed = True
    while changed:
        changed = False
        for sid in left - found:
            if any(n in found for n in edges[sid]):
                found.add(sid)
                changed = True
    return found
