"""Helpers shared by the file components: types, encodings, decompression, atomic writes."""

from __future__ import annotations

import codecs
import contextlib
import errno
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING

from osiris.components.api import StepError

if TYPE_CHECKING:
    import pyarrow as pa

_DECIMAL = re.compile(r"^decimal(?:128)?\((\d+),\s*(\d+)\)$")
_SUFFIXES = {".gz": "gzip", ".bz2": "bz2", ".zip": "zip", ".xz": "xz"}


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
def atomic_target(path: Path, *, keep: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to `path`; rename it over `path` only if the block succeeds.

    With `keep`, the temporary file starts as a copy of `path` (to append to).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        if keep:
            shutil.copyfile(path, tmp)
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


def codec_name(encoding: str) -> str:
    """Python's canonical name for an encoding; config.invalid if Python has no such codec."""
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise StepError(
            "config.invalid",
            f"unknown encoding '{encoding}'; use utf-8, utf-16, ascii, latin-1 or another "
            "Python codec name",
        ) from None


def compression_of(path: Path, compression: str) -> str | None:
    """The codec to read `path` with (None: plain); `infer` goes by the file's suffix."""
    if compression == "infer":
        return _SUFFIXES.get(path.suffix.lower())
    return compression


def open_binary(path: Path, codec: str | None, rel: str) -> IO[bytes]:
    """`path` as a stream of decompressed bytes (nothing is decompressed in advance)."""
    import pyarrow as pa

    if codec in ("gzip", "bz2"):
        return pa.CompressedInputStream(pa.OSFile(str(path)), codec)
    if codec == "xz":
        import lzma

        return lzma.open(path, "rb")
    if codec == "zip":
        import zipfile

        try:
            with zipfile.ZipFile(path) as archive:
                names = [
                    i.filename
                    for i in archive.infolist()
                    if not i.is_dir() and not i.filename.startswith("__MACOSX/")
                ]
                if len(names) != 1:
                    raise StepError(
                        "file.invalid",
                        f"'{rel}' is a zip archive with {len(names)} files; it must hold exactly "
                        "one CSV file",
                    )
                # the member stays readable after the archive is closed
                return archive.open(names[0])
        except zipfile.BadZipFile as exc:
            raise StepError(
                "file.invalid", f"'{rel}' is not a zip archive ({exc}); check `compression`"
            ) from exc
    return open(path, "rb")
