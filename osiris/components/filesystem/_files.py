"""Helpers shared by the file components: type parsing, atomic writes, error translation."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from osiris.components.api import StepError

if TYPE_CHECKING:
    import pyarrow as pa

_DECIMAL = re.compile(r"^decimal(?:128)?\((\d+),\s*(\d+)\)$")


def arrow_type(name: str) -> pa.DataType:
    import pyarrow as pa

    text = name.strip().lower()
    if m := _DECIMAL.match(text):
        return pa.decimal128(int(m.group(1)), int(m.group(2)))
    aliases = {
        "int": "int64",
        "integer": "int64",
        "float": "float64",
        "double": "float64",
        "str": "string",
        "text": "string",
        "boolean": "bool",
        "date": "date32",
        "timestamp": "timestamp[us]",
        "datetime": "timestamp[us]",
    }
    text = aliases.get(text, text)
    try:
        return pa.type_for_alias(text)
    except (ValueError, KeyError) as exc:
        raise StepError(
            "config.invalid",
            f"unknown column type '{name}'; use int64, float64, string, bool, date32, "
            "timestamp[us] or decimal128(p,s)",
        ) from exc


def require_file(path: Path, rel: str) -> None:
    if not path.is_file():
        raise StepError(
            "file.not_found",
            f"input file '{rel}' not found (looked at {path.name} relative to the pipeline's "
            "directory); check the path in the step config",
        )


@contextlib.contextmanager
def atomic_target(path: Path) -> Iterator[Path]:
    """Yield a temporary path next to `path`; rename it over `path` only if the block succeeds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise StepError(
                "write.disk_full",
                f"could not write '{path.name}': no space left on the device; free some space "
                "or write the output elsewhere",
            ) from exc
        raise StepError("write.failed", f"could not write '{path.name}': {exc.strerror}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
