from __future__ import annotations

import time


def run(ctx):
    import pyarrow as pa

    block = bytearray(ctx.config["mb"] * 1024 * 1024)
    for i in range(0, len(block), 4096):
        block[i] = 1  # touch every page so it counts as resident
    time.sleep(ctx.config.get("seconds", 5))
    return pa.table({"mb": [len(block) // (1024 * 1024)]}).to_reader()
