from __future__ import annotations

from pathlib import Path
from typing import Any

from osiris.errors import UsageError


def _logs_dir(args: dict[str, Any]) -> Path:
    if args.get("--logs-dir"):
        return Path(args["--logs-dir"])
    from osiris.config import load_config

    return Path(load_config().config.logging.logs_dir)


def logs(args: dict[str, Any]) -> int:
    from osiris.session import commands

    logs_dir = _logs_dir(args)
    if args["list"]:
        return commands.logs_list(logs_dir, as_json=args["--json"])
    if args["show"] or args["last"]:
        session = args["<session>"] if args["show"] else "last"
        return commands.logs_show(
            logs_dir, session, events=args["--events"], as_json=args["--json"]
        )
    if args["html"]:
        session = args["--session"] or args["<session>"] or "last"
        return commands.logs_html(logs_dir, session, open_it=args["--open"])
    if args["bundle"]:
        out = Path(args["--out"]) if args["--out"] else None
        return commands.logs_bundle(logs_dir, args["--session"] or args["<session>"], out=out)
    keep = older = None
    try:
        if args["--keep"] is not None:
            keep = int(args["--keep"])
        if args["--older-than"] is not None:
            older = float(args["--older-than"])
    except ValueError as exc:
        raise UsageError("--keep expects a whole number and --older-than a number of days") from exc
    return commands.logs_gc(logs_dir, keep=keep, older_than_days=older, dry_run=args["--dry-run"])
