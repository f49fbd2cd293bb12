from __future__ import annotations

from typing import TYPE_CHECKING

from osiris.components.api import StepContext, StepError
from osiris.components.filesystem._files import require_file

if TYPE_CHECKING:
    import pyarrow as pa


def run(ctx: StepContext) -> pa.RecordBatchReader:
    import pyarrow as pa
    import pyarrow.parquet as pq

    cfg = ctx.config
    path = ctx.input_path(cfg["path"])
    require_file(path, cfg["path"])
    try:
        pf = pq.ParquetFile(path)
        columns = cfg.get("columns")
        schema = pf.schema_arrow
        if columns:
            missing = [c for c in columns if c not in schema.names]
            if missing:
                raise StepError(
                    "config.invalid",
                    f"columns {missing} not in '{cfg['path']}' (it has {schema.names})",
                )
            schema = pa.schema([schema.field(c) for c in columns], metadata=schema.metadata)
        batches = pf.iter_batches(batch_size=cfg.get("batch_size", 65536), columns=columns)
        return pa.RecordBatchReader.from_batches(schema, batches)
    except (pa.ArrowInvalid, OSError) as exc:
        raise StepError("file.invalid", f"cannot read Parquet '{cfg['path']}': {exc}") from exc
