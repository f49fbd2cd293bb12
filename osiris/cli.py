"""Osiris Run — run declarative data pipelines reproducibly.

Usage:
  osiris run (<pipeline>... | --last-compile) [--parallel=<n>] [--executor=<name>] [--dry-run]
             [--timeout=<seconds>] [--image=<template>] [--param=<key=value>]...
             [--config=<file>] [--connections=<file>] [--logs-dir=<dir>] [--quiet | --json] [-v]
  osiris validate <pipeline>... [--param=<key=value>]... [--config=<file>]
                  [--connections=<file>] [--format=<fmt>]
  osiris oml validate <pipeline>... [--param=<key=value>]... [--config=<file>]
                      [--connections=<file>] [--format=<fmt>]
  osiris compile <pipeline> [--out=<file>] [--executor=<name>] [--param=<key=value>]...
                 [--config=<file>] [--connections=<file>] [--format=<fmt>]
  osiris components list [--json]
  osiris components show <name> [--json]
  osiris config show [--config=<file>] [--executor=<name>] [--logs-dir=<dir>] [--json]
  osiris connections list [--config=<file>] [--connections=<file>] [--json]
  osiris connections doctor [--family=<name>] [--alias=<name>] [--config=<file>]
                            [--connections=<file>] [--json]
  osiris logs list [--logs-dir=<dir>] [--json]
  osiris logs last [--logs-dir=<dir>] [--events] [--json]
  osiris logs show <session> [--logs-dir=<dir>] [--events] [--json]
  osiris logs bundle (--session=<id> | <session>) [--logs-dir=<dir>] [--out=<file>]
  osiris logs html [--session=<id> | <session>] [--logs-dir=<dir>] [--open]
  osiris logs gc (--keep=<n> | --older-than=<days>) [--logs-dir=<dir>] [--dry-run]
  osiris e2b template build [--name=<name>] [--wheel=<file>] [--config=<file>]
  osiris exec <manifest> --workdir=<dir> --input-root=<dir>
  osiris exec --stdin [--preload=<pipeline>]
  osiris (-h | --help)
  osiris --version

Commands:
  run          compile pipelines (or take compiled manifests) and run them through the runner,
               up to --parallel at a time, each in its own session
  validate     check pipelines and report every problem with file:line:col (also: oml validate)
  compile      print (or write) the deterministic manifest of a pipeline; keep it for
               `run --last-compile`
  connections  list the connections (never their secrets), or connect to each (doctor)
  components   list the available components, or show one's spec
  config       show the effective configuration and where each value comes from
  logs         list, show, bundle, report (html) and clean up session directories
  e2b          build the E2B template runs use (osiris preinstalled)
  exec         (internal) run a compiled manifest; what every runner starts

Options:
  --executor=<name>       local or e2b [env: OSIRIS_RUNNER__EXECUTOR]
  --last-compile          run the manifest the last `osiris compile` here kept
  --dry-run               compile, resolve connections and prepare the runner; run nothing
  --parallel=<n>          pipelines run at the same time [env: OSIRIS_RUNNER__MAX_PARALLEL_RUNS]
  --family=<name>         only the connections of this family (mysql, postgres, supabase, ...)
  --alias=<name>          only the connections with this alias
  --timeout=<seconds>     maximum run duration [env: OSIRIS_RUNNER__TIMEOUT_SECONDS]
  --image=<template>      E2B template [env: OSIRIS_RUNNER__E2B__IMAGE]
  --param=<key=value>     bind a pipeline parameter (beats OSIRIS_PARAM_<KEY> and defaults)
  --config=<file>         osiris.yaml to use (env: OSIRIS_CONFIG; default: ./osiris.yaml)
  --connections=<file>    connections file (default: next to the pipeline, then ./)
  --logs-dir=<dir>        where session directories go [env: OSIRIS_LOGGING__LOGS_DIR]
  --format=<fmt>          text or json [default: text]
  --out=<file>            output file
  --name=<name>           template name [default: runner.e2b.image]
  --wheel=<file>          an osiris wheel to install (default: built from this checkout)
  --open                  open the report in the default browser
  --quiet                 print only the final summary line
  --json                  machine-readable output
  -v                      verbose: debug log on the console
  -h --help               show this help
  --version               show the version
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn

from osiris import __version__
from osiris.errors import EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_USAGE, OsirisError, UsageError

if TYPE_CHECKING:
    from osiris.config import LoadedConfig
    from osiris.runners.local import WarmExecutor

log = logging.getLogger("osiris")


def _usage_for(command: str) -> str:
    """The usage lines (with continuations) of one command, from the docstring above."""
    usage = __doc__.split("Usage:")[1].split("\n\n")[0].splitlines()
    picked: list[str] = []
    inside = False
    for line in usage:
        if line.lstrip().startswith("osiris"):
            inside = line.split()[1:2] == [command]
        if inside:
            picked.append(line)
    return "\n".join(picked)


def _parse(argv: Sequence[str]) -> dict[str, Any]:
    from docopt import DocoptExit, docopt

    try:
        return docopt(__doc__, argv=list(argv), version=f"osiris {__version__}")
    except DocoptExit as exc:
        text = str(exc)
        unknown = re.findall(r"Option\([^,]*, '([^']+)'", text)
        command = argv[0] if argv and not argv[0].startswith("-") else ""
        usage = _usage_for(command) if command else ""
        if not argv:
            message = "no command given"
        elif unknown:
            message = f"unknown option {', '.join(unknown)}"
        elif text.startswith(("--", "-")) and "requires argument" in text.splitlines()[0]:
            message = text.splitlines()[0]
        elif usage:
            message = f"invalid arguments for `osiris {command}`"
        else:
            message = f"unknown command '{argv[0]}'"
        hint = f"usage:\n{usage}" if usage else "run `osiris --help` to see the commands"
        raise UsageError(message, hint=hint) from exc


def _cli_overrides(args: dict[str, Any]) -> dict[str, Any]:
    cli: dict[str, Any] = {}
    if args.get("--executor"):
        cli["runner.executor"] = args["--executor"]
    if args.get("--timeout"):
        try:
            cli["runner.timeout_seconds"] = int(args["--timeout"])
        except ValueError as exc:
            raise UsageError(f"--timeout expects whole seconds, got '{args['--timeout']}'") from exc
    if args.get("--parallel"):
        try:
            cli["runner.max_parallel_runs"] = int(args["--parallel"])
        except ValueError as exc:
            raise UsageError(
                f"--parallel expects a whole number, got '{args['--parallel']}'"
            ) from exc
    if args.get("--image"):
        cli["runner.e2b.image"] = args["--image"]
    if args.get("--logs-dir"):
        cli["logging.logs_dir"] = args["--logs-dir"]
    if args.get("--connections"):
        cli["connections_file"] = args["--connections"]
    return cli


def _params(args: dict[str, Any]) -> dict[str, str]:
    params = {}
    for item in args.get("--param") or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--param expects key=value, got '{item}'")
        params[key] = value
    return params


def _dispatch(args: dict[str, Any]) -> int:
    if args["exec"]:
        from osiris.executor import exec_manifest, serve_stdin

        if args["--stdin"]:
            return serve_stdin(Path(args["--preload"]) if args["--preload"] else None)
        return exec_manifest(
            Path(args["<manifest>"]),
            workdir=Path(args["--workdir"]),
            input_root=Path(args["--input-root"]),
        )
    from osiris import commands

    if args["components"]:
        if args["list"]:
            return commands.components_list(as_json=args["--json"])
        return commands.components_show(args["<name>"], as_json=args["--json"])
    if args["logs"]:
        return commands.logs(args)

    if args["run"]:
        if args["--last-compile"]:
            from osiris.pipeline.compiled import last

            args["<pipeline>"] = [str(last())]
        # started before the (slow) config and compile, so its imports run alongside them
        warm = _warm_executor(args)
        try:
            return commands.run(
                [Path(p) for p in args["<pipeline>"]],
                loaded=_load_config(args),
                params=_params(args),
                dry_run=args["--dry-run"],
                quiet=args["--quiet"],
                as_json=args["--json"],
                verbose=bool(args["-v"]),
                warm=warm,
            )
        finally:
            if warm is not None:
                warm.discard()
    loaded = _load_config(args)
    if args["config"]:
        return commands.config_show(loaded, as_json=args["--json"])
    if args["connections"]:
        if args["list"]:
            return commands.connections_list(loaded, as_json=args["--json"])
        return commands.connections_doctor(
            loaded, family=args["--family"], alias=args["--alias"], as_json=args["--json"]
        )
    fmt = args.get("--format") or "text"
    if fmt not in ("text", "json"):
        raise UsageError(f"--format must be text or json, got '{fmt}'")
    if args["e2b"]:
        return commands.e2b_template_build(
            loaded, name=args["--name"], wheel=Path(args["--wheel"]) if args["--wheel"] else None
        )
    if args["validate"]:
        return commands.validate(
            [Path(p) for p in args["<pipeline>"]], loaded=loaded, params=_params(args), fmt=fmt
        )
    if args["compile"]:
        out = Path(args["--out"]) if args["--out"] else None
        return commands.compile_one(
            Path(args["<pipeline>"][0]), loaded=loaded, params=_params(args), out=out, fmt=fmt
        )
    raise AssertionError(f"unhandled command: {args}")


def _warm_executor(args: dict[str, Any]) -> WarmExecutor | None:
    """An executor process started now for a single local run (not for a dry run, which
    starts none, nor when OSIRIS_WARM_START=0)."""
    chosen = args["--executor"] or os.environ.get("OSIRIS_RUNNER__EXECUTOR") or "local"
    if len(args["<pipeline>"]) != 1 or args["--dry-run"] or chosen != "local":
        return None
    if os.environ.get("OSIRIS_WARM_START", "1") == "0":
        return None
    from osiris.runners.local import WarmExecutor

    return WarmExecutor.start(Path(args["<pipeline>"][0]))


def _load_config(args: dict[str, Any]) -> LoadedConfig:
    from osiris.config import load_config

    config_file = Path(args["--config"]) if args.get("--config") else None
    return load_config(config_file=config_file, cli=_cli_overrides(args))


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def entry() -> NoReturn:
    """The `osiris` command (and `python -m osiris`): `main`, then exit.

    After `run` and `exec` everything the command wrote is closed and flushed, so the process
    ends at once: tearing down the interpreter (pydantic, pyarrow, numpy, the drivers) adds
    tens of milliseconds to every pipeline run and does nothing useful.
    """
    code = main()
    if sys.argv[1:2] in (["run"], ["exec"]):
        logging.shutdown()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError):  # a reader that went away
                stream.flush()
        os._exit(code)
    raise SystemExit(code)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `osiris` command; returns the exit code (see errors.py)."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = _parse(argv)
        # GitHub sends SIGTERM on cancel; treat it like Ctrl-C so cleanup runs
        if not args["exec"]:
            signal.signal(signal.SIGTERM, _raise_interrupt)
        return _dispatch(args)
    except OsirisError as exc:
        print(f"error: {exc.format()}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except SystemExit as exc:  # docopt's --help / --version
        if exc.code not in (None, 0):
            print(exc.code, file=sys.stderr)
            return EXIT_USAGE
        return 0
    except Exception:
        log.debug("unexpected error", exc_info=True)
        from osiris.crash import report_crash

        print(
            f"error: unexpected error, please report it; details in {report_crash()}",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
