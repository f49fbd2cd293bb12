"""The OpenAPI 2.0 document PostgREST serves at the root path (`GET /rest/v1/`).

Definitions follow PostgREST's OpenAPI module: for each column, `type` from the column type
(strings, booleans, integers, numbers, arrays; none for json/jsonb), `format` the column type
itself, except that PostgREST ≥ 14.8 prints smallint/integer as "int32" and bigint as "int64",
`description` with the "Note:" lines for primary and foreign keys, `maxLength` for character
types, `default` when the default parses as JSON, `enum` for enum types; `required` lists
every NOT NULL column.
"""

from __future__ import annotations

import json
from typing import Any

from testing.postgrest_standin.catalog import Column, Table

_TYPES = {
    "character varying": "string",
    "character": "string",
    "text": "string",
    "boolean": "boolean",
    "smallint": "integer",
    "integer": "integer",
    "bigint": "integer",
    "numeric": "number",
    "real": "number",
    "double precision": "number",
    "json": None,
    "jsonb": None,
}
_INT_FORMATS = {"smallint": "int32", "integer": "int32", "bigint": "int64"}


def swagger_type(col_type: str) -> str | None:
    if col_type in _TYPES:
        return _TYPES[col_type]
    return "array" if col_type.endswith("[]") else "string"


def swagger_format(col_type: str, *, int_formats: bool) -> str:
    return _INT_FORMATS.get(col_type, col_type) if int_formats else col_type


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


def _default(col: Column) -> tuple[bool, Any]:
    """PostgREST's parseDefault: string-typed defaults lose `::type` and quotes, then JSON."""
    if col.default is None:
        return False, None
    text = col.default
    if swagger_type(col.data_type) == "string":
        suffix = "::" + col.data_type
        if text.endswith(suffix):
            text = text[: -len(suffix)].strip("'")
        text = f'"{text}"'
    try:
        return True, json.loads(text, parse_constant=_reject_constant)
    except ValueError:
        return False, None


def _property(table: Table, col: Column, fks: dict[Any, Any], int_formats: bool) -> dict[str, Any]:
    prop: dict[str, Any] = {}
    has_default, default = _default(col)
    if has_default:
        prop["default"] = default
    notes = ["Note:"]
    if col.name in table.pk:
        notes.append("This is a Primary Key.<pk/>")
    fk = fks.get((table.name, col.name))
    if fk:
        ftable, fcol = fk
        notes.append(
            f"This is a Foreign Key to `{ftable}.{fcol}`.<fk table='{ftable}' column='{fcol}'/>"
        )
    if len(notes) > 1:
        prefix = f"{col.description}\n\n" if col.description else ""
        prop["description"] = prefix + "\n".join(notes)
    elif col.description:
        prop["description"] = col.description
    if col.enum:
        prop["enum"] = list(col.enum)
    prop["format"] = swagger_format(col.data_type, int_formats=int_formats)
    if col.max_length is not None:
        prop["maxLength"] = col.max_length
    kind = swagger_type(col.data_type)
    if kind is not None:
        prop["type"] = kind
    if kind == "array":
        item_type = swagger_type(col.data_type[:-2])
        prop["items"] = {"type": item_type} if item_type else {}
    return prop


def _definition(table: Table, fks: dict[Any, Any], int_formats: bool) -> dict[str, Any]:
    definition: dict[str, Any] = {}
    if table.description:
        definition["description"] = table.description
    definition["properties"] = {
        name: _property(table, col, fks, int_formats) for name, col in table.columns.items()
    }
    required = [name for name, col in table.columns.items() if not col.nullable]
    if required:
        definition["required"] = required
    definition["type"] = "object"
    return definition


def _param(name: str, where: str, description: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "description": description,
        "required": False,
        "in": where,
        "type": "string",
        **extra,
    }


def _prefer(values: list[str]) -> dict[str, Any]:
    param = _param("Prefer", "header", "Preference")
    if values:
        param["enum"] = values
    return param


def _parameters(tables: list[Table]) -> dict[str, Any]:
    params: dict[str, Any] = {
        "preferParams": _prefer([]),
        "preferReturn": _prefer(["return=representation", "return=minimal", "return=none"]),
        "preferCount": _prefer(["count=none"]),
        "preferPost": _prefer(
            [
                "return=representation",
                "return=minimal",
                "return=none",
                "resolution=ignore-duplicates",
                "resolution=merge-duplicates",
            ]
        ),
        "select": _param("select", "query", "Filtering Columns"),
        "on_conflict": _param("on_conflict", "query", "On Conflict"),
        "order": _param("order", "query", "Ordering"),
        "range": _param("Range", "header", "Limiting and Pagination"),
        "rangeUnit": _param("Range-Unit", "header", "Limiting and Pagination", default="items"),
        "offset": _param("offset", "query", "Limiting and Pagination"),
        "limit": _param("limit", "query", "Limiting and Pagination"),
    }
    for table in tables:
        params[f"body.{table.name}"] = {
            "name": table.name,
            "description": table.name,
            "required": False,
            "in": "body",
            "schema": {"$ref": f"#/definitions/{table.name}"},
        }
        for name, col in table.columns.items():
            param = {"name": name, "required": False, "in": "query", "type": "string"}
            if col.description:
                param["description"] = col.description
            params[f"rowFilter.{table.name}.{name}"] = param
    return params


def _path(table: Table) -> dict[str, Any]:
    ref = lambda name: {"$ref": f"#/parameters/{name}"}  # noqa: E731
    filters = [ref(f"rowFilter.{table.name}.{c}") for c in table.columns]
    tags = [table.name]
    item: dict[str, Any] = {
        "get": {
            "tags": tags,
            "parameters": [
                *filters,
                *(
                    ref(n)
                    for n in (
                        "select",
                        "order",
                        "range",
                        "rangeUnit",
                        "offset",
                        "limit",
                        "preferCount",
                    )
                ),
            ],
            "responses": {
                "200": {
                    "description": "OK",
                    "schema": {"type": "array", "items": {"$ref": f"#/definitions/{table.name}"}},
                },
                "206": {"description": "Partial Content"},
            },
        }
    }
    if table.insertable or table.updatable or table.deletable:
        item["post"] = {
            "tags": tags,
            "parameters": [ref(f"body.{table.name}"), ref("select"), ref("preferPost")],
            "responses": {"201": {"description": "Created"}},
        }
        item["patch"] = {
            "tags": tags,
            "parameters": [*filters, ref(f"body.{table.name}"), ref("preferReturn")],
            "responses": {"204": {"description": "No Content"}},
        }
        item["delete"] = {
            "tags": tags,
            "parameters": [*filters, ref("preferReturn")],
            "responses": {"204": {"description": "No Content"}},
        }
    return item


def document(
    tables: list[Table],
    fks: dict[Any, Any],
    *,
    host: str,
    base_path: str,
    version: tuple[int, int],
    schema_comment: str | None,
) -> dict[str, Any]:
    """The whole document; `version` is the PostgREST version being imitated."""
    int_formats = version >= (14, 8)
    title, description = "PostgREST API", "This is a dynamic API generated by PostgREST"
    if schema_comment is not None:
        title, _, rest = schema_comment.partition("\n")
        description = rest.lstrip("\n")
    mimes = [
        "application/json",
        "application/vnd.pgrst.object+json;nulls=stripped",
        "application/vnd.pgrst.object+json",
        "text/csv",
    ]
    paths: dict[str, Any] = {
        "/": {
            "get": {
                "tags": ["Introspection"],
                "summary": "OpenAPI description (this document)",
                "produces": ["application/openapi+json", "application/json"],
                "responses": {"200": {"description": "OK"}},
            }
        }
    }
    for table in tables:
        paths[f"/{table.name}"] = _path(table)
    return {
        "swagger": "2.0",
        "info": {
            "description": description,
            "title": title,
            "version": f"{version[0]}.{version[1]}",
        },
        "host": host,
        "basePath": base_path,
        "schemes": ["http"],
        "consumes": mimes,
        "produces": mimes,
        "paths": paths,
        "definitions": {t.name: _definition(t, fks, int_formats) for t in tables},
        "parameters": _parameters(tables),
        "externalDocs": {
            "description": "PostgREST Documentation",
            "url": f"https://postgrest.org/en/v{version[0]}/references/api.html",
        },
    }
