"""E2BRunner: one fresh E2B sandbox per run, through the `e2b` SDK.

The sandbox gets the manifest and the pipeline's input files (uploaded), and the run's secrets
only as sandbox environment variables, never in a file or on a command line. The executor runs
as `python3 -m osiris exec` with paths relative to the sandbox user's home, its output streams
back live, outputs are downloaded into the session, and the sandbox is killed in every case.
SDK exceptions are translated here and nowhere else.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from osiris import __version__
from osiris.errors import RunnerError, UsageError
from osiris.network import parse_entry
from osiris.runners.base import PreparedRun, Runner
from osiris.runners.streaming import Item, LineSplitter, follow

if TYPE_CHECKING:
    from osiris.config import OsirisConfig
    from osiris.runners.relay import ProgressRelay
    from osiris.session import Session

log = logging.getLogger(__name__)

RUN_DIR = "osiris-run"  # relative to the sandbox user's home
# the sandbox outlives our own wall-clock limit by this much, as a backstop if we vanish
SANDBOX_GRACE_SECONDS = 120


def _sdk() -> Any:
    try:
        import e2b
    except ImportError as exc:
        raise UsageError(
            "the e2b executor needs the e2b SDK", hint="pip install 'osiris-run[e2b]'"
        ) from exc
    return e2b


@contextlib.contextmanager
def sdk_errors(doing: str, *, template: str = "") -> Iterator[None]:
    """Translate e2b SDK exceptions raised while `doing` into RunnerError (exit 4)."""
    e2b = _sdk()
    try:
        yield
    except e2b.AuthenticationException as exc:
        raise RunnerError(
            f"E2B rejected the API key while {doing}",
            hint="check E2B_API_KEY (https://e2b.dev/dashboard) or pass --executor local",
        ) from exc
    except e2b.RateLimitException as exc:
        said = str(exc).splitlines()[0] if str(exc) else "429"
        raise RunnerError(
            f"E2B rate limit or sandbox quota reached while {doing}: {said}",
            hint="run fewer pipelines at once (--parallel, runner.max_parallel_runs), wait "
            "longer (runner.e2b.wait_for_sandbox_seconds) or raise your E2B plan's concurrency",
        ) from exc
    except e2b.SandboxNotFoundException as exc:
        raise RunnerError(f"the sandbox is gone while {doing} (it died or timed out)") from exc
    except e2b.SandboxUnreachableException as exc:
        raise RunnerError(f"the executor's output stream dropped while {doing}") from exc
    except e2b.SandboxNotRunningException as exc:
        raise RunnerError(f"the sandbox stopped running while {doing}") from exc
    except e2b.ServiceBusyException as exc:
        raise RunnerError(
            f"E2B is busy (503) while {doing}", hint="retry in a few minutes"
        ) from exc
    except e2b.TimeoutException as exc:
        raise RunnerError(f"E2B timed out while {doing}") from exc
    except e2b.SandboxException as exc:
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "404" in text and template:
            raise RunnerError(
                f"E2B template '{template}' not found",
                hint="build it with `osiris e2b template build` or set runner.e2b.image",
            ) from exc
        raise RunnerError(f"E2B error while {doing}: {text}") from exc
    except Exception as exc:
        if type(exc).__name__ in ("ReadTimeout", "WriteTimeout", "ConnectTimeout", "PoolTimeout"):
            raise RunnerError(f"E2B timed out while {doing}") from exc
        if type(exc).__module__.split(".")[0] in ("e2b", "httpx", "pyqwest", "connectrpc"):
            raise RunnerError(f"lost the connection to E2B while {doing}: {exc}") from exc
        if str(exc) == "Command ended without an end event":
            raise RunnerError(f"the executor's output stream dropped while {doing}") from exc
        raise


def network_options(allow: Sequence[str]) -> tuple[dict[str, Any] | None, list[str]]:
    """Map the allow-list to the SDK's outbound rules; return them and notes on what was lost.

    E2B rules name hosts, CIDRs or IPs, not ports or URLs: `db:5432` and `https://db/x` become
    `db`, which allows every port on that host, and a note says so.
    """
    if any(e.strip() == "*" for e in allow):
        return None, []
    hosts: list[str] = []
    notes: list[str] = []
    for raw in allow:
        entry = parse_entry(raw)
        if entry.port is not None or "://" in raw:
            notes.append(
                f"network allow entry '{raw}' is applied as host '{entry.host}' "
                "(E2B outbound rules cannot restrict ports or paths)"
            )
        if entry.host and entry.host not in hosts:
            hosts.append(entry.host)
    return {"allow_out": hosts, "deny_out": ["0.0.0.0/0"]}, notes


def cached_wheel() -> Path:
    """This osiris as a wheel, built once per version into the user's cache."""
    from osiris.runners.e2b_template import build_wheel

    cache = Path(os.environ.get("OSIRIS_CACHE_DIR") or Path.home() / ".cache" / "osiris")
    wheel_dir = cache / "wheels" / __version__
    found = sorted(wheel_dir.glob(f"osiris_run-{__version__}-*.whl"))
    if found:
        return found[-1]
    wheel_dir.mkdir(parents=True, exist_ok=True)
    return build_wheel(wheel_dir)


class E2BRunner(Runner):
    name = "e2b"

    def __init__(
        self,
        *,
        image: str = "osiris",
        sandbox_timeout: int = 3600,
        env_from_secrets: Sequence[str] = (),
        environ: Mapping[str, str] | None = None,
        wait_for_sandbox: float = 600,
    ) -> None:
        """`wait_for_sandbox`: how long to keep asking when E2B answers a create with 429
        (the team's concurrent sandboxes are all in use, or its create rate is reached)."""
        self.image = image
        self.sandbox_timeout = sandbox_timeout
        self.wait_for_sandbox = wait_for_sandbox
        self.env_from_secrets = list(env_from_secrets)
        self._environ = environ
        self._sandbox: Any = None
        self._handle: Any = None
        self._session: Session | None = None

    @classmethod
    def from_config(cls, config: OsirisConfig) -> E2BRunner:
        e2b = config.runner.e2b
        return cls(
            image=e2b.image,
            sandbox_timeout=e2b.timeout_seconds,
            env_from_secrets=e2b.env_from_secrets,
            wait_for_sandbox=e2b.wait_for_sandbox_seconds,
        )

    def _prepare(self, prepared: PreparedRun, session: Session) -> None:
        self._session = session
        environ = os.environ if self._environ is None else self._environ
        if not environ.get("E2B_API_KEY"):
            raise UsageError("E2B_API_KEY is not set", hint="export it, or pass --executor local")
        sdk = _sdk()
        env = dict(prepared.env)
        env.update({n: environ[n] for n in self.env_from_secrets if n in environ})
        network, notes = network_options(prepared.manifest.data["run"]["network"]["allow"])
        for note in notes:
            log.warning(note)
            session.emit("run_notice", message=note)
        if prepared.dry_run:
            return
        data = prepared.manifest.data
        limit = int(prepared.limits.get("timeout_seconds") or self.sandbox_timeout)
        t0 = time.monotonic()
        with sdk_errors("creating the sandbox", template=self.image):
            self._sandbox = self._create(
                sdk,
                session,
                template=self.image,
                timeout=min(self.sandbox_timeout, limit + SANDBOX_GRACE_SECONDS),
                metadata={
                    "osiris_session": session.id,
                    "pipeline": data["pipeline"]["name"],
                    "fingerprint": prepared.manifest.fingerprint,
                },
                envs=env,
                network=network,
            )
        session.metric(
            "sandbox_create_ms", round((time.monotonic() - t0) * 1000), "ms", template=self.image
        )
        session.update(sandbox_id=self._sandbox.sandbox_id)
        self._upload(prepared, session)
        self._ensure_osiris(session)

    def _create(self, sdk: Any, session: Session, **options: Any) -> Any:
        """`Sandbox.create`, waiting while E2B says the limit is reached (429): the SDK retries
        a few times within seconds; with many runs at once a slot frees only when another run
        ends, so this keeps asking with a growing pause, up to `wait_for_sandbox` seconds."""
        waited, pause = 0.0, 2.0
        while True:
            try:
                return sdk.Sandbox.create(**options)
            except sdk.RateLimitException as exc:
                left = self.wait_for_sandbox - waited
                if left <= 0 or self._interrupted:
                    raise
                pause = min(pause, left)
                said = str(exc).splitlines()[0] if str(exc) else "429"
                note = f"E2B refused a new sandbox ({said}); asking again in {pause:.0f} s"
                log.warning(note)
                session.emit("run_notice", message=note)
                deadline = time.monotonic() + pause
                while time.monotonic() < deadline and not self._interrupted:
                    time.sleep(0.1)
                if self._interrupted:
                    raise KeyboardInterrupt from None
                waited += pause
                pause = min(pause * 2, 30.0)

    def _upload(self, prepared: PreparedRun, session: Session) -> None:
        files = [(f"{RUN_DIR}/manifest.json", prepared.manifest.to_json().encode())]
        for rel in prepared.input_files():
            path = prepared.input_root / rel
            if path.is_file():
                files.append((f"{RUN_DIR}/inputs/{rel}", path.read_bytes()))
        for rel in prepared.seed_files():
            assert prepared.output_dir is not None
            seed = (prepared.output_dir / rel).read_bytes()
            files.append((f"{RUN_DIR}/work/outputs/{rel}", seed))
        with sdk_errors("uploading the manifest and inputs"):
            self._sandbox.files.write_files([{"path": p, "data": d} for p, d in files])
        session.metric("bytes_uploaded", sum(len(d) for _, d in files), "bytes", files=len(files))

    def _osiris_version(self) -> str:
        probe = "python3 -c 'import osiris, sys; sys.stdout.write(osiris.__version__)'"
        e2b = _sdk()
        with sdk_errors("checking osiris in the sandbox"):
            try:
                return str(self._sandbox.commands.run(probe, timeout=60).stdout.strip())
            except e2b.CommandExitException:
                return ""

    def _ensure_osiris(self, session: Session) -> None:
        """Fast path: the template ships this osiris. Else install the local wheel into it."""
        found = self._osiris_version()
        if found == __version__:
            return
        wheel = cached_wheel()
        target = f"{RUN_DIR}/wheel/{wheel.name}"
        log.info("template %s has osiris %s; installing %s", self.image, found or "-", wheel.name)
        session.emit(
            "run_notice",
            message=f"installing osiris {__version__} into the sandbox "
            f"(template '{self.image}' has {found or 'none'}); build a template with "
            "`osiris e2b template build` to skip this",
        )
        with sdk_errors("installing osiris into the sandbox"):
            self._sandbox.files.write(target, wheel.read_bytes())
            # Debian-based templates mark the system Python as externally managed (PEP 668)
            pip = f"python3 -m pip install --quiet --user '{target}[db]'"
            self._sandbox.commands.run(f"{pip} || {pip} --break-system-packages", timeout=600)
        session.metric("bytes_uploaded", wheel.stat().st_size, "bytes", files=1)
        if self._osiris_version() != __version__:
            raise RunnerError(
                f"could not install osiris {__version__} into template '{self.image}'",
                hint="build a template with `osiris e2b template build`",
            )

    def _execute(self, prepared: PreparedRun, session: Session, relay: ProgressRelay) -> int:
        cmd = (
            f"python3 -m osiris exec {RUN_DIR}/manifest.json --workdir {RUN_DIR}/work "
            f"--input-root {RUN_DIR}/inputs"
        )
        with sdk_errors("starting the executor"):
            self._handle = self._sandbox.commands.run(cmd, background=True, timeout=0)
        lines: queue.Queue[Item] = queue.Queue()
        result: dict[str, int] = {}
        waiter = threading.Thread(target=self._wait, args=(lines, result), daemon=True)
        t0 = time.monotonic()
        waiter.start()
        follow(lines, relay, prepared.limits)
        waiter.join(timeout=10)
        session.metric("remote_execution_ms", round((time.monotonic() - t0) * 1000), "ms")
        return result.get("exit_code", 1)

    def _wait(self, lines: queue.Queue[Item], result: dict[str, int]) -> None:
        out, err = LineSplitter("stdout", lines), LineSplitter("stderr", lines)
        e2b = _sdk()
        try:
            with sdk_errors("running the executor"):
                try:
                    result["exit_code"] = self._handle.wait(on_stdout=out, on_stderr=err).exit_code
                except e2b.CommandExitException as exc:
                    result["exit_code"] = exc.exit_code
        except RunnerError as exc:
            lines.put(("error", exc))
        finally:
            out.close()
            err.close()

    def _stop(self) -> None:
        if self._handle is not None:
            with contextlib.suppress(Exception):
                self._handle.kill()
            self._handle = None

    def _collect(self, session: Session) -> list[str]:
        if self._sandbox is None:
            return []
        root = f"{RUN_DIR}/work/outputs"
        e2b = _sdk()
        collected: list[str] = []
        size = 0
        with sdk_errors("downloading outputs"):
            try:
                entries = self._sandbox.files.list(root, depth=32)
            except e2b.FileNotFoundException:
                entries = []
            for entry in sorted(entries, key=lambda e: e.path):
                if str(getattr(entry.type, "value", entry.type)) != "file":
                    continue
                rel = entry.path.split(f"/{root}/", 1)[-1]
                if Path(rel).name.startswith(".") and rel.endswith(".tmp"):
                    continue  # an atomic write the run did not finish
                data = self._sandbox.files.read(entry.path, format="bytes")
                target = session.outputs / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(bytes(data))
                size += len(data)
                collected.append(rel)
        session.metric("bytes_downloaded", size, "bytes", files=len(collected))
        return collected

    def _cleanup(self) -> dict[str, Any]:
        self._stop()
        sandbox, self._sandbox = self._sandbox, None
        if sandbox is None:
            return {"sandbox_id": None}
        killed = False
        with contextlib.suppress(Exception):
            killed = bool(sandbox.kill())
        return {"sandbox_id": sandbox.sandbox_id, "removed": killed}
