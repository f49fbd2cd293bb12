"""Memory of the REST extractor: 1M records from a local JSON API into a Parquet file.

The API (testing/rest_api.py) makes each page's records when it is asked for them, so the
server holds no million-record list; `osiris run` reads them with `rest.extractor` (offset
paging, `--page-size` records a page) and writes `out/items.parquet`. Peak RSS of the osiris
process tree and the wall time are measured as for the other benchmarks (bench/measure.py).

    .venv/bin/python bench/rest_memory.py [--records 1000000] [--page-size 1000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, overload

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH), str(BENCH.parent)]

from measure import measure  # noqa: E402
from tools import OSIRIS, _base_env  # noqa: E402

from testing.rest_api import RestApi  # noqa: E402


class Records(Sequence[dict[str, Any]]):
    """`n` records, each made when a page asks for it."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    @overload
    def __getitem__(self, i: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, i: slice) -> list[dict[str, Any]]: ...
    def __getitem__(self, i: int | slice) -> Any:
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(self.n))]
        return {
            "id": i + 1,
            "user": {"name": f"user {i % 977}", "plan": ["free", "pro", "team"][i % 3]},
            "amount": round((i % 10_000) * 0.37, 2),
            "active": i % 2 == 0,
            "created": f"2026-11-{1 + i % 28:02d}T10:00:00Z",
            "tags": [f"t{i % 5}"],
        }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--page-size", type=int, default=1000)
    args = ap.parse_args()
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    with (
        tempfile.TemporaryDirectory(prefix="osiris-bench-") as tmp,
        RestApi(
            Records(args.records),  # type: ignore[arg-type]
            page_size=args.page_size,
        ) as api,
    ):
        work = Path(tmp)
        config = {
            "base_url": api.url,
            "path": "/offset/items",
            "data_path": "results",
            "pagination": {"type": "offset", "page_size": args.page_size},
            "schema": {"created": "timestamp"},
        }
        (work / "p.yaml").write_text(
            'oml_version: "0.1.0"\nname: rest-1m\nsteps:\n'
            "  - id: read\n    component: rest.extractor\n    mode: read\n"
            f"    config: {json.dumps(config)}\n"
            "  - id: write\n    component: filesystem.parquet_writer\n    mode: write\n"
            "    needs: [read]\n    config: {path: out/items.parquet}\n"
        )
        m = measure([OSIRIS, "run", "p.yaml"], env=_base_env(), log=work / "run.log",
                    timeout=3600, cwd=work)  # fmt: skip
        if m.rc != 0:
            raise SystemExit(f"osiris run failed ({m.rc}):\n" + "\n".join(m.output_tail))
        import pyarrow.parquet as pq

        rows = pq.read_metadata(work / "out" / "items.parquet").num_rows
        assert rows == args.records, rows
        requests = len(api.requests)
    record = {"records": args.records, "page_size": args.page_size, "requests": requests,
              **m.__dict__}  # fmt: skip
    out = BENCH / "results" / f"rest_memory_{stamp}.jsonl"
    out.write_text(json.dumps(record) + "\n")
    print(
        f"{args.records:,} records in {requests} pages: {m.wall_s:.1f} s "
        f"({args.records / m.wall_s:,.0f} records/s), peak RSS of the osiris tree "
        f"{m.tree_rss_mb:.0f} MB (largest process {m.max_rss_mb:.0f} MB)\nraw record: {out}"
    )


if __name__ == "__main__":
    main()
