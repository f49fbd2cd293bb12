from __future__ import annotations

from osiris.components.api import StepContext
from osiris.components.filesystem._files import atomic_target


def run(ctx: StepContext) -> None:
    import pyarrow.csv as pacsv

    cfg = ctx.config
    target = ctx.output_path(cfg["path"])
    reader = ctx.single_input().open()
    options = pacsv.WriteOptions(
        include_header=cfg.get("include_header", True), delimiter=cfg.get("delimiter", ",")
    )
    with (
        atomic_target(target) as tmp,
        pacsv.CSVWriter(tmp, reader.schema, write_options=options) as w,
    ):
        for batch in reader:
            w.write_batch(batch)
    ctx.declare_output(target)
