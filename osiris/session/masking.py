"""Secret masking applied at emit time by every session writer.

Two layers, applied in this order:

1. Registered secrets (`Masker.add`): the value itself and the forms it commonly takes when
   printed — URL-encoded, JSON-escaped, base64 (standalone, and the stable part of the encoding
   at each of the three byte alignments, so it is also caught inside a longer base64 blob such
   as a Basic auth header) — are replaced by `***`, longest first.
2. Pattern rules for secrets nobody registered: URL credentials (`scheme://user:***@host`),
   `password=`/`pwd=`/`token=`/`api_key=`... in key=value DSNs and query strings, JSON/dict
   entries under such keys, `Authorization:` headers, `Bearer <token>`, `X-API-KEY:`-style
   headers. An unresolved environment reference such as `${PG_PASSWORD}` is not a secret and is
   left alone, so manifests and connection templates stay readable.

Values shorter than `MIN_SECRET_LENGTH` characters are not registered: masking every "ab" in the
output would destroy it while protecting nothing (the pattern rules still cover such values in
URLs, DSNs and headers). A multi-line secret is masked whole in text written at once, and each
of its lines (`MIN_LINE_LENGTH` or longer) is registered as well, so line-by-line streams never
show a piece of it either.
"""

from __future__ import annotations

import base64
import json
import math
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

from osiris.templates import TemplateError, env_refs, render, whole_ref

__all__ = ["MASK", "MIN_LINE_LENGTH", "MIN_SECRET_LENGTH", "Masker", "manifest_secrets"]

MASK = "***"
MIN_SECRET_LENGTH = 3
MIN_LINE_LENGTH = 4
_MIN_DERIVED_LENGTH = 4


_SENSITIVE_KEY = (
    r"[\w.-]*?(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key"
    r"|private[_-]?key|service[_-]?role[_-]?key)"
)
_KEY_RE = re.compile(rf"{_SENSITIVE_KEY}", re.IGNORECASE)
_QUOTED = r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\""

_RULES: tuple[re.Pattern[str], ...] = (
    # scheme://user:password@host — the password runs to the last "@" of the authority.
    re.compile(r"(?P<pre>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/?#@]*:)(?P<secret>[^\s/?#]*)(?=@)"),
    # "password": "x" / 'api_key': 'x' in JSON and Python reprs
    re.compile(
        rf"(?P<pre>(?P<q>[\"']){_SENSITIVE_KEY}(?P=q)\s*:\s*)(?P<secret>{_QUOTED})", re.IGNORECASE
    ),
    # Authorization: Bearer x / Basic x (also as a JSON entry or key=value)
    re.compile(
        r"(?P<pre>\b(?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?"
        r"(?:(?:bearer|basic|token|digest|negotiate)\s+)?)(?P<secret>[^\s,;\"']+)",
        re.IGNORECASE,
    ),
    # X-API-KEY: x and friends
    re.compile(
        r"(?P<pre>\b(?:x-api-key|api-key|x-auth-token|x-access-token|private-token"
        r"|x-goog-api-key|apikey)[\"']?\s*[:=]\s*[\"']?)(?P<secret>[^\s,;\"']+)",
        re.IGNORECASE,
    ),
    # password=x pwd='x' PWD={x} token=x in DSNs, ODBC strings, query strings, env dumps
    re.compile(
        rf"(?P<pre>(?<![\w.-]){_SENSITIVE_KEY}\s*=\s*)"
        rf"(?P<secret>{_QUOTED}|\{{[^}}]*\}}|[^\s;&\"]+)",
        re.IGNORECASE,
    ),
    # a bare bearer token; must look like a token (digits or punctuation), not a word
    re.compile(
        r"(?P<pre>\bbearer\s+)(?P<secret>(?=[^\s]*[\d._~+/-])[A-Za-z0-9._~+/-]+=*)",
        re.IGNORECASE,
    ),
)


def _is_env_template(text: str) -> bool:
    """`${VAR}` alone: a reference to a secret, not one (manifests and templates stay readable)."""
    ref = whole_ref(text)
    return ref is not None and ref.kind == "env" and ref.default is None


def _masked_rule(match: re.Match[str]) -> str:
    secret = match.group("secret")
    body = secret
    if len(secret) >= 2 and secret[0] in "'\"{" and secret[-1] in "'\"}":
        body = secret[1:-1]
        if body == MASK or _is_env_template(body):
            return match.group(0)
        return match.group("pre") + secret[0] + MASK + secret[-1]
    if body == MASK or _is_env_template(body):
        return match.group(0)
    return match.group("pre") + MASK


def _base64_forms(raw: bytes) -> set[str]:
    forms = {base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()}
    # Inside a longer blob the secret starts at byte offset 0, 1 or 2 of a 3-byte group; only
    # the characters made solely of the secret's bits are stable, so register those.
    for offset in range(3):
        padded = b"\0" * offset + raw
        first = -(-8 * offset // 6)
        last = 8 * len(padded) // 6
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            core = encode(padded).decode()[first:last]
            if len(core) >= _MIN_DERIVED_LENGTH:
                forms.add(core)
    return forms


def _forms(value: str) -> set[str]:
    forms = {value, quote(value, safe=""), quote(value), quote_plus(value)}
    forms.add(json.dumps(value, ensure_ascii=False)[1:-1])
    forms.add(json.dumps(value)[1:-1])
    forms |= _base64_forms(value.encode("utf-8"))
    if "\n" in value:
        for line in value.splitlines():
            for piece in (line, line.strip()):
                if len(piece) >= MIN_LINE_LENGTH:
                    forms.add(piece)
    return {f for f in forms if len(f) >= MIN_SECRET_LENGTH}


def _scalar_text(obj: object) -> str:
    iso = getattr(obj, "isoformat", None)
    if callable(iso):
        return str(iso())
    return str(obj)


class Masker:
    """Replaces secrets with `***` in text and JSON-able data; safe to share across threads."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._forms: set[str] = set()
        self._regex: re.Pattern[str] | None = None
        for secret in secrets:
            self.add(secret)

    def add(self, value: str | None) -> None:
        """Register a secret; empty values and values shorter than MIN_SECRET_LENGTH are ignored."""
        if not value or len(value) < MIN_SECRET_LENGTH:
            return
        with self._lock:
            if value in self._secrets:
                return
            self._secrets.add(value)
            self._forms |= _forms(value)
            ordered = sorted(self._forms, key=lambda f: (-len(f), f))
            self._regex = re.compile("|".join(re.escape(f) for f in ordered))

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every registered value, sorted."""
        return tuple(sorted(self._secrets))

    @property
    def forms(self) -> tuple[str, ...]:
        """Every string that gets masked (values plus derived forms), longest first."""
        return tuple(sorted(self._forms, key=lambda f: (-len(f), f)))

    def mask(self, text: str) -> str:
        if not text:
            return text
        regex = self._regex
        if regex is not None:
            text = regex.sub(MASK, text)
        for rule in _RULES:
            text = rule.sub(_masked_rule, text)
        return text

    def mask_obj(self, obj: Any) -> Any:
        """A JSON-able copy of `obj` with every string (keys too) masked.

        Values stored under a sensitive key (`password`, `*_token`, `api_key`, ...) are masked
        whole; objects that are not JSON types are turned into strings first.
        """
        if isinstance(obj, str):
            return self.mask(obj)
        if isinstance(obj, float) and not math.isfinite(obj):
            return None  # JSON has no NaN or Infinity
        if obj is None or isinstance(obj, bool | int | float):
            return obj
        if isinstance(obj, Mapping):
            out: dict[Any, Any] = {}
            for key, value in obj.items():
                if isinstance(key, str):
                    masked_key: Any = self.mask(key)
                    if _KEY_RE.fullmatch(key) and _is_secret_scalar(value):
                        out[masked_key] = MASK
                        continue
                elif isinstance(key, int | float | bool) or key is None:
                    masked_key = key
                else:
                    masked_key = self.mask(_scalar_text(key))
                out[masked_key] = self.mask_obj(value)
            return out
        if isinstance(obj, list | tuple):
            return [self.mask_obj(item) for item in obj]
        if isinstance(obj, set | frozenset):
            return [self.mask_obj(item) for item in sorted(obj, key=repr)]
        if isinstance(obj, bytes):
            return self.mask(obj.decode("utf-8", "replace"))
        return self.mask(_scalar_text(obj))

    @classmethod
    def from_manifest(cls, manifest_data: Mapping[str, Any], environ: Mapping[str, str]) -> Masker:
        """A masker knowing every secret the run described by a manifest can see.

        Registers the values of the env vars in `env.secret`, of every env var referenced from a
        connection's secret fields, any literal default written in such a reference, and each
        secret field's resolved value.
        """
        return cls(manifest_secrets(manifest_data, environ))


def manifest_secrets(manifest_data: Mapping[str, Any], environ: Mapping[str, str]) -> Iterator[str]:
    """Every secret value the run described by a manifest can see, as `Masker.from_manifest`
    registers them: unfiltered (possibly empty, short or repeated) and unsorted.

    The values of the env vars in `env.secret`, of every env var referenced from a connection's
    secret fields, any literal default written in such a reference, and each secret field's
    resolved value; unset env vars and references without a default yield nothing.
    """
    env = manifest_data.get("env") or {}
    for name in env.get("secret") or ():
        yield from _present(environ.get(name))
    for conn in (manifest_data.get("connections") or {}).values():
        fields = conn.get("fields") or {}
        for field in conn.get("secret_fields") or ():
            template = fields.get(field)
            if not isinstance(template, str):
                continue
            try:
                refs = env_refs(template)
                resolved = render(template, environ, missing="keep")
            except TemplateError:
                yield template  # the run refuses it; a malformed template is still no leak
                continue
            for ref in refs:
                yield from _present(environ.get(ref.name))
                yield from _present(ref.default)
            yield resolved


def _present(value: str | None) -> tuple[str, ...]:
    return () if value is None else (value,)


def _is_secret_scalar(value: object) -> bool:
    if isinstance(value, str):
        return bool(value) and value != MASK and not _is_env_template(value)
    return isinstance(value, int | float) and not isinstance(value, bool)
