"""The envd `process.Process` service: real subprocesses whose output streams back live.

Each command runs in its own session (so its own process group); killing a command or its
sandbox kills the whole group. Output is fanned out to every subscribed stream (`Start` and any
`Connect`), and a command keeps running when its stream's client goes away, as with envd.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, cast

from connectrpc.code import Code
from connectrpc.errors import ConnectError
from connectrpc.request import RequestContext
from e2b.envd.process import process_connect
from e2b.envd.process import process_pb as P
from protobuf import Oneof

from testing.e2b_standin.records import CommandRecord
from testing.e2b_standin.sandbox import Sandbox
from testing.wsgi_server import DropConnection

Item = tuple[str, Any]  # ("stdout"|"stderr", bytes) | ("end", returncode) | ("gone"|"drop", None)


def _event(field: str, value: Any) -> P.ProcessEvent:
    # protobuf-py types each oneof case by its literal name; here the name is data.
    return P.ProcessEvent(event=cast(Any, Oneof(field, value)))


def _end_event(returncode: int) -> P.ProcessEvent.EndEvent:
    # Go's os.ProcessState wording, which envd forwards.
    if returncode >= 0:
        status = f"exit status {returncode}"
        error = status if returncode else None
        return P.ProcessEvent.EndEvent(
            exit_code=returncode, exited=True, status=status, error=error
        )
    status = "signal: " + (signal.strsignal(-returncode) or f"signal {-returncode}").lower()
    return P.ProcessEvent.EndEvent(exit_code=-1, exited=False, status=status, error=status)


class RunningProcess:
    """A command started by `Process/Start`, with its readers and output subscribers."""

    def __init__(self, sandbox: Sandbox, request: P.StartRequest) -> None:
        config = request.process or P.ProcessConfig()
        self.sandbox = sandbox
        self.config = config
        self.tag = request.tag if request.has_field("tag") else None
        cwd = sandbox.host_path(config.cwd if config.has_field("cwd") else "")
        if not cwd.is_dir():
            raise ConnectError(
                Code.INVALID_ARGUMENT, f"cwd '{sandbox.sandbox_path(config.cwd)}' does not exist"
            )
        self.popen = subprocess.Popen(
            [config.cmd, *config.args],
            cwd=cwd,
            env=sandbox.command_env(dict(config.envs)),
            stdin=subprocess.PIPE if request.stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        self.pid = self.popen.pid
        self.record = CommandRecord(
            cmd=config.args[-1] if config.args else config.cmd,
            argv=[config.cmd, *config.args],
            envs=dict(config.envs),
            cwd=config.cwd if config.has_field("cwd") else None,
            pid=self.pid,
        )
        self._lock = threading.Lock()
        self._subscribers: list[queue.SimpleQueue[Item]] = []
        self._open_pipes = 2
        self._done = threading.Event()
        self.returncode: int | None = None

    def start(self) -> None:
        self.sandbox.record.commands.append(self.record)
        self.sandbox.add_process(self)
        for name, pipe in (("stdout", self.popen.stdout), ("stderr", self.popen.stderr)):
            threading.Thread(target=self._read, args=(name, pipe), daemon=True).start()

    def subscribe(self) -> queue.SimpleQueue[Item]:
        q: queue.SimpleQueue[Item] = queue.SimpleQueue()
        with self._lock:
            if self.returncode is not None:
                q.put(("end", self.returncode))
            else:
                self._subscribers.append(q)
        return q

    def unsubscribe(self, q: queue.SimpleQueue[Item]) -> None:
        with self._lock:
            if q in self._subscribers:
                self._subscribers.remove(q)

    def _broadcast(self, item: Item) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for q in subscribers:
            q.put(item)

    def _read(self, name: str, pipe: Any) -> None:
        faults = self.sandbox.faults
        tail = ""  # the end of the previous chunk, so a marker split across reads still matches
        try:
            while chunk := os.read(pipe.fileno(), 65536):
                self._broadcast((name, chunk))
                window = tail + chunk.decode("utf-8", "replace")
                tail = window[-200:]
                if faults.drop_stream_on_output and faults.drop_stream_on_output in window:
                    tail = ""
                    self._broadcast(("drop", None))
                if faults.die_on_output and faults.die_on_output in window:
                    tail = ""
                    # Not on this thread: terminate() waits for this reader to finish.
                    threading.Thread(
                        target=self.sandbox.terminate, args=("died",), daemon=True
                    ).start()
        finally:
            pipe.close()
            with self._lock:
                self._open_pipes -= 1
                last = self._open_pipes == 0
            if last:
                self._finish()

    def _finish(self) -> None:
        returncode = self.popen.wait()
        if self.popen.stdin is not None:
            with contextlib.suppress(OSError):
                self.popen.stdin.close()
        self.record.exit_code = returncode if self.sandbox.alive else None
        with self._lock:
            self.returncode = returncode
            subscribers, self._subscribers = self._subscribers, []
        for q in subscribers:
            q.put(("end", returncode))
        self.sandbox.forget_process(self.pid)
        self._done.set()

    def sandbox_gone(self) -> None:
        self._broadcast(("gone", None))

    def signal(self, sig: int) -> None:
        # The group may be gone already: killing races with a normal exit.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)

    def kill(self) -> None:
        self.signal(signal.SIGKILL)

    def wait_done(self, timeout: float) -> bool:
        return self._done.wait(timeout)

    def info(self) -> P.ProcessInfo:
        return P.ProcessInfo(pid=self.pid, config=self.config, tag=self.tag)


class ProcessService(process_connect.ProcessSync):
    """Inherits UNIMPLEMENTED stubs for what the SDK's `commands` API does not need."""

    def __init__(self, lookup: Callable[[RequestContext[Any, Any]], Sandbox]) -> None:
        self._lookup = lookup

    def start(
        self, request: P.StartRequest, ctx: RequestContext[Any, Any]
    ) -> Iterator[P.StartResponse]:
        sandbox = self._lookup(ctx)
        proc = RunningProcess(sandbox, request)
        q = proc.subscribe()
        proc.start()
        yield P.StartResponse(event=_event("start", P.ProcessEvent.StartEvent(pid=proc.pid)))
        for event in _follow(proc, q, ctx):
            yield P.StartResponse(event=event)

    def connect(
        self, request: P.ConnectRequest, ctx: RequestContext[Any, Any]
    ) -> Iterator[P.ConnectResponse]:
        proc = self._find(request.process, ctx)
        q = proc.subscribe()
        yield P.ConnectResponse(event=_event("start", P.ProcessEvent.StartEvent(pid=proc.pid)))
        for event in _follow(proc, q, ctx):
            yield P.ConnectResponse(event=event)

    def list(self, request: P.ListRequest, ctx: RequestContext[Any, Any]) -> P.ListResponse:
        return P.ListResponse(processes=[p.info() for p in self._lookup(ctx).processes()])

    def send_signal(
        self, request: P.SendSignalRequest, ctx: RequestContext[Any, Any]
    ) -> P.SendSignalResponse:
        proc = self._find(request.process, ctx)
        proc.signal(signal.SIGTERM if request.signal == P.Signal.SIGTERM else signal.SIGKILL)
        return P.SendSignalResponse()

    def send_input(
        self, request: P.SendInputRequest, ctx: RequestContext[Any, Any]
    ) -> P.SendInputResponse:
        proc = self._find(request.process, ctx)
        stdin = proc.popen.stdin
        if stdin is None or stdin.closed:
            raise ConnectError(Code.FAILED_PRECONDITION, "stdin is not enabled or already closed")
        payload = request.input.input if request.input is not None else None
        if payload is not None:
            stdin.write(payload.value)
            stdin.flush()
        return P.SendInputResponse()

    def close_stdin(
        self, request: P.CloseStdinRequest, ctx: RequestContext[Any, Any]
    ) -> P.CloseStdinResponse:
        proc = self._find(request.process, ctx)
        if proc.popen.stdin is not None:
            proc.popen.stdin.close()
        return P.CloseStdinResponse()

    def _find(
        self, selector: P.ProcessSelector | None, ctx: RequestContext[Any, Any]
    ) -> RunningProcess:
        sandbox = self._lookup(ctx)
        chosen = selector.selector if selector is not None else None
        for proc in sandbox.processes():
            if chosen is not None and (
                (chosen.field == "pid" and proc.pid == chosen.value)
                or (chosen.field == "tag" and proc.tag == chosen.value)
            ):
                return proc
        what = f"{chosen.field} {chosen.value}" if chosen is not None else "no selector"
        raise ConnectError(Code.NOT_FOUND, f"process with {what} not found")


def _follow(
    proc: RunningProcess, q: queue.SimpleQueue[Item], ctx: RequestContext[Any, Any]
) -> Iterator[P.ProcessEvent]:
    remaining_ms = ctx.timeout_ms
    deadline = None if remaining_ms is None else time.monotonic() + remaining_ms / 1000
    keepalive = float(ctx.request_headers.get("keepalive-ping-interval") or 50)
    try:
        while True:
            wait = (
                keepalive
                if deadline is None
                else max(0.0, min(keepalive, deadline - time.monotonic()))
            )
            try:
                kind, value = q.get(timeout=wait)
            except queue.Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    # envd kills a command whose stream deadline (the SDK's `timeout`) passed.
                    proc.kill()
                    raise ConnectError(
                        Code.DEADLINE_EXCEEDED, "the command's timeout passed"
                    ) from None
                yield _event("keepalive", P.ProcessEvent.KeepAlive())
                continue
            if kind in ("stdout", "stderr"):
                yield _event("data", P.ProcessEvent.DataEvent(output=cast(Any, Oneof(kind, value))))
            elif kind == "end":
                yield _event("end", _end_event(value))
                return
            elif kind == "gone":
                raise ConnectError(
                    Code.UNAVAILABLE,
                    f"the connection to sandbox {proc.sandbox.id} ended before the stream "
                    "completed",
                )
            elif kind == "drop":
                raise DropConnection()
    finally:
        proc.unsubscribe(q)
