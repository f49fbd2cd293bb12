"""`command: plan-diff`: compile each pipeline at the base ref and here, and diff the plans.

The base version comes from `git show <base>:<path>` (the workspace is a git checkout) and is
compiled in a temporary directory under the same file name, with the base version of the
connections file when the base has one. Git runs with `safe.directory=*` because a container
action's workspace belongs to another user than the container's root.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from osiris.action.commands import Context, load_action_config, register_secrets
from osiris.action.plandiff import diff_plans
from osiris.action.report import PipelineResult
from osiris.errors import PipelineError, UsageError

__all__ = ["base_ref", "list_pipelines", "plan_diffs", "secret_fields"]


def base_ref(inputs_base: str, environ: Any) -> str:
    """The base-ref input, else the pull request's base branch on `origin`."""
    if inputs_base:
        return inputs_base
    if environ.get("GITHUB_BASE_REF"):
        return f"origin/{environ['GITHUB_BASE_REF']}"
    raise UsageError(
        "plan-diff needs a base to compare with",
        hint="set the base-ref input, or run on a pull_request event (GITHUB_BASE_REF)",
    )


def _git(cwd: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(
            ["git", "-c", "safe.directory=*", *args], cwd=cwd, capture_output=True, check=False
        )
    except FileNotFoundError as exc:
        raise UsageError(
            "plan-diff needs git, and it is not installed here",
            hint="use the action's image, which has git, or install git",
        ) from exc


def _toplevel(cwd: Path) -> Path:
    found = _git(cwd, "rev-parse", "--show-toplevel")
    if found.returncode:
        raise UsageError(
            f"plan-diff needs a git checkout, and {cwd} is not in one",
            hint="run actions/checkout before this step",
        )
    return Path(found.stdout.decode().strip()).resolve()


def _show(top: Path, ref: str, path: Path) -> bytes | None:
    rel = Path(os.path.abspath(path)).relative_to(top).as_posix()
    shown = _git(top, "show", f"{ref}:{rel}")
    return shown.stdout if shown.returncode == 0 else None


def secret_fields(components: set[str]) -> dict[str, set[str]]:
    """Top-level secret config fields of each component, from its spec's `x-secret`."""
    from osiris.components import get_registry

    registry = get_registry()
    fields: dict[str, set[str]] = {}
    for name in components:
        component = registry.get(name)
        if component is not None:
            pointers = component.spec.config_secret_pointers()
            fields[name] = {p.lstrip("/").split("/")[0] for p in pointers}
    return fields


def _base_checkout(ctx: Context) -> tuple[str, Path]:
    """The base ref to compare with, checked to be in the checkout, and the checkout's top."""
    ref = base_ref(ctx.inputs.base_ref, ctx.environ)
    top = _toplevel(ctx.cwd)
    if _git(top, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").returncode:
        raise UsageError(
            f"the base ref '{ref}' is not in this checkout",
            hint="check out with `fetch-depth: 0` (actions/checkout), or fetch the base first",
        )
    return ref, top


def plan_diffs(ctx: Context) -> None:
    """Append one result per pipeline: changed / unchanged / invalid, with its plan diff."""
    ref, top = _base_checkout(ctx)
    for path in ctx.paths:
        if path in ctx.problems:
            result = ctx.invalid(path)
            result.notes.append("This version does not compile, so there is no plan to compare.")
            ctx.report.pipelines.append(result)
            continue
        head = ctx.manifests[path]
        base, note = _base_manifest(ctx, top, ref, path)
        components = {s["component"] for m in (base, head) if m for s in m["steps"]}
        diff = diff_plans(base, head, secret_fields=secret_fields(components))
        status = "changed" if diff.changed else "unchanged"
        result = PipelineResult(
            ctx.rel(path),
            status,
            0,
            name=head["pipeline"]["name"],
            fingerprint=head["fingerprint"],
            plan=diff,
            base_label=ref,
        )
        if note:
            result.notes.append(note)
        ctx.report.pipelines.append(result)


def list_pipelines(ctx: Context) -> None:
    """`command: list`: every pipeline, or with `changed-only` those whose compiled plan is not
    the one at the base ref (new pipelines, and ones that do not compile here, included: their
    matrix job reports them). The paths go to the `pipelines` output."""
    listed: list[str] = []
    ref, top = _base_checkout(ctx) if ctx.inputs.changed_only else (None, None)
    for path in ctx.paths:
        head = ctx.manifests.get(path)
        note = ""
        if ref is None or top is None:
            include = True
        elif head is None:
            include, note = True, "does not compile here; its job will say why"
        else:
            base, why = _base_manifest(ctx, top, ref, path)
            include = base is None or base["fingerprint"] != head["fingerprint"]
            if not include:
                note = f"same plan as at {ref}"
            elif base is None:
                note = f"did not compile at {ref}" if why else "new"
            else:
                note = f"plan changed since {ref}"
        result = PipelineResult(
            ctx.rel(path),
            "listed" if include else "unchanged",
            0,
            name=head["pipeline"]["name"] if head else "",
            fingerprint=head["fingerprint"] if head else None,
            base_label=ref or "",
        )
        if note:
            result.notes.append(note)
        ctx.report.pipelines.append(result)
        if include:
            listed.append(Path(path).as_posix())
    ctx.report.listed = listed


def _base_manifest(
    ctx: Context, top: Path, ref: str, path: str
) -> tuple[dict[str, Any] | None, str]:
    from osiris.api import compile_file
    from osiris.connections import find_connections_file

    head_path = ctx.cwd / path
    text = _show(top, ref, head_path)
    if text is None:
        return None, ""
    # the file the head compiled with: the input, else osiris.yaml / OSIRIS_CONNECTIONS_FILE
    configured = ctx.loaded.get("connections_file")
    explicit = Path(configured) if configured else None
    connections, _ = find_connections_file(Path(path), explicit, ctx.cwd)
    with tempfile.TemporaryDirectory(prefix="osiris-base-") as tmp:
        base_path = Path(tmp) / head_path.name
        base_path.write_bytes(text)
        loaded = ctx.loaded
        if connections is not None and (ctx.cwd / connections).resolve().is_relative_to(top):
            old = _show(top, ref, ctx.cwd / connections)
            if old is not None:
                (Path(tmp) / "base_connections.yaml").write_bytes(old)
                connections = Path(tmp) / "base_connections.yaml"
        if connections is not None:
            loaded = _with_connections(ctx, (ctx.cwd / connections).resolve())
        try:
            data = compile_file(base_path, loaded, dict(ctx.inputs.params)).data
        except PipelineError as exc:
            n = len(exc.problems)
            return None, (
                f"The version at {ref} does not compile ({n} problem{'s' if n != 1 else ''}); "
                "the whole plan is shown as new."
            )
    register_secrets(ctx, [data])
    return data, ""


def _with_connections(ctx: Context, connections: Path) -> Any:
    extra = {"runner.executor": ctx.executor, "connections_file": str(connections)}
    return load_action_config(ctx.inputs, extra)
