"""Enforce the allow-list inside the executor with a Python audit hook.

This sees connections made through Python's socket module (PyMySQL, httpx, urllib, ...). It
cannot see sockets opened by C or Rust code (libpq in psycopg, connectorx, ADBC drivers); for
those the pre-run host check is the guard. docs/runners.md states this limit.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Sequence
from typing import Any

from osiris.network import is_allowed, parse_entry


class NetworkDeniedError(PermissionError):
    """A connection the allow-list does not permit (raised inside the executor)."""


def _allowed_addresses(allow: Sequence[str]) -> set[str]:
    addresses = set()
    for entry in allow:
        host = parse_entry(entry).host
        if "*" in host:
            continue
        try:
            for info in socket.getaddrinfo(host, None):
                addresses.add(str(info[4][0]))
        except OSError:
            continue
    return addresses


def install_guard(allow: Sequence[str]) -> None:
    if "*" in [e.strip() for e in allow]:
        return
    allowed_ips = _allowed_addresses(allow)

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event == "socket.getaddrinfo":
            host, port = args[0], args[1]
            if host is None:
                return
            name = host.decode() if isinstance(host, bytes) else str(host)
            num = port if isinstance(port, int) else None
            if not is_allowed(allow, name, num) and name not in allowed_ips:
                where = f"{name}:{num}" if num else name
                raise NetworkDeniedError(
                    f"network access to {where} is not allowed by runner.network.allow"
                )
        elif event == "socket.connect":
            address = args[1]
            if not isinstance(address, tuple):
                return  # unix socket paths are local
            host, port = str(address[0]), address[1]
            if host not in allowed_ips and not is_allowed(allow, host, port):
                raise NetworkDeniedError(
                    f"network access to {host}:{port} is not allowed by runner.network.allow"
                )

    sys.addaudithook(hook)
