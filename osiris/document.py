"""YAML reading that remembers where every key and value came from.

`yaml.safe_load` throws positions away, so we compose the node tree and convert it ourselves:
each value and each mapping key gets a 1-based (line, col) under its key path, e.g.
`("steps", 0, "config", "path")`. Duplicate keys, custom tags, recursive aliases and values that
cannot become JSON are reported as problems instead of being silently accepted.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor

from osiris.errors import Problem

KeyPath = tuple[str | int, ...]

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = {f"{_TAG}{t}" for t in ("null", "bool", "int", "float", "str", "timestamp")}
# YAML's printable set (spec 5.1); anything else makes the reader fail with a byte offset only.
_NOT_PRINTABLE = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
MAX_DEPTH = 64
MAX_NODES = 100_000


def format_path(path: Iterable[str | int]) -> str:
    """`("config", "columns", 2)` → `config.columns[2]`."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


@dataclass
class Positions:
    """1-based (line, col) of values and of mapping keys, by key path."""

    values: dict[KeyPath, tuple[int, int]] = field(default_factory=dict)
    keys: dict[KeyPath, tuple[int, int]] = field(default_factory=dict)

    def value(self, path: KeyPath) -> tuple[int, int]:
        """Where the value at `path` is, or its nearest ancestor that exists."""
        for i in range(len(path), -1, -1):
            found = self.values.get(path[:i])
            if found is not None:
                return found
        return (1, 1)

    def key(self, path: KeyPath) -> tuple[int, int]:
        """Where the key naming `path` is; falls back to the value position."""
        return self.keys.get(path) or self.value(path)


@dataclass(frozen=True)
class Finding:
    """A problem located by key path; turned into a `Problem` once step ids are known."""

    path: KeyPath
    line: int
    col: int
    message: str
    hint: str | None = None


@dataclass
class Document:
    file: str
    data: Any
    positions: Positions
    findings: list[Finding]
    warnings: list[Finding] = field(default_factory=list)

    def add(
        self, path: KeyPath, message: str, hint: str | None = None, *, at_key: bool = False
    ) -> None:
        """Record a problem: the document cannot be used as it is."""
        line, col = self.positions.key(path) if at_key else self.positions.value(path)
        self.findings.append(Finding(path, line, col, message, hint))

    def warn(
        self, path: KeyPath, message: str, hint: str | None = None, *, at_key: bool = False
    ) -> None:
        """Record a warning: the document works, but not quite as it reads."""
        line, col = self.positions.key(path) if at_key else self.positions.value(path)
        finding = Finding(path, line, col, message, hint)
        if finding not in self.warnings:
            self.warnings.append(finding)

    def problems(
        self, step_ids: dict[int, str] | None = None, *, warnings: bool = False
    ) -> list[Problem]:
        """The findings (or the warnings) as problems; inside a step with a known id, paths are
        relative to it."""
        out = []
        severity = "warning" if warnings else "error"
        for f in self.warnings if warnings else self.findings:
            path, step_id = f.path, None
            if step_ids and len(path) >= 2 and path[0] == "steps" and isinstance(path[1], int):
                step_id = step_ids.get(path[1])
                if step_id is not None:
                    path = path[2:]
            where = format_path(path)
            out.append(
                Problem(f.message, self.file, f.line, f.col, where, step_id, f.hint, severity)
            )
        return out


def _line_col(text: str, index: int) -> tuple[int, int]:
    before = text[:index]
    breaks = list(_LINE_BREAK.finditer(before))
    start = breaks[-1].end() if breaks else 0
    return len(breaks) + 1, index - start + 1


def parse_yaml(text: str, *, file: str) -> Document:
    """Compose and convert one YAML document; never raises for bad input, only collects findings."""
    doc = Document(file, None, Positions(), [])
    bad = _NOT_PRINTABLE.search(text)
    if bad is not None:
        line, col = _line_col(text, bad.start())
        doc.findings.append(
            Finding(
                (),
                line,
                col,
                f"invalid YAML: character U+{ord(bad.group()):04X} is not allowed",
                "remove the control character, or write it as an escape in a double-quoted string",
            )
        )
        return doc
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        what = ", ".join(p for p in (exc.context, exc.problem) if p) or "syntax error"
        doc.findings.append(
            Finding(
                (),
                line,
                col,
                f"invalid YAML: {what}",
                "check indentation, quotes, colons and brackets around this position",
            )
        )
        return doc
    except (yaml.YAMLError, RecursionError) as exc:  # pragma: no cover - libyaml reports marks
        doc.findings.append(Finding((), 1, 1, f"invalid YAML: {exc}"))
        return doc
    if node is None:
        doc.findings.append(Finding((), 1, 1, "the file is empty", _EMPTY_HINT))
        return doc
    doc.data = _Converter(doc).convert(node, (), 0, frozenset())
    return doc


_EMPTY_HINT = "write the YAML content; see docs/pipelines.md for an example"


def read_yaml(path: Path, *, file: str | None = None) -> tuple[bytes, Document]:
    """Read and parse a YAML file; unreadable or non-UTF-8 content is a finding, not an error."""
    name = file if file is not None else str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        finding = Finding((), 0, 0, f"cannot read the file: {reason}", "check the path")
        return b"", Document(name, None, Positions(), [finding])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        good = raw[: exc.start].decode("utf-8-sig", errors="replace")
        line, col = _line_col(good, len(good))
        finding = Finding(
            (), line, col, "the file is not valid UTF-8 text", "save the file with UTF-8 encoding"
        )
        return raw, Document(name, None, Positions(), [finding])
    return raw, parse_yaml(text, file=name)


class _Converter:
    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.nodes = 0
        self.constructor = SafeConstructor()

    def _problem(self, node: yaml.Node, path: KeyPath, message: str, hint: str | None) -> None:
        mark = node.start_mark
        self.doc.findings.append(Finding(path, mark.line + 1, mark.column + 1, message, hint))

    def convert(self, node: yaml.Node, path: KeyPath, depth: int, active: frozenset[int]) -> Any:
        self.nodes += 1
        if self.nodes == MAX_NODES:
            self._problem(
                node,
                path,
                "the document is too large (more than 100000 values)",
                "split it up, or check for aliases that expand to huge trees",
            )
        if self.nodes >= MAX_NODES:
            return None
        self.doc.positions.values[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node, path)
        if depth >= MAX_DEPTH:
            self._problem(
                node,
                path,
                f"nesting is deeper than {MAX_DEPTH} levels",
                "flatten the structure; pipelines never need this depth",
            )
            return None
        if id(node) in active:
            self._problem(
                node,
                path,
                "an alias refers to a node that contains it",
                "remove the recursive alias",
            )
            return None
        active = active | {id(node)}
        if isinstance(node, yaml.SequenceNode):
            if node.tag != f"{_TAG}seq":
                self._unsupported_tag(node, path)
                return None
            return [
                self.convert(item, (*path, i), depth + 1, active)
                for i, item in enumerate(node.value)
            ]
        if isinstance(node, yaml.MappingNode):
            if node.tag != f"{_TAG}map":
                self._unsupported_tag(node, path)
                return None
            return self._mapping(node, path, depth, active)
        self._problem(node, path, "unsupported YAML node", None)  # pragma: no cover
        return None

    def _unsupported_tag(self, node: yaml.Node, path: KeyPath) -> None:
        tag = node.tag.replace(_TAG, "!!")
        self._problem(
            node,
            path,
            f"unsupported YAML tag '{tag}'",
            "remove the tag; only plain YAML values are allowed",
        )

    def _scalar(self, node: yaml.ScalarNode, path: KeyPath) -> Any:
        if node.tag not in _SCALAR_TAGS:
            self._unsupported_tag(node, path)
            return None
        kind = node.tag.removeprefix(_TAG)
        if kind in ("str", "timestamp"):
            # Dates stay text: JSON has no date type and the manifest must be plain JSON.
            return node.value
        try:
            value = getattr(self.constructor, f"construct_yaml_{kind}")(node)
        except (ValueError, yaml.YAMLError):
            self._problem(
                node,
                path,
                f"'{node.value}' is not a number Osiris can represent",
                "quote it to keep it as text",
            )
            return None
        if isinstance(value, float) and not math.isfinite(value):
            self._problem(
                node,
                path,
                f"'{node.value}' is not a finite number",
                "use a finite number, or quote it to keep it as text",
            )
            return None
        return value

    def _key(self, node: yaml.Node, path: KeyPath) -> str | None:
        if isinstance(node, yaml.ScalarNode) and node.tag in _SCALAR_TAGS and node.value != "":
            # Plain keys keep their source text, so `on:` or `1:` do not turn into True or 1.
            return str(node.value)
        self._problem(node, path, "a key must be a non-empty text", "write the key as plain text")
        return None

    def _mapping(
        self, node: yaml.MappingNode, path: KeyPath, depth: int, active: frozenset[int]
    ) -> dict[str, Any]:
        result: dict[str, Any] = {}
        merges = [v for k, v in node.value if k.tag == f"{_TAG}merge"]
        for merge in reversed(merges):
            sources = merge.value if isinstance(merge, yaml.SequenceNode) else [merge]
            for source in reversed(sources):
                if not isinstance(source, yaml.MappingNode):
                    self._problem(
                        source,
                        path,
                        "'<<' must merge a mapping or a list of mappings",
                        "write `<<: *anchor` where the anchor names a mapping",
                    )
                    continue
                merged = self.convert(source, path, depth, active)
                if isinstance(merged, dict):
                    result.update(merged)
        self.doc.positions.values[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == f"{_TAG}merge":
                continue
            key = self._key(key_node, path)
            if key is None:
                continue
            line = key_node.start_mark.line + 1
            if key in seen:
                self._problem(
                    key_node,
                    (*path, key),
                    f"duplicate key '{key}' (first defined on line {seen[key]})",
                    "remove one of the two",
                )
                continue
            seen[key] = line
            self.doc.positions.keys[(*path, key)] = (line, key_node.start_mark.column + 1)
            result[key] = self.convert(value_node, (*path, key), depth + 1, active)
        return result
