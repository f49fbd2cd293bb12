"""The network allow-list: parsing entries and matching hosts against them.

Entries are `*`, `host`, `host:port`, `*.domain` or URLs (`postgresql://db.example.com:5432`;
a URL without a port means its scheme's: `https://<ref>.supabase.co` is host:443).
Used before a run (every connection host must be allowed) and inside the executor.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

# the port a URL of this scheme means when it names none
DEFAULT_PORTS = {"https": 443, "http": 80, "postgres": 5432, "postgresql": 5432, "mysql": 3306}


@dataclass(frozen=True)
class AllowEntry:
    host: str
    port: int | None = None

    def matches(self, host: str, port: int | None) -> bool:
        if self.port is not None and port is not None and self.port != port:
            return False
        return fnmatch.fnmatch(host.lower(), self.host)


def parse_entry(text: str) -> AllowEntry:
    raw = text.strip()
    if raw == "*":
        return AllowEntry("*")
    if "://" in raw:
        parts = urlsplit(raw)
        default = DEFAULT_PORTS.get(parts.scheme.lower())
        return AllowEntry((parts.hostname or "").lower(), parts.port or default)
    if raw.startswith("["):  # [::1]:5432
        host, _, rest = raw[1:].partition("]")
        port = rest.lstrip(":")
        return AllowEntry(host.lower(), int(port) if port.isdigit() else None)
    host, sep, port = raw.rpartition(":")
    if sep and port.isdigit() and ":" not in host:
        return AllowEntry(host.lower(), int(port))
    return AllowEntry(raw.lower())


def is_allowed(allow: Sequence[str], host: str, port: int | None = None) -> bool:
    return any(parse_entry(e).matches(host, port) for e in allow)
