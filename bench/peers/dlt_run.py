"""dlt peer: sql_table (pyarrow backend) from MariaDB into Postgres, write_disposition=replace.

    dlt_run.py --my mysql+pymysql://u:p@host/db --pg postgresql://u:x@host/db \
               --source events --dataset dlt_bench [--backend pyarrow] [--pipelines-dir DIR]

dlt's defaults otherwise (chunk_size 50,000, its own workers and file formats).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")

import dlt  # noqa: E402
from dlt.sources.sql_database import sql_table  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--my", required=True)
    ap.add_argument("--pg", required=True)
    ap.add_argument("--source", default="events")
    ap.add_argument("--dataset", default="dlt_bench")
    ap.add_argument("--backend", default="pyarrow")
    ap.add_argument("--pipelines-dir", default="/tmp/dlt_pipelines")
    a = ap.parse_args()
    source = sql_table(credentials=a.my, table=a.source, backend=a.backend, chunk_size=50_000)
    pipeline = dlt.pipeline(
        pipeline_name=f"bench_{a.dataset}",
        pipelines_dir=a.pipelines_dir,
        destination=dlt.destinations.postgres(a.pg),
        dataset_name=a.dataset,
    )
    t0 = time.monotonic()
    info = pipeline.run(source, write_disposition="replace")
    print(info)
    steps = ", ".join(
        f"{s.step} {(s.finished_at - s.started_at).total_seconds():.1f}s"
        for s in pipeline.last_trace.steps
    )
    print(f"dlt: {time.monotonic() - t0:.1f}s ({steps})")


if __name__ == "__main__":
    main()
