from __future__ import annotations

import socket


def run(ctx):
    import pyarrow as pa

    with socket.create_connection((ctx.config["host"], ctx.config["port"]), timeout=5) as s:
        peer = s.getpeername()[0]
    return pa.table({"peer": [peer]}).to_reader()
