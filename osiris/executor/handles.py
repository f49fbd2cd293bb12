"""How one step's output reaches the steps that need it.

A step with exactly one consumer hands it a lazy stream: batches flow from producer to consumer
without being stored. A step with several consumers is written once to an Arrow IPC file in the
scratch area, and each consumer reads the file. Either way memory holds a few batches at most.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa


# a long step reports its row count this often, so people and idle timeouts see it is alive
PROGRESS_SECONDS = 1.0


class UpstreamFailedError(Exception):
    """Raised into a consumer when the stream it is reading fails in its producer."""

    def __init__(self, step_id: str) -> None:
        super().__init__(f"upstream step '{step_id}' failed")
        self.step_id = step_id


class CancelledError(Exception):
    """Raised into a consumer reading a stream the run has called off (another step failed)."""


class Tracker:
    """Counts what a producer yields and reports when it ends or fails; stops at the next
    batch once `cancelled` is set."""

    def __init__(
        self,
        step_id: str,
        reader: pa.RecordBatchReader,
        *,
        on_done: Callable[[str, int], None],
        on_error: Callable[[str, BaseException], None],
        on_progress: Callable[[str, int], None] | None = None,
        cancelled: threading.Event | None = None,
    ) -> None:
        self.step_id = step_id
        self._cancelled = cancelled
        self.reader = reader
        self.rows = 0
        self.finished = False
        self.started = time.monotonic()
        self._on_done = on_done
        self._on_error = on_error
        self._on_progress = on_progress

    def batches(self) -> Iterator[pa.RecordBatch]:
        next_report = time.monotonic() + PROGRESS_SECONDS
        try:
            for batch in self.reader:
                if self._cancelled is not None and self._cancelled.is_set():
                    raise CancelledError("stopped because another step failed")
                self.rows += batch.num_rows
                if self._on_progress is not None and time.monotonic() >= next_report:
                    next_report = time.monotonic() + PROGRESS_SECONDS
                    self._on_progress(self.step_id, self.rows)
                yield batch
        except (UpstreamFailedError, CancelledError):
            self.finished = True
            raise
        except Exception as exc:
            self.finished = True
            self._on_error(self.step_id, exc)
            raise UpstreamFailedError(self.step_id) from exc
        self.finished = True
        self._on_done(self.step_id, self.rows)

    def drain(self) -> None:
        for _ in self.batches():
            pass


class StreamHandle:
    """A single consumer's view of a lazily produced stream."""

    def __init__(self, tracker: Tracker) -> None:
        self.step_id = tracker.step_id
        self._tracker = tracker
        self._opened = False

    def open(self) -> pa.RecordBatchReader:
        import pyarrow as pa

        if self._opened:
            raise RuntimeError(f"the stream of step '{self.step_id}' can be read once")
        self._opened = True
        return pa.RecordBatchReader.from_batches(
            self._tracker.reader.schema, self._tracker.batches()
        )


class FileHandle:
    """A materialised output (Arrow IPC file) that any number of consumers can read."""

    def __init__(self, step_id: str, path: Path) -> None:
        self.step_id = step_id
        self.path = path

    @classmethod
    def write(cls, tracker: Tracker, path: Path) -> FileHandle:
        import pyarrow as pa

        path.parent.mkdir(parents=True, exist_ok=True)
        with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, tracker.reader.schema) as w:
            for batch in tracker.batches():
                w.write_batch(batch)
        return cls(tracker.step_id, path)

    def open(self) -> pa.RecordBatchReader:
        import pyarrow as pa

        source = pa.memory_map(str(self.path), "r")
        f = pa.ipc.open_file(source)
        batches = (f.get_batch(i) for i in range(f.num_record_batches))
        return pa.RecordBatchReader.from_batches(f.schema, batches)
