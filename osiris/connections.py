"""`osiris_connections.yaml` and `@family.alias` references.

The file maps families to aliases to fields::

    connections:
      mysql:
        default:                      # alias; `@mysql.default`, and `@mysql` via `default: true`
          default: true
          host: ${MYSQL_HOST:-127.0.0.1}
          password: ${MYSQL_PASSWORD}

Templates stay unresolved in the manifest; the executor resolves them from its own environment
at run time (`resolve_connection`), so secrets travel only as environment variables. The
template language is `osiris.templates`'; connections allow only environment references.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from osiris.document import Document, KeyPath, read_yaml
from osiris.errors import ConnectionsError, PipelineError
from osiris.templates import (
    TEMPLATE_HINT,
    MissingVariableError,
    Ref,
    TemplateError,
    parse_template,
    render,
)

__all__ = [
    "CONNECTIONS_FILE",
    "Connection",
    "ConnectionsFile",
    "canonical_fields",
    "check_env",
    "find_connections_file",
    "load_connections",
    "parse_connections",
    "resolve_connection",
    "substitute",
]

CONNECTIONS_FILE = "osiris_connections.yaml"
FILE_VERSIONS = (1, "1")  # upstream Osiris writes `version: 1` (ADR 0020)
REF_PATTERN = re.compile(r"^@([a-z][a-z0-9_]*)(?:\.([a-z0-9_][a-z0-9_-]*))?$")
_FAMILY = re.compile(r"^[a-z][a-z0-9_]*$")
_ALIAS = re.compile(r"^[a-z0-9_][a-z0-9_-]*$")
CONNECTION_TEMPLATE_HINT = "write ${VAR} or ${VAR:-default}; write $${ for a literal ${"


def substitute(
    value: str, environ: Mapping[str, str], *, where: str, field: str | None = None
) -> str:
    """Render a template from `environ`; a missing variable without default is a ConnectionsError.

    `where` starts the message ("connection @mysql.default"), `field` names the key holding the
    template.
    """
    try:
        return render(value, environ)
    except TemplateError as exc:
        raise ConnectionsError(f"{where}: {exc}", hint=TEMPLATE_HINT) from None
    except MissingVariableError as exc:
        suffix = f" (field {field})" if field else ""
        raise ConnectionsError(
            f"{where}: environment variable {exc.name} is not set{suffix}",
            hint=f"export {exc.name}=... or add a default: ${{{exc.name}:-...}}",
        ) from None


def substitute_value(value: Any, environ: Mapping[str, str], *, where: str, field: str) -> Any:
    """`substitute` over every string of a JSON-like value; other values stay as they are."""
    if isinstance(value, str):
        return substitute(value, environ, where=where, field=field)
    if isinstance(value, list):
        return [
            substitute_value(v, environ, where=where, field=f"{field}[{i}]")
            for i, v in enumerate(value)
        ]
    if isinstance(value, dict):
        return {
            k: substitute_value(v, environ, where=where, field=f"{field}.{k}")
            for k, v in value.items()
        }
    return value


# Field names upstream Osiris's connection files use for the same thing, canonical name first.
# Where several are given, the first one present wins (key: upstream's own order).
SYNONYMS: dict[str, dict[str, tuple[str, ...]]] = {
    "mysql": {"user": ("user", "username")},
    "postgres": {"user": ("user", "username")},
    "supabase": {
        "user": ("user", "username"),
        "password": ("password", "pg_password"),
        "dsn": ("dsn", "pg_dsn", "sql_dsn"),
        "project_ref": ("project_ref", "project_id"),
        "key": ("service_role_key", "anon_key", "key"),
    },
}
# groups whose members may all be present (a Supabase project has both keys)
_OVERLAPPING = {"key"}


def canonical_fields(family: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """`fields` with upstream Osiris's synonyms under this project's names (`username` → user,
    Supabase `pg_dsn` → dsn, `service_role_key` → key, ...)."""
    out = dict(fields)
    for name, names in SYNONYMS.get(family, {}).items():
        present = [n for n in names if out.get(n) not in (None, "")]
        for n in names:
            out.pop(n, None)
        if present:
            out[name] = fields[present[0]]
    return out


def resolve_connection(entry: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """The fields of a manifest connection entry with every template resolved from `environ`,
    under their canonical names (`canonical_fields`)."""
    where = f"connection @{entry['family']}.{entry['alias']}"
    resolved = {
        name: substitute_value(value, environ, where=where, field=name)
        for name, value in sorted(entry["fields"].items())
    }
    return dict(sorted(canonical_fields(entry["family"], resolved).items()))


def check_env(manifest_data: Mapping[str, Any], environ: Mapping[str, str]) -> list[str]:
    """Names of the environment variables the run requires but `environ` lacks, sorted."""
    return sorted(n for n in manifest_data["env"]["required"] if n not in environ)


@dataclass(frozen=True)
class Connection:
    family: str
    alias: str
    fields: dict[str, Any]
    is_default: bool
    path: KeyPath  # of the alias mapping in the file

    @property
    def ref(self) -> str:
        return f"@{self.family}.{self.alias}"


@dataclass
class ConnectionsFile:
    path: Path
    document: Document
    families: dict[str, dict[str, Connection]] = field(default_factory=dict)

    def lookup(self, ref: str) -> tuple[Connection | None, str, str]:
        """The connection `ref` names, or None with a message and hint saying why not."""
        match = REF_PATTERN.match(ref)
        if match is None:
            return None, f"invalid connection reference '{ref}'", "write @family.alias or @family"
        family, alias = match.groups()
        aliases = self.families.get(family)
        if not aliases:
            known = ", ".join(sorted(self.families)) or "none"
            return (
                None,
                f"connection family '{family}' is not defined in {self.document.file}",
                f"add `{family}:` under `connections:` (defined families: {known})",
            )
        if alias is None:
            chosen = _family_default(aliases)
            if chosen is None:
                return (
                    None,
                    f"'{ref}' needs a default connection, but family '{family}' has "
                    "several aliases, none marked `default: true` and none named `default`",
                    f"mark one with `default: true` or write @{family}.<alias> "
                    f"(aliases: {', '.join(sorted(aliases))})",
                )
            return chosen, "", ""
        if alias not in aliases:
            return (
                None,
                f"connection '{ref}' is not defined in {self.document.file}",
                f"defined {family} aliases: {', '.join(sorted(aliases))}",
            )
        return aliases[alias], "", ""


def _family_default(aliases: dict[str, Connection]) -> Connection | None:
    marked = [c for c in aliases.values() if c.is_default]
    if marked:
        return marked[0]
    if "default" in aliases:
        return aliases["default"]
    # beyond upstream Osiris's rule: a family's only alias needs no marking
    return next(iter(aliases.values())) if len(aliases) == 1 else None


def find_connections_file(
    pipeline_path: Path, explicit: Path | None, cwd: Path | None = None
) -> tuple[Path | None, list[Path]]:
    """The connections file to use, and where it looked: explicit, next to the pipeline, cwd."""
    if explicit is not None:
        return explicit, [explicit]
    looked = [pipeline_path.parent / CONNECTIONS_FILE, (cwd or Path.cwd()) / CONNECTIONS_FILE]
    for candidate in looked:
        if candidate.is_file():
            return candidate, looked
    return None, looked


def parse_connections(path: Path) -> ConnectionsFile:
    """Read a connections file; problems are in `result.document.findings`."""
    _, doc = read_yaml(path)
    conns = ConnectionsFile(path, doc)
    data = doc.data
    if doc.findings and data is None:
        return conns
    if not isinstance(data, dict) or not isinstance(data.get("connections"), dict):
        doc.add(
            ("connections",) if isinstance(data, dict) and "connections" in data else (),
            "a connections file must be a mapping with a `connections:` mapping of families",
            "write `connections:` then `<family>:` then `<alias>:` with its fields",
        )
        return conns
    for key in data:
        if key not in ("connections", "version") and not key.startswith("x-"):
            doc.add(
                (key,),
                f"unknown key '{key}'",
                "the top-level keys are `version` (optional) and `connections`",
                at_key=True,
            )
    if "version" in data and data["version"] not in FILE_VERSIONS:
        doc.add(
            ("version",),
            f"unsupported connections file version {data['version']!r}",
            "write `version: 1`, or leave it out",
        )
    for family, aliases in data["connections"].items():
        fpath: KeyPath = ("connections", family)
        if not _FAMILY.match(family):
            doc.add(
                fpath,
                f"invalid family name '{family}'",
                "use lower-case letters, digits and '_'",
                at_key=True,
            )
            continue
        if not isinstance(aliases, dict):
            doc.add(
                fpath,
                f"family '{family}' must be a mapping of aliases",
                "write `<alias>:` with its fields below",
            )
            continue
        found: dict[str, Connection] = {}
        for alias, fields in aliases.items():
            conn = _connection(doc, family, alias, fields)
            if conn is not None:
                found[alias] = conn
        marked = [c for c in found.values() if c.is_default]
        for extra in marked[1:]:
            doc.add(
                (*extra.path, "default"),
                f"family '{family}' has more than one default: {marked[0].alias} and {extra.alias}",
                "keep `default: true` on one alias only",
            )
        conns.families[family] = found
    return conns


def _connection(doc: Document, family: str, alias: str, fields: Any) -> Connection | None:
    path: KeyPath = ("connections", family, alias)
    if not _ALIAS.match(alias):
        doc.add(
            path,
            f"invalid alias '{alias}'",
            "use lower-case letters, digits, '-' and '_'",
            at_key=True,
        )
        return None
    if not isinstance(fields, dict):
        doc.add(
            path,
            f"connection @{family}.{alias} must be a mapping of fields",
            "write its fields (host, port, ...) below it",
        )
        return None
    is_default = fields.get("default", False)
    if not isinstance(is_default, bool):
        doc.add(
            (*path, "default"),
            "`default` must be true or false",
            "write `default: true` to mark the family default",
        )
        is_default = False
    # `x-*` keys are notes for people; drivers get only real fields.
    values = {k: v for k, v in fields.items() if k != "default" and not k.startswith("x-")}
    for name, value in values.items():
        _check_templates(doc, (*path, name), value)
    for canonical, names in SYNONYMS.get(family, {}).items():
        given = [n for n in names if n in values]
        if len(given) > 1 and canonical not in _OVERLAPPING:
            doc.add(
                (*path, given[1]),
                f"'{given[1]}' and '{given[0]}' are the same field",
                f"keep one of them: {' or '.join(given)}",
                at_key=True,
            )
    return Connection(family, alias, values, is_default, path)


def _check_templates(doc: Document, path: KeyPath, value: Any) -> None:
    if isinstance(value, str):
        try:
            refs = [p for p in parse_template(value) if isinstance(p, Ref)]
        except TemplateError as exc:
            doc.add(path, str(exc), CONNECTION_TEMPLATE_HINT)
            return
        for ref in refs:
            if ref.kind != "env":
                doc.add(
                    path,
                    f"'{ref.text}' is not an environment variable reference",
                    CONNECTION_TEMPLATE_HINT,
                )
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_templates(doc, (*path, i), item)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_templates(doc, (*path, key), item)


def load_connections(path: Path) -> ConnectionsFile:
    """A connections file, or PipelineError with every problem found in it."""
    conns = parse_connections(path)
    if conns.document.findings:
        raise PipelineError(conns.document.problems())
    return conns
