"""What `osiris run` prints while it works: one line per step event, then a summary."""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from osiris.runners import RunResult
    from osiris.session import Session


def _secs(ms: Any) -> str:
    return f"{(ms or 0) / 1000:.2f}s"


class Console:
    """`osiris run`'s terminal: a RunObserver (osiris.api) that prints as the run goes."""

    session: Session

    def __init__(self, *, quiet: bool, verbose: bool, level: str = "INFO") -> None:
        self.quiet = quiet
        configured = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        self.log_level = logging.DEBUG if verbose else configured
        if quiet:
            self.log_level = max(self.log_level, logging.WARNING)
        self.live = sys.stdout.isatty() and not quiet
        self._counter_shown = False

    def _print(self, text: str, *, force: bool = False) -> None:
        if force or not self.quiet:
            self._clear_counter()
            print(self.session.masker.mask(text), flush=True)

    def _clear_counter(self) -> None:
        if self._counter_shown:
            sys.stdout.write("\r\x1b[K")
            self._counter_shown = False

    def started(self, session: Session, data: Mapping[str, Any], dry_run: bool) -> None:
        self.session = session
        n = len(data["steps"])
        verb = "Dry-running" if dry_run else "Running"
        self._print(
            f"{verb} {data['pipeline']['name']} ({n} step{'s' if n != 1 else ''}) "
            f"with the {session.data.get('executor')} executor — session {session.id}"
        )

    def notice(self, text: str) -> None:
        print(text, file=sys.stderr)

    def progress(self, event: str, fields: dict[str, Any]) -> None:
        step = fields.get("step", "")
        if event == "step_progress":
            # a live counter on a terminal only; logs and pipes get the start/done lines
            if self.live:
                sys.stdout.write(f"\r\x1b[K  ...    {step}: {fields.get('rows', 0):,} rows")
                sys.stdout.flush()
                self._counter_shown = True
        elif event == "step_start":
            self._print(f"  start  {step} ({fields.get('component', '')})")
        elif event == "step_expand":
            tables = fields.get("tables", [])
            shown = ", ".join(tables[:8]) + (
                f", ... ({len(tables)} in all)" if len(tables) > 8 else ""
            )
            self._print(f"  tables {step}: {shown}")
        elif event == "step_complete":
            self._print(
                f"  done   {step}: {fields.get('rows', 0):,} rows in "
                f"{_secs(fields.get('duration_ms'))}"
            )
        elif event == "step_failed":
            self._print(f"  FAILED {step}: [{fields.get('error_code')}] {fields.get('message')}")

    def finish(self, result: RunResult) -> None:
        self._clear_counter()
        s = self.session
        steps = result.steps
        ok = sum(1 for v in steps.values() if v.get("status") == "succeeded")
        if result.status == "succeeded":
            head = (
                f"Succeeded in {_secs(result.duration_ms)}: {ok} steps, "
                f"{result.rows_read:,} rows read, {result.rows_written:,} rows written"
            )
        elif result.status == "dry_run":
            head = (
                "Dry run OK: configuration, connections, allow-list and limits checked; nothing ran"
            )
        else:
            err = result.error or {}
            where = f" in step '{err['step_id']}'" if err.get("step_id") else ""
            head = (
                f"{result.status.capitalize()}{where} (exit {result.exit_code}): "
                f"[{err.get('code', 'error')}] {err.get('message', '')}"
            )
            if err.get("hint"):
                head += f"\n  hint: {err['hint']}"
        stream = sys.stdout if result.exit_code == 0 else sys.stderr
        print(s.masker.mask(head), file=stream)
        failed = {k: v for k, v in steps.items() if v.get("status") == "failed"}
        if len(failed) > 1:  # with on_failure: continue, every independent failure counts
            for step_id, info in failed.items():
                err = info.get("error") or {}
                line = f"  failed:  {step_id}: [{err.get('code')}] {err.get('message')}"
                print(s.masker.mask(line), file=stream)
        print(f"  session: {s.path}", file=stream)
        for rel in result.outputs:
            shown = Path(result.output_dir) / rel if result.output_dir else s.outputs / rel
            print(f"  output:  {_near(shown)}", file=stream)
        if result.bundle is not None:
            print(f"  bundle:  {result.bundle}", file=stream)


def _near(path: Path) -> Path:
    """`path` relative to the working directory when it is inside it."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return path
