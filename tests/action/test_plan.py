"""`command: plan-diff` in a real git checkout: the base version of a file as `git show` has it."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from osiris.action import main
from tests.action.helpers import (
    action_env,
    changed_only_env,
    make_workspace,
    read_outputs,
    read_summary,
)


def git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A repository whose `main` has quickstart.yaml, same.yaml and broken.yaml committed."""
    workspace = make_workspace(tmp_path)
    examples = workspace / "examples"
    quickstart = (examples / "quickstart.yaml").read_text()
    (examples / "same.yaml").write_text(quickstart)
    (examples / "broken.yaml").write_text(quickstart.replace("mode: write", "mode: wrte", 1))
    git(workspace, "init", "-q", "-b", "main")
    git(workspace, "add", ".")
    git(workspace, "commit", "-q", "-m", "base")
    # The change under review, left in the work tree like a PR's head checkout.
    (examples / "quickstart.yaml").write_text(
        quickstart.replace("default: 0", "default: 100").replace("revenue.csv", "revenue_v2.csv")
    )
    (examples / "broken.yaml").write_text(quickstart)
    (examples / "new.yaml").write_text(quickstart)
    return workspace


def test_plan_diff(checkout: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = action_env(
        checkout, {"pipeline": "examples/*.yaml", "command": "plan-diff", "base-ref": "main"}
    )

    assert main(env) == 0

    assert capsys.readouterr().out == ""
    outputs = read_outputs(env)
    assert (outputs["status"], outputs["exit-code"], outputs["session-id"]) == ("changed", "0", "")
    summary = read_summary(env)
    sections = summary.split("\n### ")
    assert sections[0] == "## ✏️ changed — osiris plan-diff\n"
    assert sections[1:] == [
        "✏️ changed — `examples/broken.yaml`\n\n"
        "- The version at main does not compile (1 problem); the whole plan is shown as new.\n\n"
        "No plan at `main` to compare with: all 5 steps are new.\n\n"
        "**Write targets**\n\n| Step | Before | After |\n|---|---|---|\n"
        "| `write_csv` | — | files → output/revenue.csv (default mode) |\n"
        "| `write_parquet` | — | files → output/revenue.parquet (default mode) |\n\n"
        "**Steps**\n\n"
        "- 🆕 `orders` (`filesystem.csv_extractor`, extract) added\n"
        "- 🆕 `customers` (`filesystem.csv_extractor`, extract) added\n"
        "- 🆕 `revenue` (`duckdb.processor`, transform) added\n"
        "- 🆕 `write_csv` (`filesystem.csv_writer`, write) added\n"
        "- 🆕 `write_parquet` (`filesystem.parquet_writer`, write) added\n",
        "✏️ changed — `examples/new.yaml`\n\n"
        "No plan at `main` to compare with: all 5 steps are new.\n\n"
        "**Write targets**\n\n| Step | Before | After |\n|---|---|---|\n"
        "| `write_csv` | — | files → output/revenue.csv (default mode) |\n"
        "| `write_parquet` | — | files → output/revenue.parquet (default mode) |\n\n"
        "**Steps**\n\n"
        "- 🆕 `orders` (`filesystem.csv_extractor`, extract) added\n"
        "- 🆕 `customers` (`filesystem.csv_extractor`, extract) added\n"
        "- 🆕 `revenue` (`duckdb.processor`, transform) added\n"
        "- 🆕 `write_csv` (`filesystem.csv_writer`, write) added\n"
        "- 🆕 `write_parquet` (`filesystem.parquet_writer`, write) added\n",
        "✏️ changed — `examples/quickstart.yaml`\n\n"
        "Compared with `main`: 2 steps changed, 1 write target changed.\n\n"
        "**Write targets**\n\n| Step | Before | After |\n|---|---|---|\n"
        "| `write_csv` | files → output/revenue.csv (default mode) "
        "| files → output/revenue_v2.csv (default mode) |\n\n"
        "**Steps**\n\n"
        "- ✏️ `revenue` (`duckdb.processor`, transform) changed\n"
        "  - `config.query`:\n\n"
        "    ```diff\n"
        "    @@ -6,4 +6,4 @@\n"
        "     where o.status = 'paid'\n"
        "     group by all\n"
        "    -having sum(o.amount) >= 0\n"
        "    +having sum(o.amount) >= 100\n"
        "     order by revenue desc, customer_id\n"
        "    ```\n\n"
        "- ✏️ `write_csv` (`filesystem.csv_writer`, write) changed\n"
        "  - `config.path`: `output/revenue.csv` → `output/revenue_v2.csv`\n"
        '  - `outputs`: `["output/revenue.csv"]` → `["output/revenue_v2.csv"]`\n\n'
        "**Parameters**\n\n- `min_revenue`: `0` → `100`\n",
        "✅ unchanged — `examples/same.yaml`\n\n"
        "No change to the compiled plan compared with `main`.\n",
    ]


def test_an_invalid_head_is_annotated(checkout: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = checkout / "examples" / "quickstart.yaml"
    bad.write_text(bad.read_text().replace("mode: transform", "mode: transfrom"))
    env = action_env(
        checkout,
        {"pipeline": "examples/quickstart.yaml", "command": "plan-diff", "base-ref": "HEAD"},
    )

    assert main(env) == 2

    [line] = capsys.readouterr().out.splitlines()
    assert line.startswith(
        "::error title=Invalid pipeline,file=examples/quickstart.yaml,col=11,line=27::step "
        "'revenue' → mode: "
    )
    assert read_outputs(env)["status"] == "invalid"
    assert "- This version does not compile, so there is no plan to compare.\n" in read_summary(env)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            {"GITHUB_BASE_REF": "main"},
            "the base ref 'origin/main' is not in this checkout%0A  hint: check out with "
            "`fetch-depth: 0` (actions/checkout), or fetch the base first",
        ),
        (
            {},
            "plan-diff needs a base to compare with%0A  hint: set the base-ref input, or run on "
            "a pull_request event (GITHUB_BASE_REF)",
        ),
    ],
)
def test_base_problems(
    checkout: Path, capsys: pytest.CaptureFixture[str], extra: dict[str, str], message: str
) -> None:
    env = action_env(
        checkout, {"pipeline": "examples/quickstart.yaml", "command": "plan-diff"}, **extra
    )
    assert main(env) == 2
    assert capsys.readouterr().out.splitlines() == [f"::error title=osiris plan-diff::{message}"]


def test_not_a_checkout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    workspace = make_workspace(tmp_path)
    env = action_env(
        workspace,
        {"pipeline": "examples/quickstart.yaml", "command": "plan-diff", "base-ref": "main"},
    )
    assert main(env) == 2
    assert capsys.readouterr().out.startswith(
        f"::error title=osiris plan-diff::plan-diff needs a git checkout, and {workspace} is not "
        "in one"
    )


def git_out(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path | str]:
    """Commits A and B (quickstart.yaml's plan changed in B, checked out, clean), tag `v-a` and
    `origin/main` at A; the same history packed by `git gc`, and a worktree at B."""
    tmp = tmp_path_factory.mktemp("history")
    workspace = make_workspace(tmp)
    quickstart = workspace / "examples" / "quickstart.yaml"
    git(workspace, "init", "-q", "-b", "main")
    git(workspace, "add", ".")
    git(workspace, "commit", "-q", "-m", "A")
    git(workspace, "tag", "v-a")
    git(workspace, "update-ref", "refs/remotes/origin/main", "HEAD")
    quickstart.write_text(quickstart.read_text().replace("default: 0", "default: 100"))
    git(workspace, "commit", "-q", "-am", "B")
    packed = tmp / "packed"
    git(tmp, "clone", "-q", "--no-local", str(workspace), str(packed))
    git(packed, "update-ref", "refs/remotes/origin/main", "origin/main~1")
    git(packed, "gc", "-q", "--aggressive")
    assert not list((packed / ".git" / "objects").glob("??/*")), "loose objects after gc"
    worktree = tmp / "worktree"
    git(workspace, "worktree", "add", "-q", "--detach", str(worktree), "main")
    return {
        "plain": workspace,
        "packed": packed,
        "worktree": worktree,
        "a": git_out(workspace, "rev-parse", "HEAD~1"),
        "b": git_out(workspace, "rev-parse", "HEAD"),
    }


@pytest.mark.parametrize("layout", ["plain", "packed", "worktree"])
@pytest.mark.parametrize(
    ("ref", "at_a"),
    [
        ("HEAD~1", True),
        ("HEAD^", True),
        ("main~1", True),
        ("v-a", True),
        ("origin/main", True),
        ("<a>", True),
        ("<a:8>", True),
        ("HEAD", False),
        ("main", False),
        ("<b>", False),
    ],
)
def test_base_refs_are_read_as_git_reads_them(
    history: dict[str, Path | str], layout: str, ref: str, at_a: bool
) -> None:
    """Branches, tags, remote branches, full and short shas, `~N` and `^N`, in a repository
    with loose objects, a packed one and a worktree, and with no git program on PATH."""
    workspace = history[layout]
    assert isinstance(workspace, Path)
    a, b = str(history["a"]), str(history["b"])
    ref = ref.replace("<a:8>", a[:8]).replace("<a>", a).replace("<b>", b)
    env = changed_only_env(
        workspace, "examples/quickstart.yaml", ref, PATH=str(workspace / "no-such-bin")
    )

    assert main(env) == 0

    expected = ["examples/quickstart.yaml"] if at_a else []
    assert json.loads(read_outputs(env)["pipelines"]) == expected


def test_a_pipeline_outside_the_checkout_is_new(checkout: Path) -> None:
    """A pipeline beside the checkout has no base version: it is listed as new."""
    outside = checkout.parent / "outside.yaml"
    outside.write_text((checkout / "examples" / "quickstart.yaml").read_text())
    env = changed_only_env(checkout, "../outside.yaml", "main")

    assert main(env) == 0

    assert json.loads(read_outputs(env)["pipelines"]) == ["../outside.yaml"]
    assert "| new |" in read_summary(env)


def test_a_partial_clone_without_the_base_file_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A blobless clone (actions/checkout's `filter: blob:none`) has the base's trees, not its
    files: an error that says how to check out, not a plan shown as new."""
    source = make_workspace(tmp_path / "source")
    quickstart = source / "examples" / "quickstart.yaml"
    git(source, "init", "-q", "-b", "main")
    git(source, "config", "uploadpack.allowFilter", "true")
    git(source, "add", ".")
    git(source, "commit", "-q", "-m", "A")
    quickstart.write_text(quickstart.read_text().replace("default: 0", "default: 100"))
    git(source, "commit", "-q", "-am", "B")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--filter=blob:none", f"file://{source}", str(clone))
    env = action_env(
        clone,
        {"pipeline": "examples/quickstart.yaml", "command": "plan-diff", "base-ref": "HEAD~1"},
    )

    assert main(env) == 2

    assert capsys.readouterr().out.splitlines() == [
        "::error title=osiris plan-diff::examples/quickstart.yaml at HEAD~1 is not in this "
        "checkout (a partial clone?)%0A  hint: check out without a `filter` (actions/checkout), "
        "so the base's files are there"
    ]


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give the checkout to another user")
def test_a_checkout_owned_by_another_user(checkout: Path) -> None:
    """A container action runs as root over a workspace the runner's user owns; git itself
    refuses such a repository ("dubious ownership") unless told `safe.directory`."""
    for path in [checkout, *checkout.rglob("*")]:
        os.lchown(path, 65534, 65534)
    assert subprocess.run(
        ["git", "status"], cwd=checkout, capture_output=True, check=False
    ).returncode
    env = changed_only_env(checkout, "examples/same.yaml", "main")

    assert main(env) == 0

    assert json.loads(read_outputs(env)["pipelines"]) == []


def test_the_base_uses_its_own_version_of_the_configured_connections_file(
    tmp_path: Path,
) -> None:
    """`connections_file` set in osiris.yaml: the base compiles against that file as it was."""
    workspace = make_workspace(tmp_path)
    (workspace / "conf").mkdir()
    conns = workspace / "conf" / "conns.yaml"
    conns.write_text(
        "connections:\n  postgres:\n    wh:\n      host: db-old.example.com\n"
        "      user: etl\n      password: ${WH_PASSWORD}\n      database: wh\n"
    )
    (workspace / "osiris.yaml").write_text("connections_file: conf/conns.yaml\n")
    (workspace / "load.yaml").write_text(
        'oml_version: "0.1.0"\nname: load\nsteps:\n'
        "  - id: read\n    component: filesystem.csv_extractor\n    mode: extract\n"
        "    config: {path: examples/data/orders.csv}\n"
        "  - id: write\n    component: postgres.writer\n    mode: write\n    needs: [read]\n"
        '    config: {connection: "@postgres.wh", table: orders}\n'
    )
    git(workspace, "init", "-q", "-b", "main")
    git(workspace, "add", ".")
    git(workspace, "commit", "-q", "-m", "base")
    conns.write_text(conns.read_text().replace("db-old", "db-new"))
    env = action_env(
        workspace, {"pipeline": "load.yaml", "command": "plan-diff", "base-ref": "main"}
    )

    assert main(env) == 0

    assert read_outputs(env)["status"] == "changed"
    summary = read_summary(env)
    assert "db-old.example.com" in summary and "db-new.example.com" in summary
