"""Checking one step against its component spec and turning it into a manifest step."""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any, Protocol

from osiris.components import Component, ComponentSpec, Registry
from osiris.connections import CONNECTIONS_FILE, REF_PATTERN, Connection
from osiris.document import Document, KeyPath
from osiris.pipeline.model import Param, ParamValue, Step
from osiris.pipeline.params import substitute_params
from osiris.pipeline.schema import check_config, validator
from osiris.pipeline.validate import suggest
from osiris.templates import env_refs, is_malformed, whole_ref


class ConnectionLookup(Protocol):
    """The connection `ref` names, or None after reporting why at `path`; with `implicit`, the
    step named no connection and `ref` is its family's default."""

    def __call__(self, ref: str, path: KeyPath, *, implicit: bool = False) -> Connection | None: ...


@dataclass
class CompiledStep:
    step: Step
    component: Component
    config: dict[str, Any]
    connection: Connection | None
    secret_paths: list[KeyPath] = field(default_factory=list)  # relative to config
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    # connection fields the step overrides (`x-connection-fields: allowed`)
    connection_fields: dict[str, Any] = field(default_factory=dict)
    appends: list[str] = field(default_factory=list)  # outputs that continue existing files


def pointer_path(pointer: str) -> KeyPath:
    """`/a/b~1c/0` → ("a", "b/c", "0"); list indices are resolved by `lookup`."""
    if pointer in ("", "/"):
        return ()
    return tuple(p.replace("~1", "/").replace("~0", "~") for p in pointer.lstrip("/").split("/"))


def lookup(value: Any, path: KeyPath) -> tuple[bool, Any, KeyPath]:
    """Follow a pointer path into config: (found, value, path with list indices as ints)."""
    resolved: list[str | int] = []
    for part in path:
        if isinstance(value, dict) and part in value:
            value = value[part]
            resolved.append(part)
        elif isinstance(value, list) and str(part).isdigit() and int(part) < len(value):
            value = value[int(part)]
            resolved.append(int(part))
        else:
            return False, None, ()
    return True, value, tuple(resolved)


def compile_step(
    doc: Document,
    step: Step,
    *,
    registry: Registry,
    params: Mapping[str, Param],
    bound: Mapping[str, ParamValue],
    connections: ConnectionLookup,
) -> CompiledStep | None:
    """Check `step` against its component; findings go to `doc`, None if it cannot be compiled."""
    base: KeyPath = ("steps", step.index)
    component = registry.get(step.component)
    if component is None:
        hint = suggest(step.component, registry.names()) or (
            "run `osiris components list` to see the available ones"
        )
        doc.add((*base, "component"), f"unknown component '{step.component}'", hint)
        return None
    spec = component.spec
    ok = True
    if step.mode not in spec.modes:
        doc.add(
            (*base, "mode"),
            f"component '{spec.name}' does not support mode '{step.mode}'",
            f"use {' or '.join(spec.modes)}",
        )
        ok = False
    skip: set[KeyPath] = set()
    secret_paths = []
    for pointer in spec.config_secret_pointers():
        found, value, rel = lookup(step.config, pointer_path(pointer))
        if not found:
            continue
        secret_paths.append(rel)
        if isinstance(value, str) and is_malformed(value):
            continue  # reported as malformed by the parameter pass
        ref = whole_ref(value) if isinstance(value, str) else None
        if ref is None or ref.default is not None or ref.kind != "env":
            var = "_".join(str(p) for p in (step.id, *rel)).upper().replace("-", "_")
            doc.add(
                (*base, "config", *rel),
                f"'{rel[-1]}' is a secret and must come from an environment variable, "
                "not a literal value",
                f"write `{rel[-1]}: ${{{var}}}` and export {var} where the pipeline runs",
            )
            ok = False
    config, bound_ok = substitute_params(doc, (*base, "config"), step.config, params, bound)
    connection = None
    ref = config.get("connection")
    if "connection" in config:
        skip.add(("connection",))
        connection = _connection(
            doc,
            base,
            component=spec.name,
            family=spec.connection_family,
            ref=ref,
            connections=connections,
        )
        ok = ok and connection is not None
    elif spec.connection_family is not None and not spec.connection_optional:
        # upstream Osiris's rule: no `connection` means the family's default
        family = spec.connection_family
        connection = connections(f"@{family}", (*base, "component"), implicit=True)
        ok = ok and connection is not None
    if bound_ok:
        try:
            check = validator(spec.config_schema)
        except ValueError as exc:
            doc.add(
                (*base, "component"),
                f"component '{spec.name}' has an invalid config_schema: {exc}",
                "fix the spec.yaml of that component, or report it to its authors",
            )
            return None
        before = len(doc.findings)

        def skipped(path: KeyPath, instance: Any) -> bool:
            rel = path[len(base) + 1 :]
            if rel in skip or any(rel[: len(s)] == s for s in secret_paths):
                return True
            return isinstance(instance, str) and bool(env_refs(instance))

        check_config(doc, (*base, "config"), config, check, skipped)
        ok = ok and len(doc.findings) == before
    for key, reason in spec.ignored.items():
        if key in config:
            doc.warn(
                (*base, "config", key),
                f"'{key}' changes nothing here: {reason}",
                f"remove `{key}` to silence this warning",
                at_key=True,
            )
    fields = _connection_fields(doc, base, spec, config, connection)
    ok = ok and fields is not None
    inputs = _paths(doc, base, config, spec.inputs, "reads")
    outputs = _paths(doc, base, config, spec.outputs, "writes")
    if not (ok and bound_ok) or fields is None or inputs is None or outputs is None:
        return None
    config = {k: v for k, v in config.items() if k not in fields}
    appending = bool(spec.appends_when) and all(
        config.get(k) == v for k, v in spec.appends_when.items()
    )
    return CompiledStep(
        step,
        component,
        config,
        connection,
        secret_paths,
        inputs,
        outputs,
        fields,
        appends=list(outputs) if appending else [],
    )


def _connection_fields(
    doc: Document,
    base: KeyPath,
    spec: ComponentSpec,
    config: dict[str, Any],
    connection: Connection | None,
) -> dict[str, Any] | None:
    """Connection fields the step sets itself (`x-connection-fields`): allowed ones override
    the connection for this step; forbidden ones are problems. None if there was a problem."""
    found: dict[str, Any] = {}
    ok = True
    for field_spec in spec.connection_fields:
        name = field_spec.name
        if name not in config:
            continue
        if field_spec.override == "allowed":
            found[name] = config[name]
            continue
        where = f"of {connection.ref} " if connection is not None else ""
        doc.add(
            (*base, "config", name),
            f"'{name}' comes from the connection and cannot be set in a step",
            f"set `{name}` {where}in {CONNECTIONS_FILE} and remove it here",
            at_key=True,
        )
        ok = False
    return found if ok else None


def _connection(
    doc: Document,
    base: KeyPath,
    *,
    component: str,
    family: str | None,
    ref: Any,
    connections: ConnectionLookup,
) -> Connection | None:
    path: KeyPath = (*base, "config", "connection")
    if family is None:
        doc.add(path, f"component '{component}' takes no connection", "remove `connection`")
        return None
    if not isinstance(ref, str) or not REF_PATTERN.match(ref):
        shown = f"'{ref}'" if isinstance(ref, str) else str(ref)
        doc.add(
            path,
            f"invalid connection reference {shown}",
            f"write @{family}.<alias>, or @{family} for the family default",
        )
        return None
    used = ref[1:].split(".")[0]
    if used != family:
        doc.add(
            path,
            f"component '{component}' needs a {family} connection, got '{ref}'",
            f"use @{family}.<alias>, or @{family} for the family default",
        )
        return None
    return connections(ref, path)


def _paths(
    doc: Document, base: KeyPath, config: dict[str, Any], pointers: list[str], verb: str
) -> list[str] | None:
    """The relative file paths named by the config fields `pointers`; None if one is unusable."""
    found_paths: list[str] = []
    ok = True
    for pointer in pointers:
        found, value, rel = lookup(config, pointer_path(pointer))
        if not found or value is None:
            continue
        values = value if isinstance(value, list) else [value]
        for i, item in enumerate(values):
            where = (*base, "config", *rel, *((i,) if isinstance(value, list) else ()))
            if not isinstance(item, str) or env_refs(item):
                continue  # wrong types are schema findings; templates are known at run time only
            normal = posixpath.normpath(item.replace("\\", "/"))
            if PurePosixPath(normal).is_absolute() or PureWindowsPath(item).drive:
                doc.add(
                    where,
                    f"'{item}' is an absolute path; a step {verb} files by relative path",
                    "make it relative to the pipeline's directory"
                    if verb == "reads"
                    else "make it relative to the run's output area",
                )
                ok = False
            elif normal == ".." or normal.startswith("../"):
                area = "the pipeline's directory" if verb == "reads" else "the run's output area"
                doc.add(where, f"'{item}' leaves {area}", f"use a path inside {area}")
                ok = False
            elif normal not in found_paths:
                found_paths.append(normal)
    return found_paths if ok else None
