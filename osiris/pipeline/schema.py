"""Step config against the component's JSON Schema, with findings at the offending key or value."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

from osiris.document import Document, KeyPath
from osiris.pipeline.validate import describe, suggest

_TYPES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
    "array": "a list",
    "object": "a mapping",
    "null": "null",
}
Skip = Callable[[KeyPath, Any], bool]


def validator(schema: dict[str, Any]) -> Any:
    """A Draft 2020-12 validator; ValueError if the schema itself is broken."""
    return _validator(json.dumps(schema, sort_keys=True, default=str))


@functools.lru_cache(maxsize=256)
def _validator(text: str) -> Any:
    from jsonschema import Draft202012Validator, SchemaError

    schema = json.loads(text)
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise ValueError(exc.message) from None
    return Draft202012Validator(schema)


def check_config(
    doc: Document, base: KeyPath, config: dict[str, Any], check: Any, skip: Skip
) -> None:
    """Add a finding for every schema violation in `config` (located under `base`).

    `skip(path, instance)` drops violations the caller reports otherwise, or cannot judge yet
    (a value that is an environment template, resolved only at run time).
    """
    errors = sorted(
        check.iter_errors(config), key=lambda e: (list(map(str, e.absolute_path)), e.validator)
    )
    seen: set[tuple[KeyPath, str]] = set()
    for error in errors:
        for path, message, hint, at_key in _explain(error, base):
            if skip(path, error.instance) or (path, message) in seen:
                continue
            seen.add((path, message))
            doc.add(path, message, hint, at_key=at_key)


def _explain(error: Any, base: KeyPath) -> Iterator[tuple[KeyPath, str, str | None, bool]]:
    path: KeyPath = (*base, *error.absolute_path)
    kind, expected, instance = error.validator, error.validator_value, error.instance
    schema = error.schema if isinstance(error.schema, dict) else {}
    if kind == "required" and isinstance(instance, dict):
        props = schema.get("properties", {})
        for name in expected:
            if name not in instance:
                described = (
                    props.get(name, {}).get("description")
                    if isinstance(props.get(name), dict)
                    else None
                )
                add = f"add `{name}:` ({described})" if described else f"add `{name}:`"
                yield path, f"missing required key '{name}'", add, False
    elif kind == "additionalProperties" and isinstance(instance, dict):
        allowed = sorted(schema.get("properties", {}))
        patterns = list(schema.get("patternProperties", {}))
        for key in instance:
            if key in allowed or any(re.search(p, key) for p in patterns):
                continue
            hint = suggest(key, allowed)
            if hint is None and allowed:
                hint = f"allowed keys: {', '.join(allowed)}"
            yield (*path, key), f"unknown key '{key}'", hint, True
    elif kind == "type":
        names = [expected] if isinstance(expected, str) else list(expected)
        wanted = " or ".join(_TYPES.get(n, n) for n in names)
        yield path, f"expected {wanted}, got {describe(instance)}", None, False
    elif kind in ("enum", "const"):
        values = expected if kind == "enum" else [expected]
        shown = ", ".join(json.dumps(v, ensure_ascii=False) for v in values)
        yield path, f"must be one of: {shown}; got {describe(instance)}", None, False
    elif kind in ("oneOf", "anyOf"):
        yield path, *_alternatives(error, instance), False
    elif kind == "not" and isinstance(expected, dict) and set(expected) == {"required"}:
        listed = ", ".join(f"'{n}'" for n in expected["required"])
        yield path, f"give only one of {listed}", "they mean the same", False
    elif kind == "pattern":
        yield path, f"{describe(instance)} does not match the pattern {expected}", None, False
    else:
        # The remaining keywords (minimum, maxLength, ...) have clear jsonschema messages.
        yield path, error.message, None, False


def _alternatives(error: Any, instance: Any) -> tuple[str, str | None]:
    options = error.validator_value
    required: list[Any] = [o.get("required") if isinstance(o, dict) else None for o in options]
    if isinstance(instance, dict) and all(isinstance(r, list) and len(r) == 1 for r in required):
        # The common "exactly one of these keys" shape gets a message naming the keys.
        names = ", ".join(f"'{r[0]}'" for r in required)
        if error.validator == "oneOf" and sum(r[0] in instance for r in required) > 1:
            return f"give only one of {names}", None
        return f"needs one of {names}", None
    if error.validator == "oneOf" and not error.context:
        return "matches more than one of the allowed forms", _forms_hint(options)
    return "does not match any of the allowed forms", _forms_hint(options)


def _forms_hint(options: list[Any]) -> str | None:
    described = [
        str(o["description"]) for o in options if isinstance(o, dict) and o.get("description")
    ]
    return "; ".join(described) if described else "see the component's documentation"
