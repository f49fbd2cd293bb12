from __future__ import annotations

import os
import sys
import time

from osiris.components.api import StepError


def run(ctx):
    import pyarrow as pa

    cfg = ctx.config
    for name in cfg.get("print_env", []):
        print(f"env {name}={os.environ.get(name, '<unset>')}", flush=True)
    if "stderr_line" in cfg:
        print(cfg["stderr_line"], file=sys.stderr, flush=True)
    total, size = cfg["rows"], cfg.get("batch_size", 1000)
    schema = pa.schema([("id", pa.int64()), ("label", pa.string())])

    def batches():
        done = 0
        while done < total:
            n = min(size, total - done)
            if "fail_after" in cfg and done + n > cfg["fail_after"]:
                raise StepError("test.failure", f"generator failed after {done} rows as configured")
            time.sleep(cfg.get("sleep_per_batch", 0))
            ids = list(range(done, done + n))
            yield pa.record_batch(
                [pa.array(ids, pa.int64()), pa.array([f"row {i}" for i in ids])], schema=schema
            )
            done += n

    return pa.RecordBatchReader.from_batches(schema, batches())
