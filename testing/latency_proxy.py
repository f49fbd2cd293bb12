"""A TCP proxy on loopback that delays every byte by a fixed one-way latency, both ways: a
database over a 20 ms round trip (a GitHub runner or an E2B sandbox talking to a cloud MySQL
or Supabase), on one machine.

Bytes keep their order and arrive `delay` seconds after they were read; bandwidth is not
limited, so a bulk transfer pays the latency once per round trip of the protocol, as over a
real link. Runs in a thread (`LatencyProxy`, a context manager) or as a script:

    python -m testing.latency_proxy --listen 13306 --to 127.0.0.1:3306 --rtt-ms 20
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Iterator


class LatencyProxy:
    """Listens on 127.0.0.1 (port `listen`, 0 for any free port: see `.port`) and forwards to
    `host:port`, each direction delayed by `rtt / 2`."""

    def __init__(self, host: str, port: int, *, rtt: float, listen: int = 0) -> None:
        self.target = (host, port)
        self.delay = rtt / 2
        self.port = listen
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="latency-proxy", daemon=True)
        self._server: asyncio.base_events.Server | None = None

    def __enter__(self) -> LatencyProxy:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_server(self._client, "127.0.0.1", self.port)
        )
        self._server = server
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()
            tasks = asyncio.all_tasks(self._loop)
            for task in tasks:
                task.cancel()
            self._loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            self._loop.close()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return

        def reset() -> None:
            # one side reset the connection: so does the proxy, to the other side
            for w in (writer, up_writer):
                w.transport.abort()

        try:
            await asyncio.gather(
                self._pipe(reader, up_writer, reset),
                self._pipe(up_reader, writer, reset),
                return_exceptions=True,
            )
        except asyncio.CancelledError:
            pass  # the proxy is stopping; ending quietly keeps asyncio from reporting it
        finally:
            for w in (writer, up_writer):
                with contextlib.suppress(OSError, RuntimeError):
                    w.close()

    async def _pipe(
        self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, reset: Callable[[], None]
    ) -> None:
        """Copy src to dst, each chunk delivered `delay` after it was read, in order."""
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, chunk = await queue.get()
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not chunk:
                    with contextlib.suppress(OSError):
                        if dst.can_write_eof():
                            dst.write_eof()
                    return
                dst.write(chunk)
                await dst.drain()

        sender = asyncio.ensure_future(deliver())
        try:
            while True:
                chunk = await src.read(1 << 16)
                queue.put_nowait((time.monotonic() + self.delay, chunk))
                if not chunk:
                    break
            await sender
        except OSError:
            sender.cancel()
            reset()
        except asyncio.CancelledError:
            sender.cancel()


@contextlib.contextmanager
def delayed(host: str, port: int, *, rtt: float) -> Iterator[int]:
    """A proxy to host:port with round-trip time `rtt` seconds; yields its port."""
    with LatencyProxy(host, port, rtt=rtt) as proxy:
        yield proxy.port


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--listen", type=int, required=True, help="port on 127.0.0.1")
    ap.add_argument("--to", required=True, help="host:port to forward to")
    ap.add_argument("--rtt-ms", type=float, default=20.0, help="round-trip time added")
    args = ap.parse_args()
    host, _, port = args.to.rpartition(":")
    with LatencyProxy(host, int(port), rtt=args.rtt_ms / 1000, listen=args.listen):
        threading.Event().wait()


if __name__ == "__main__":
    main()
