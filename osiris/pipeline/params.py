"""Binding pipeline parameters and putting them into step config (`${params.name}`).

Precedence: `--param name=value` > `OSIRIS_PARAM_NAME` > the declared default. Values from the
command line and the environment are text and are coerced to the declared type.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from osiris.document import Document, KeyPath
from osiris.pipeline.model import Param, ParamType, ParamValue, Pipeline
from osiris.templates import TEMPLATE_HINT, Ref, TemplateError, escape, parse_template

_INT = re.compile(r"^[+-]?[0-9]+$")
_NUMBER = re.compile(r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$")
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}
_EXAMPLES = {"string": "any text", "integer": "42", "number": "3.5", "boolean": "true or false"}
_ARTICLE = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
}


def coerce(ptype: ParamType, text: str) -> ParamValue:
    """Text from the command line or environment as a value of `ptype`; ValueError if it is not."""
    value = text.strip()
    if ptype == "string":
        return text
    if ptype == "boolean":
        if value.lower() in _TRUE:
            return True
        if value.lower() in _FALSE:
            return False
    elif ptype == "integer" and _INT.match(value):
        return int(value)
    elif ptype == "number" and _NUMBER.match(value):
        number = int(value) if _INT.match(value) else float(value)
        if math.isfinite(number):
            return number
    raise ValueError(value)


def bind_params(
    pipeline: Pipeline, given: Mapping[str, str], environ: Mapping[str, str]
) -> dict[str, ParamValue]:
    """Bound values of every declared parameter that could be bound; problems go to the document."""
    doc = pipeline.document
    bound: dict[str, ParamValue] = {}
    declared = sorted(pipeline.params)
    for name in sorted(given):
        if name not in pipeline.params:
            hint = (
                f"declared parameters: {', '.join(declared)}"
                if declared
                else "this pipeline declares no parameters; add it under `params:`"
            )
            doc.add(
                ("params",), f"unknown parameter '{name}' given with --param", hint, at_key=True
            )
    for name, param in sorted(pipeline.params.items()):
        path: KeyPath = ("params", name)
        if name in given:
            text, source = str(given[name]), f"--param {name}"
        elif param.env_var in environ:
            text, source = environ[param.env_var], param.env_var
        elif param.default is not None:
            bound[name] = param.default
            continue
        else:
            doc.add(
                path,
                f"parameter '{name}' has no value",
                f"pass --param {name}=... or set {param.env_var}, or give it a default",
                at_key=True,
            )
            continue
        try:
            bound[name] = coerce(param.type, text)
        except ValueError:
            shown = text if len(text) <= 40 else text[:37] + "..."
            doc.add(
                path,
                f"parameter '{name}' must be {_ARTICLE[param.type]}, got '{shown}' from {source}",
                f"give {source} {_ARTICLE[param.type]} value, e.g. {_EXAMPLES[param.type]}",
                at_key=True,
            )
    return bound


def _text(value: ParamValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def substitute_params(
    doc: Document,
    path: KeyPath,
    value: Any,
    params: Mapping[str, Param],
    bound: Mapping[str, ParamValue],
) -> tuple[Any, bool]:
    """`value` with `${params.x}` replaced; returns (new value, every reference could be bound).

    The result is still a template: literal `${` in parameter values is escaped, so only the
    environment references the author wrote are resolved at run time.
    """
    if isinstance(value, list):
        items = [substitute_params(doc, (*path, i), v, params, bound) for i, v in enumerate(value)]
        return [v for v, _ in items], all(ok for _, ok in items)
    if isinstance(value, dict):
        pairs = {k: substitute_params(doc, (*path, k), v, params, bound) for k, v in value.items()}
        return {k: v for k, (v, _) in pairs.items()}, all(ok for _, ok in pairs.values())
    if not isinstance(value, str):
        return value, True
    try:
        pieces = parse_template(value)
    except TemplateError as exc:
        doc.add(path, str(exc), TEMPLATE_HINT)
        return value, False
    ok = True
    for piece in pieces:
        if isinstance(piece, Ref) and piece.kind != "env":
            ok = _check_ref(doc, path, piece, params, bound) and ok
    if not ok:
        return value, False
    if len(pieces) == 1 and isinstance(pieces[0], Ref) and pieces[0].kind == "param":
        # A whole-string reference keeps the parameter's type: `limit: ${params.n}` stays a number.
        typed = bound[pieces[0].param]
        return (escape(typed) if isinstance(typed, str) else typed), True
    out = []
    for piece in pieces:
        if isinstance(piece, str):
            out.append(escape(piece))
        elif piece.kind == "param":
            out.append(escape(_text(bound[piece.param])))
        else:
            out.append(piece.text)
    return "".join(out), True


def _check_ref(
    doc: Document,
    path: KeyPath,
    ref: Ref,
    params: Mapping[str, Param],
    bound: Mapping[str, ParamValue],
) -> bool:
    if ref.kind == "step":
        doc.add(
            path,
            f"'{ref.text}' is a step's output, which only `inputs:` can take",
            f'write `inputs: {{df: "{ref.text}"}}` on the step (or `needs: [{ref.step}]`)',
        )
        return False
    name = ref.param
    if ref.kind != "param":
        doc.add(
            path,
            f"'{ref.text}' is not a valid reference",
            "write ${params.name} for a parameter or ${VAR} for an environment variable",
        )
        return False
    if ref.default is not None:
        doc.add(
            path,
            f"'{ref.text}': parameters take no ':-' default here",
            f"give parameter '{name}' a default under `params:` instead",
        )
        return False
    if name not in params:
        declared = ", ".join(sorted(params))
        hint = (
            f"declared parameters: {declared}" if declared else f"declare '{name}' under `params:`"
        )
        doc.add(path, f"unknown parameter '{name}' in '{ref.text}'", hint)
        return False
    # Bound or already reported by bind_params.
    return name in bound
