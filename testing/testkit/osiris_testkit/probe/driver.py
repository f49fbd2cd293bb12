from __future__ import annotations

import sys

from osiris.components.api import StepError


def run(ctx):
    import pyarrow as pa

    conn = ctx.connection or {}
    print(f"connecting to {conn.get('dsn')} with password {conn.get('password')}", flush=True)
    print(f"token {ctx.config.get('token')}", file=sys.stderr, flush=True)
    print(f"Authorization: Bearer {conn.get('password')}", file=sys.stderr, flush=True)
    if ctx.config.get("fail"):
        raise StepError("auth.failed", f"login refused for password {conn.get('password')}")
    return pa.table({"host": [str(conn.get("host"))]}).to_reader()
