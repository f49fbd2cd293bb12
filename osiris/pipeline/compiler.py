"""Pipeline file → validated `Pipeline` → deterministic `Manifest`."""

from __future__ import annotations

import copy
import hashlib
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import osiris
from osiris.components import Registry, get_registry
from osiris.connections import (
    CONNECTIONS_FILE,
    Connection,
    ConnectionsFile,
    find_connections_file,
    parse_connections,
)
from osiris.document import Document, KeyPath, read_yaml
from osiris.errors import PipelineError, Problem
from osiris.pipeline.incremental import check_incremental
from osiris.pipeline.manifest import MANIFEST_VERSION, Manifest, step_fingerprint
from osiris.pipeline.model import Pipeline
from osiris.pipeline.params import bind_params
from osiris.pipeline.schema import check_config, validator
from osiris.pipeline.steps import CompiledStep, compile_step, lookup
from osiris.pipeline.tables import check_tables
from osiris.pipeline.validate import STEP_ID_PATTERN, build_pipeline
from osiris.templates import env_refs, is_malformed, whole_ref

DEFAULT_RUN: dict[str, Any] = {
    "limits": {
        "timeout_seconds": 3600,
        "idle_timeout_seconds": 600,
        "memory_mb": None,
        "cpu": None,
    },
    "network": {"allow": ["*"], "connect_timeout_seconds": 30.0},
    "steps": {"max_parallel": 4, "on_failure": "stop"},
}


def _step_ids(doc: Document) -> dict[int, str]:
    steps = doc.data.get("steps") if isinstance(doc.data, dict) else None
    if not isinstance(steps, list):
        return {}
    return {
        i: s["id"]
        for i, s in enumerate(steps)
        if isinstance(s, dict)
        and isinstance(s.get("id"), str)
        and re.match(STEP_ID_PATTERN, s["id"])
    }


def _problems(docs: list[Document], *, warnings: bool) -> list[Problem]:
    found: list[Problem] = []
    for doc in docs:
        for problem in doc.problems(_step_ids(doc), warnings=warnings):
            if problem not in found:
                found.append(problem)
    return found


def _fail(docs: list[Document]) -> PipelineError:
    return PipelineError(_problems(docs, warnings=False) + _problems(docs, warnings=True))


def _read(path: Path) -> tuple[Pipeline | None, Document]:
    raw, doc = read_yaml(path)
    return build_pipeline(doc, path, raw), doc


def load_pipeline(path: Path) -> Pipeline:
    """Parse a pipeline and check its structure and step graph (no components, no params).

    Raises PipelineError listing every problem found, each with file:line:col.
    """
    pipeline, doc = _read(path)
    if pipeline is None or doc.findings:
        raise _fail([doc])
    return pipeline


class _Connections:
    """Finds and parses the connections file on first use, and reports unresolvable refs."""

    def __init__(self, pipeline: Pipeline, doc: Document, explicit: Path | None) -> None:
        self.pipeline, self.doc, self.explicit = pipeline, doc, explicit
        self.file: ConnectionsFile | None = None
        self.looked: list[Path] | None = None

    def __call__(self, ref: str, path: KeyPath, *, implicit: bool = False) -> Connection | None:
        if self.looked is None:
            found, self.looked = find_connections_file(self.pipeline.path, self.explicit)
            if found is not None:
                self.file = parse_connections(found)
        family = ref[1:].split(".", maxsplit=1)[0]
        # a step without `connection` uses its family's default; say so in every message
        why = f"the step names no connection, so it needs a default {family} connection: "
        if self.file is None:
            looked = " and ".join(str(p) for p in self.looked)
            what = why if implicit else f"connection '{ref}' cannot be resolved: "
            self.doc.add(
                path,
                f"{what}no {CONNECTIONS_FILE} found (looked for {looked})",
                f"create {CONNECTIONS_FILE} next to the pipeline; see docs/pipelines.md",
            )
            return None
        if self.file.document.findings and not self.file.families:
            return None  # the file is unusable and says so; do not pile on
        conn, message, hint = self.file.lookup(ref)
        if conn is None:
            if implicit:
                message = why + message
                hint = f'add `connection: "@{family}.<alias>"` to the step, or {hint}'
            self.doc.add(path, message, hint)
        return conn


def compile_pipeline(
    path: Path,
    *,
    params: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
    connections_file: Path | None = None,
    run_settings: Mapping[str, Any] | None = None,
    registry: Registry | None = None,
) -> Manifest:
    """Validate a pipeline completely and compile it into a manifest.

    `params` are `--param` values (text, coerced to each parameter's type); `environ` supplies
    `OSIRIS_PARAM_<NAME>` (default: os.environ). The connections file is `connections_file`, else
    `osiris_connections.yaml` next to the pipeline, else in the working directory. Raises
    PipelineError listing every problem in the pipeline and the connections file; the warnings
    of a pipeline that compiles are in `manifest.warnings`.
    """
    environ = os.environ if environ is None else environ
    pipeline, doc = _read(path)
    if pipeline is None:
        raise _fail([doc])
    registry = registry if registry is not None else get_registry()
    bound = bind_params(pipeline, params or {}, environ)
    conns = _Connections(pipeline, doc, connections_file)
    compiled = {}
    for step in pipeline.steps:
        result = compile_step(
            doc,
            step,
            registry=registry,
            params=pipeline.params,
            bound=bound,
            connections=conns,
        )
        if result is not None:
            compiled[step.id] = result
    roles = check_tables(doc, compiled)
    watermarks = check_incremental(doc, compiled)
    secrets = _check_connections(compiled.values(), conns.file)
    docs = [doc] + ([conns.file.document] if conns.file is not None else [])
    if any(d.findings for d in docs):
        raise _fail(docs)
    manifest = _manifest(
        pipeline,
        bound,
        [compiled[sid] for sid in pipeline.order],
        secrets,
        run_settings=run_settings,
        roles=roles,
        watermarks=watermarks,
    )
    manifest.warnings = sorted(
        _problems(docs, warnings=True), key=lambda p: (p.file, p.line, p.col, p.message)
    )
    return manifest


def _check_connections(
    steps: Iterable[CompiledStep], conns: ConnectionsFile | None
) -> dict[str, set[str]]:
    """Secret fields must be env references; fields must fit the component's connection schema.

    Returns the secret field names of every used connection.
    """
    secrets: dict[str, set[str]] = {}
    if conns is None:
        return secrets
    doc = conns.document
    for cs in steps:
        conn = cs.connection
        if conn is None:
            continue
        spec = cs.component.spec
        names = secrets.setdefault(conn.ref, set())
        secret_fields = [f for f in spec.connection_secret_fields() if f in conn.fields]
        for name in secret_fields:
            names.add(name)
            value = conn.fields[name]
            if value in (None, "") or (isinstance(value, str) and _is_env_ref(value)):
                continue
            var = f"{conn.family}_{name}".upper()
            doc.add(
                (*conn.path, name),
                f"field '{name}' is a secret and must come from an environment variable, "
                "not a literal value",
                f"write `{name}: ${{{var}}}` and export {var} where the pipeline runs",
            )
        if spec.connection_schema:
            try:
                check = validator(spec.connection_schema)
            except ValueError:
                continue  # a broken component schema; the component's own tests must catch it

            def skipped(
                path: KeyPath, instance: Any, base: KeyPath = conn.path, hidden: Any = secret_fields
            ) -> bool:
                rel = path[len(base) :]
                if rel[:1] and rel[0] in hidden:
                    return True
                return isinstance(instance, str) and bool(env_refs(instance))

            check_config(doc, conn.path, conn.fields, check, skipped)
    return secrets


def _is_env_ref(value: str) -> bool:
    if is_malformed(value):
        return True  # reported as malformed, not as a literal secret
    ref = whole_ref(value)
    return ref is not None and "." not in ref.name


def _manifest(
    pipeline: Pipeline,
    bound: Mapping[str, Any],
    steps: list[CompiledStep],
    secrets: dict[str, set[str]],
    *,
    run_settings: Mapping[str, Any] | None,
    roles: Mapping[str, str],
    watermarks: Mapping[str, str],
) -> Manifest:
    order = {cs.step.id: i for i, cs in enumerate(steps)}
    required: set[str] = set()
    optional: set[str] = set()
    secret: set[str] = set()

    def note(value: Any, is_secret: bool) -> list[str]:
        refs = env_refs(value)
        for ref in refs:
            (optional if ref.default is not None else required).add(ref.name)
            if is_secret:
                secret.add(ref.name)
        return [r.name for r in refs]

    out_steps = []
    for cs in steps:
        note(cs.config, False)
        note(cs.connection_fields, False)
        for rel in cs.secret_paths:
            note(lookup(cs.config, rel)[1], True)
        entry: dict[str, Any] = {
            "id": cs.step.id,
            "component": cs.component.name,
            "component_version": cs.component.spec.version,
            "mode": cs.step.mode,
            "config": cs.config,
            "connection": cs.connection.ref if cs.connection is not None else None,
            "needs": sorted(cs.step.needs, key=order.__getitem__),
            "inputs": cs.inputs,
            "outputs": cs.outputs,
        }
        if cs.connection_fields:
            entry["connection_fields"] = cs.connection_fields
        if cs.appends:
            entry["appends"] = cs.appends
        if cs.step.id in watermarks:
            entry["watermark_from"] = watermarks[cs.step.id]
        role = roles.get(cs.step.id)
        if role == "many":
            entry["many_tables"] = True
        elif role is not None:
            entry["per_table"] = role
        entry["fingerprint"] = step_fingerprint(entry)
        out_steps.append(entry)
    connections = {}
    for cs in steps:
        conn = cs.connection
        if conn is None or conn.ref in connections:
            continue
        names = secrets.get(conn.ref, set())
        used = [n for field, value in conn.fields.items() for n in note(value, field in names)]
        connections[conn.ref] = {
            "family": conn.family,
            "alias": conn.alias,
            "fields": conn.fields,
            "secret_fields": sorted(names),
            "env": sorted(set(used)),
        }
    body = {
        "manifest_version": MANIFEST_VERSION,
        "osiris_version": osiris.__version__,
        "pipeline": {
            "name": pipeline.name,
            "description": pipeline.description,
            "metadata": pipeline.metadata,
            "oml_version": pipeline.oml_version,
            "file": pipeline.path.name,
        },
        "params": dict(bound),
        "steps": out_steps,
        "connections": connections,
        "env": {
            "required": sorted(required),
            "optional": sorted(optional - required),
            "secret": sorted(secret),
        },
        "run": _run(run_settings),
        "fingerprints": {
            "oml": "sha256:" + hashlib.sha256(pipeline.source).hexdigest(),
            "steps": {s["id"]: s["fingerprint"] for s in out_steps},
            "components": {cs.component.name: cs.component.spec.version for cs in steps},
            "osiris": osiris.__version__,
        },
    }
    return Manifest.build(copy.deepcopy(body))


def _run(settings: Mapping[str, Any] | None) -> dict[str, Any]:
    run = copy.deepcopy(DEFAULT_RUN)
    for section, values in (settings or {}).items():
        if isinstance(values, Mapping) and isinstance(run.get(section), dict):
            run[section].update(values)
        else:
            run[section] = values
    return run
