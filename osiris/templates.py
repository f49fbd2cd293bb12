"""The `${...}` template language of pipelines and connection files — its one home.

    ${VAR}             an environment variable, read where the run executes
    ${VAR:-default}    the same, with a default when VAR is unset or empty (as in the shell)
    ${params.name}     a pipeline parameter, bound at compile time
    ${step-id.df}      the output of another step (in a step's `inputs:`)
    $${                a literal `${`

Connections, step config, parameters, step inputs and the masker all read templates through
this module, so they cannot disagree about what a string means. It imports nothing of osiris.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "TEMPLATE_HINT",
    "MissingVariableError",
    "Ref",
    "TemplateError",
    "env_refs",
    "escape",
    "is_malformed",
    "parse_template",
    "render",
    "whole_ref",
]

TEMPLATE_HINT = "write ${VAR}, ${VAR:-default} or ${params.name}; write $${ for a literal ${"
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TOKEN = re.compile(r"\$(\$)?\{")
# a name, then an optional `:-default`; which names are valid depends on their kind (Ref.kind)
_BODY = re.compile(r"^([A-Za-z0-9_][A-Za-z0-9_.-]*?)(?::-(.*))?$", re.S)
_STEP_OUTPUT = ".df"


class TemplateError(ValueError):
    """A malformed `${...}` in a string."""


class MissingVariableError(LookupError):
    """`render` met `${VAR}` without default and VAR is not in the environment."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


@dataclass(frozen=True)
class Ref:
    """One `${name}` or `${name:-default}`."""

    name: str
    default: str | None = None

    @property
    def kind(self) -> Literal["env", "param", "step", "invalid"]:
        if "." not in self.name:
            return "env"
        if self.name.startswith("params."):
            return "param" if ENV_NAME.match(self.name.removeprefix("params.")) else "invalid"
        if self.name.endswith(_STEP_OUTPUT) and len(self.name) > len(_STEP_OUTPUT):
            return "step"
        return "invalid"

    @property
    def param(self) -> str:
        return self.name.removeprefix("params.")

    @property
    def step(self) -> str:
        return self.name.removesuffix(_STEP_OUTPUT)

    @property
    def text(self) -> str:
        if self.default is None:
            return "${" + self.name + "}"
        return "${" + self.name + ":-" + self.default + "}"


def parse_template(text: str) -> list[str | Ref]:
    """Split a string into literal pieces (with `$${` already turned into `${`) and references."""
    pieces: list[str | Ref] = []
    pos = 0
    literal = ""
    for match in _TOKEN.finditer(text):
        if match.start() < pos:
            continue
        literal += text[pos : match.start()]
        if match.group(1):
            literal += "${"
            pos = match.end()
            continue
        close = text.find("}", match.end())
        if close < 0:
            raise TemplateError(f"'{text[match.start() :][:40]}' is missing its closing '}}'")
        body = _BODY.match(text[match.end() : close])
        ref = Ref(body.group(1), body.group(2)) if body else None
        if ref is None or (ref.kind == "env" and not ENV_NAME.match(ref.name)):
            raise TemplateError(f"'{text[match.start() : close + 1]}' is not a valid reference")
        if literal:
            pieces.append(literal)
            literal = ""
        pieces.append(ref)
        pos = close + 1
    literal += text[pos:]
    if literal:
        pieces.append(literal)
    return pieces


def escape(text: str) -> str:
    """A literal string written as a template that renders back to itself."""
    return text.replace("${", "$${")


def whole_ref(text: str) -> Ref | None:
    """The reference if `text` is exactly one `${...}` and nothing else."""
    try:
        pieces = parse_template(text)
    except TemplateError:
        return None
    return pieces[0] if len(pieces) == 1 and isinstance(pieces[0], Ref) else None


def is_malformed(text: str) -> bool:
    try:
        parse_template(text)
    except TemplateError:
        return True
    return False


def env_refs(value: Any) -> list[Ref]:
    """Every environment reference in the strings of a JSON-like value (malformed ones skipped)."""
    if isinstance(value, str):
        try:
            return [p for p in parse_template(value) if isinstance(p, Ref) and p.kind == "env"]
        except TemplateError:
            return []
    if isinstance(value, list):
        return [r for item in value for r in env_refs(item)]
    if isinstance(value, dict):
        return [r for item in value.values() for r in env_refs(item)]
    return []


def render(
    text: str, environ: Mapping[str, str], *, missing: Literal["raise", "keep"] = "raise"
) -> str:
    """The template's environment references replaced from `environ`.

    `${VAR:-d}` gives d when VAR is unset or empty. A `${VAR}` without default that `environ`
    lacks raises MissingVariableError, or stays as written with `missing="keep"`. Malformed text
    raises TemplateError.
    """
    out = []
    for piece in parse_template(text):
        if isinstance(piece, str):
            out.append(piece)
        elif piece.kind != "env":
            out.append(piece.text)
        else:
            found = environ.get(piece.name)
            if piece.default is not None and not found:
                out.append(piece.default)
            elif found is not None:
                out.append(found)
            elif missing == "keep":
                out.append(piece.text)
            else:
                raise MissingVariableError(piece.name)
    return "".join(out)
