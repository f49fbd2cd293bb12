"""`osiris logs list | show | bundle | gc`: each returns an exit code and prints to stdout.

User mistakes (an unknown session, bad gc options) raise `UsageError` for the CLI's handler.
Only directories named like session ids (`run_<yyyymmddThhmmss>_<6 chars>`) are ever listed,
bundled or deleted, so a logs directory shared with other files is safe.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

from osiris.errors import UsageError
from osiris.session.bundle import bundle_session, write_bundle
from osiris.session.info import SESSION_ID_RE, SessionInfo, read_session
from osiris.session.render import (
    format_duration,
    render_session,
    session_steps,
    status_text,
    table,
)

__all__ = [
    "bundle_session",
    "find_sessions",
    "logs_bundle",
    "logs_gc",
    "logs_html",
    "logs_list",
    "logs_show",
    "resolve_session",
]

_DAY = 86400.0


def find_sessions(logs_dir: Path) -> list[SessionInfo]:
    """Every session in `logs_dir`, newest first."""
    try:
        entries = list(logs_dir.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return []
    infos = [
        read_session(entry)
        for entry in entries
        if SESSION_ID_RE.match(entry.name) and entry.is_dir() and not entry.is_symlink()
    ]
    infos.sort(key=lambda i: (i.started_epoch() or 0.0, i.path.name), reverse=True)
    return infos


def resolve_session(logs_dir: Path, session: str) -> Path:
    """The directory `session` names: an id, "last", a path, or a unique prefix.

    The prefix may be of the whole id or of its random tail alone.
    """
    if session == "last":
        found = find_sessions(logs_dir)
        if not found:
            raise UsageError(f"no sessions in {logs_dir}", hint="run a pipeline first")
        return found[0].path
    candidate = Path(session)
    looks_like_path = "/" in session or "\\" in session or session in (".", "..")
    if looks_like_path:
        if candidate.is_dir():
            return candidate
        raise UsageError(f"{session} is not a session directory")
    exact = logs_dir / session
    if SESSION_ID_RE.match(session) and exact.is_dir():
        return exact
    # Like a short git hash, the random tail alone is enough: `osiris logs show 7142f0`.
    matches = [
        i.path
        for i in find_sessions(logs_dir)
        if i.path.name.startswith(session) or i.path.name.rsplit("_", 1)[-1].startswith(session)
    ]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        names = ", ".join(sorted(p.name for p in matches)[:5])
        more = "" if len(matches) <= 5 else f" and {len(matches) - 5} more"
        raise UsageError(
            f"'{session}' matches {len(matches)} sessions: {names}{more}",
            hint="give more characters of the session id",
        )
    if candidate.is_dir() and (candidate / "session.json").exists():
        return candidate
    raise UsageError(
        f"no session '{session}' in {logs_dir}",
        hint="run `osiris logs list` to see the sessions",
    )


def logs_list(logs_dir: Path, *, as_json: bool) -> int:
    sessions = find_sessions(logs_dir)
    if as_json:
        print(json.dumps([s.summary() for s in sessions], indent=2, ensure_ascii=False))
        return 0
    if not sessions:
        print(f"no sessions in {logs_dir}")
        return 0
    rows = [
        [
            s.id,
            s.pipeline_name or "-",
            status_text(s),
            format_duration(s.duration_ms),
            s.executor or "-",
        ]
        for s in sessions
    ]
    for line in table(["SESSION", "PIPELINE", "STATUS", "DURATION", "EXECUTOR"], rows):
        print(line)
    return 0


def logs_show(logs_dir: Path, session: str, *, events: bool, as_json: bool) -> int:
    info = read_session(resolve_session(logs_dir, session))
    if as_json:
        content = info.events()
        out = {
            **info.summary(),
            "session": info.data,
            "steps": session_steps(info, content.records),
            "problems": info.problems + content.problems,
        }
        if events:
            out["events"] = content.records
        print(json.dumps(out, indent=2, ensure_ascii=False))
        return 0
    for line in render_session(info, events=events):
        print(line)
    return 0


def logs_bundle(logs_dir: Path, session: str, *, out: Path | None) -> int:
    path = resolve_session(logs_dir, session)
    if out is None:
        out = logs_dir / f"{path.name}.zip"
    written, skipped = write_bundle(path, out)
    info = read_session(path)
    if info.incomplete:
        print(f"note: session {info.id} is {status_text(info)}", file=sys.stderr)
    for item in skipped:
        print(f"note: left out {item['path']}: {item['reason']}", file=sys.stderr)
    print(written)
    return 0


def logs_html(logs_dir: Path, session: str, *, open_it: bool) -> int:
    """(Re)writes the session's report.html from its files and prints its path."""
    from osiris.session.report import REPORT_FILE, write_report

    path = resolve_session(logs_dir, session)
    try:
        report = write_report(path)
    except OSError as exc:
        raise UsageError(
            f"cannot write {path / REPORT_FILE}: {exc.strerror}",
            hint="check that the session directory is writable",
        ) from exc
    print(report)
    if open_it:
        import webbrowser

        if not webbrowser.open(report.resolve().as_uri()):
            print("note: no browser to open it with; open the file above", file=sys.stderr)
    return 0


def logs_gc(
    logs_dir: Path, *, keep: int | None, older_than_days: float | None, dry_run: bool = False
) -> int:
    """Deletes old sessions (and their `<id>.zip` bundles next to them).

    `keep`: all but the newest N sessions go; `older_than_days`: sessions started more than
    that many days ago go; with both, only sessions matching both go (the newest N always stay).
    A session whose writer is still alive is never deleted.
    """
    if keep is None and older_than_days is None:
        raise UsageError("logs gc needs --keep N, --older-than DAYS, or both")
    if keep is not None and keep < 0:
        raise UsageError(f"--keep must be 0 or more, got {keep}")
    if older_than_days is not None and older_than_days < 0:
        raise UsageError(f"--older-than must be 0 or more days, got {older_than_days}")
    now = time.time()
    removed = freed = kept = 0
    verb = "would remove" if dry_run else "removed"
    for index, info in enumerate(find_sessions(logs_dir)):
        age = now - (info.started_epoch() or info.path.stat().st_mtime)
        doomed = [
            keep is None or index >= keep,
            older_than_days is None or age > older_than_days * _DAY,
        ]
        if not all(doomed):
            kept += 1
            continue
        if info.status == "running":
            # read_session found its writer alive, or it runs on another host: leave it be.
            print(f"kept {info.id}: still running")
            kept += 1
            continue
        size = _size(info.path)
        bundle = logs_dir / f"{info.id}.zip"
        if bundle.is_file() and not bundle.is_symlink():
            size += bundle.stat().st_size
            if not dry_run:
                bundle.unlink()
        if not dry_run:
            shutil.rmtree(info.path)
        detail = f"{info.pipeline_name or '-'}, {status_text(info)}, {_age(age)} old"
        print(f"{verb} {info.id}  ({detail})")
        removed += 1
        freed += size
    if removed:
        noun = "session" if removed == 1 else "sessions"
        print(f"{verb} {removed} {noun} ({_size_text(freed)}); {kept} kept")
    else:
        print(f"nothing to remove; {kept} kept")
    return 0


def _size(path: Path) -> int:
    total = 0
    for folder, _dirs, files in os.walk(path):
        for name in files:
            item = Path(folder, name)
            if not item.is_symlink():
                total += item.stat().st_size
    return total


def _size_text(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB" if size >= 100_000 else f"{size / 1000:.1f} kB"


def _age(seconds: float) -> str:
    if seconds < 3600:
        return f"{max(seconds, 0) // 60:.0f} min"
    if seconds < _DAY:
        return f"{seconds / 3600:.1f} hours"
    return f"{seconds / _DAY:.1f} days"
