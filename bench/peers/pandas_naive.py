"""Naive pandas peer: read_sql of the whole (limited) table, then to_sql in multi-row INSERTs.

    pandas_naive.py --my mysql+pymysql://... --pg postgresql+psycopg2://... \
                    --source events --target events_pandas --limit 100000
"""

from __future__ import annotations

import argparse

import pandas as pd
from sqlalchemy import create_engine


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--my", required=True)
    ap.add_argument("--pg", required=True)
    ap.add_argument("--source", default="events")
    ap.add_argument("--target", default="events_pandas")
    ap.add_argument("--limit", type=int, default=0, help="only rows with id <= LIMIT")
    a = ap.parse_args()
    sql = f"SELECT * FROM {a.source}" + (f" WHERE id <= {a.limit}" if a.limit else "")
    frame = pd.read_sql(sql, create_engine(a.my))
    frame.to_sql(
        a.target, create_engine(a.pg), if_exists="replace", index=False, method="multi",
        chunksize=1000,
    )  # fmt: skip
    print(f"pandas: {len(frame)} rows into {a.target}")


if __name__ == "__main__":
    main()
