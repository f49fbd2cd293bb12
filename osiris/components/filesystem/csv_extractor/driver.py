from __future__ import annotations

from typing import TYPE_CHECKING

from osiris.components.api import StepContext, StepError
from osiris.components.filesystem._files import arrow_type, require_file

if TYPE_CHECKING:
    import pyarrow as pa


def run(ctx: StepContext) -> pa.RecordBatchReader:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    cfg = ctx.config
    path = ctx.input_path(cfg["path"])
    require_file(path, cfg["path"])
    read = pacsv.ReadOptions(
        block_size=cfg.get("block_size_mb", 4) << 20,
        encoding=cfg.get("encoding", "utf8"),
        autogenerate_column_names=not cfg.get("has_header", True),
    )
    convert = pacsv.ConvertOptions(
        column_types={k: arrow_type(v) for k, v in cfg.get("column_types", {}).items()},
        include_columns=cfg.get("columns"),
        null_values=cfg.get("null_values", [""]),
        strings_can_be_null=True,
    )
    parse = pacsv.ParseOptions(delimiter=cfg.get("delimiter", ","))
    try:
        return pacsv.open_csv(path, read_options=read, parse_options=parse, convert_options=convert)
    except pa.ArrowInvalid as exc:
        raise StepError("file.invalid", f"cannot read CSV '{cfg['path']}': {exc}") from exc
