from __future__ import annotations

from osiris.components.api import StepContext
from osiris.components.filesystem._files import atomic_target


def run(ctx: StepContext) -> None:
    import pyarrow.parquet as pq

    cfg = ctx.config
    target = ctx.output_path(cfg["path"])
    reader = ctx.single_input().open()
    compression = cfg.get("compression", "zstd")
    with (
        atomic_target(target) as tmp,
        pq.ParquetWriter(tmp, reader.schema, compression=compression) as w,
    ):
        for batch in reader:
            w.write_batch(batch, row_group_size=cfg.get("row_group_size", 1_000_000))
    ctx.declare_output(target)
