"""The root path (the OpenAPI document) and `/rpc/<fn>`, which the stand-in only refuses."""

from __future__ import annotations

import json
from typing import Any, NoReturn

from testing.postgrest_standin import catalog, openapi
from testing.postgrest_standin.errors import ApiError
from testing.postgrest_standin.grammar import rpc_arg_names
from testing.postgrest_standin.handlers import Reply


def root(
    cur: Any, schema: str, negotiated: bool, *, host: str, base_path: str, version: tuple[int, int]
) -> Reply:
    doc = openapi.document(
        list(catalog.tables(cur, schema).values()),
        catalog.foreign_keys(cur, schema),
        host=host,
        base_path=base_path,
        version=version,
        schema_comment=catalog.schema_comment(cur, schema),
    )
    headers = [("Content-Type", "application/openapi+json; charset=utf-8")]
    if negotiated:
        headers.append(("Content-Profile", schema))
    return Reply(200, headers, json.dumps(doc, separators=(",", ":")).encode())


def rpc_arguments(method: str, pairs: list[tuple[str, str]], body: bytes) -> list[str]:
    """The argument names of a call: JSON object keys for POST, query keys for GET/HEAD."""
    if method not in ("GET", "HEAD", "POST"):
        raise ApiError(405, "PGRST101", f"Cannot use the {method} method on RPC")
    if method != "POST":
        return rpc_arg_names(pairs)
    try:
        args = json.loads(body) if body.strip() else {}
    except ValueError:
        raise ApiError(400, "PGRST102", "Empty or invalid json") from None
    return sorted(args) if isinstance(args, dict) else []


def refuse_call(cur: Any, schema: str, name: str, args: list[str], *, post: bool) -> NoReturn:
    """PGRST202 for a function that does not exist; calling real functions is not supported."""
    functions = catalog.function_names(cur, schema)
    if name in functions:
        raise ApiError(
            400,
            "PGRST127",
            "Feature not implemented",
            details="Calling functions is not supported by this stand-in",
        )
    func = f"{schema}.{name}"
    if args:
        shown = f"{func}({', '.join(args)})"
        searched = f" with parameter{'s' if len(args) > 1 else ''} {', '.join(args)}"
    else:
        shown, searched = f"{func} without parameters", " without parameters"
    if post:
        searched += " or with a single unnamed json/jsonb parameter"
    match = catalog.closest(name, functions)
    raise ApiError(
        404,
        "PGRST202",
        f"Could not find the function {shown} in the schema cache",
        details=f"Searched for the function {func}{searched}, "
        "but no matches were found in the schema cache.",
        hint=f"Perhaps you meant to call the function {schema}.{match}" if match else None,
    )
