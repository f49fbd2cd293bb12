from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path


def run(ctx):
    import pyarrow as pa

    cfg = ctx.config
    if cfg.get("report_cpus"):
        for task in sorted(Path("/proc/self/task").iterdir()):
            print(f"thread {task.name} cpus {sorted(os.sched_getaffinity(int(task.name)))}")
    if cfg.get("spawn_child"):
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        print(f"grandchild pid {child.pid}", flush=True)
    end = time.monotonic() + cfg["seconds"]
    beat = cfg.get("heartbeat")
    while time.monotonic() < end:
        time.sleep(min(beat or 0.1, max(0.0, end - time.monotonic())))
        if beat:
            print("heartbeat", flush=True)
    return pa.table({"slept": [cfg["seconds"]]}).to_reader()
