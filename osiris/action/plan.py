"""`command: plan-diff`: compile each pipeline at the base ref and here, and diff the plans.

The base version of a file is read from the git checkout with dulwich, as `git show
<base>:<path>` would show it, and compiled in a temporary directory under the same file name,
with the base version of the connections file when the base has one. No git program is needed,
and the checkout's owner does not matter (a container action's workspace belongs to another user
than the container's root, which git itself refuses without `safe.directory`).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from osiris.action.commands import Context, load_action_config, register_secrets
from osiris.action.plandiff import diff_plans
from osiris.action.report import PipelineResult
from osiris.errors import PipelineError, UsageError

if TYPE_CHECKING:
    from dulwich.objects import Commit
    from dulwich.repo import Repo

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


@dataclass(frozen=True)
class _Base:
    """The base ref's commit in the checkout whose work tree is `top`; closes the repository
    when used as a context manager."""

    ref: str
    top: Path
    repo: Repo
    commit: Commit

    def __enter__(self) -> _Base:
        return self

    def __exit__(self, *exc: object) -> None:
        self.repo.close()

    def show(self, path: Path) -> bytes | None:
        """The file at `path` (in the work tree) as the base commit has it; None if it has not."""
        from dulwich.errors import NotTreeError
        from dulwich.object_store import tree_lookup_path
        from dulwich.objects import S_ISGITLINK, Blob

        where = Path(os.path.abspath(path))
        try:  # the directory resolved (the top is), the file itself not: it may be a link
            rel = (where.parent.resolve() / where.name).relative_to(self.top).as_posix()
        except ValueError:  # outside the checkout
            return None
        store = self.repo.object_store
        try:
            mode, sha = tree_lookup_path(store.__getitem__, self.commit.tree, rel.encode())
        except (KeyError, NotTreeError):
            return None
        if S_ISGITLINK(mode):
            return None
        try:
            blob = store[sha]
        except KeyError:
            raise UsageError(
                f"{rel} at {self.ref} is not in this checkout (a partial clone?)",
                hint="check out without a `filter` (actions/checkout), so the base's files "
                "are there",
            ) from None
        return blob.data if isinstance(blob, Blob) else None


def _commit(repo: Repo, ref: str) -> Commit | None:
    """The commit `ref` names, as git reads it: a branch, tag or remote branch, a full or short
    sha, with `~N` / `^N` after it; None when the checkout does not have it."""
    from dulwich.objects import Commit, Tag
    from dulwich.objectspec import parse_commit, parse_object

    try:
        found = parse_object(repo, ref.encode())
        if isinstance(found, (Commit, Tag)):
            return parse_commit(repo, found)
    except (KeyError, ValueError):
        pass
    try:  # a short sha
        return parse_commit(repo, ref.encode())
    except (KeyError, ValueError):
        return None


def _base_checkout(ctx: Context) -> _Base:
    """The base ref to compare with, checked to be in the checkout."""
    from dulwich.errors import NotGitRepository
    from dulwich.repo import Repo

    ref = base_ref(ctx.inputs.base_ref, ctx.environ)
    try:
        repo = Repo.discover(str(ctx.cwd))
    except NotGitRepository:
        raise UsageError(
            f"plan-diff needs a git checkout, and {ctx.cwd} is not in one",
            hint="run actions/checkout before this step",
        ) from None
    commit = _commit(repo, ref)
    if commit is None:
        repo.close()
        raise UsageError(
            f"the base ref '{ref}' is not in this checkout",
            hint="check out with `fetch-depth: 0` (actions/checkout), or fetch the base first",
        )
    return _Base(ref, Path(repo.path).resolve(), repo, commit)


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


def plan_diffs(ctx: Context) -> None:
    """Append one result per pipeline: changed / unchanged / invalid, with its plan diff."""
    with _base_checkout(ctx) as base_at:
        for path in ctx.paths:
            if path in ctx.problems:
                result = ctx.invalid(path)
                result.notes.append(
                    "This version does not compile, so there is no plan to compare."
                )
                ctx.report.pipelines.append(result)
                continue
            head = ctx.manifests[path]
            base, note = _base_manifest(ctx, base_at, path)
            components = {s["component"] for m in (base, head) if m for s in m["steps"]}
            diff = diff_plans(base, head, secret_fields=secret_fields(components))
            result = PipelineResult(
                ctx.rel(path),
                "changed" if diff.changed else "unchanged",
                0,
                name=head["pipeline"]["name"],
                fingerprint=head["fingerprint"],
                plan=diff,
                base_label=base_at.ref,
            )
            if note:
                result.notes.append(note)
            ctx.report.pipelines.append(result)


def list_pipelines(ctx: Context) -> None:
    """`command: list`: every pipeline, or with `changed-only` those whose compiled plan is not
    the one at the base ref (new pipelines, and ones that do not compile here, included: their
    matrix job reports them). The paths go to the `pipelines` output."""
    if not ctx.inputs.changed_only:
        ctx.report.listed = [_list(ctx, path, None) for path in ctx.paths]
        return
    with _base_checkout(ctx) as base_at:
        listed = [_list(ctx, path, base_at) for path in ctx.paths]
    ctx.report.listed = [path for path in listed if path]


def _list(ctx: Context, path: str, base_at: _Base | None) -> str:
    """Report one pipeline of `command: list`; its path if it is listed, else ""."""
    head = ctx.manifests.get(path)
    ref = base_at.ref if base_at else ""
    note = ""
    if base_at is None:
        include = True
    elif head is None:
        include, note = True, "does not compile here; its job will say why"
    else:
        base, why = _base_manifest(ctx, base_at, path)
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
        base_label=ref,
    )
    if note:
        result.notes.append(note)
    ctx.report.pipelines.append(result)
    return Path(path).as_posix() if include else ""


def _base_manifest(ctx: Context, base_at: _Base, path: str) -> tuple[dict[str, Any] | None, str]:
    from osiris.api import compile_file
    from osiris.connections import find_connections_file

    head_path = ctx.cwd / path
    text = base_at.show(head_path)
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
        top = base_at.top
        if connections is not None and (ctx.cwd / connections).resolve().is_relative_to(top):
            old = base_at.show(ctx.cwd / connections)
            if old is not None:
                (Path(tmp) / "base_connections.yaml").write_bytes(old)
                connections = Path(tmp) / "base_connections.yaml"
        if connections is not None:
            loaded = _with_connections(ctx, (ctx.cwd / connections).resolve())
        try:
            data = compile_file(base_path, loaded, dict(ctx.inputs.params)).data
        except PipelineError as exc:
            n = len(exc.problems)
            problems = f"{n} problem{'s' if n != 1 else ''}"
            return None, (
                f"The version at {base_at.ref} does not compile ({problems}); "
                "the whole plan is shown as new."
            )
    register_secrets(ctx, [data])
    return data, ""


def _with_connections(ctx: Context, connections: Path) -> Any:
    extra = {"runner.executor": ctx.executor, "connections_file": str(connections)}
    return load_action_config(ctx.inputs, extra)
