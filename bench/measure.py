"""Time one command and measure its memory, the same way for every tool.

Two memory figures, because they answer different questions:
* `max_rss_mb`: GNU time's "Maximum resident set size", the peak of the largest single process in
  the tree (what the peer anchors report; comparable across tools).
* `tree_rss_mb`: the peak of the summed RSS of the whole process tree (osiris = CLI + executor
  child; the raw pipe = mariadb + psql), sampled from /proc every 50 ms by walking
  /proc/<pid>/task/<tid>/children from the top process. Sampling can miss a short spike, and
  shared pages count once per process.
Neither includes the database servers.

CPU is counted three ways over the run: the tool's tree (GNU time: user + sys), the database
servers (mariadbd; the postgres processes, with the postmaster's count of its exited children so
the tool's own backend is included), and the whole machine (busy time from /proc/stat). What the
machine spent beyond tool + servers is other work running at the same time: the noise figure.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

POLL_SECONDS = 0.05
_PAGE = os.sysconf("SC_PAGE_SIZE")
_TICK = os.sysconf("SC_CLK_TCK")
_SERVERS = ("mariadbd", "mysqld", "postgres")


@dataclass
class Measurement:
    rc: int | str
    wall_s: float
    max_rss_mb: float | None
    tree_rss_mb: float
    user_cpu_s: float | None
    sys_cpu_s: float | None
    db_cpu_s: float
    machine_busy_s: float
    output_tail: list[str] = field(default_factory=list)


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        for task in os.scandir(f"/proc/{pid}/task"):
            text = Path(task.path, "children").read_text()
            kids.extend(int(x) for x in text.split())
    except OSError:
        pass
    return kids


def tree_rss_bytes(root: int) -> int:
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE
        except (OSError, ValueError, IndexError):
            continue
        todo.extend(_children(pid))
    return total


def server_cpu_s() -> float:
    """CPU seconds used so far by the database servers (see the module doc)."""
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        if name not in _SERVERS:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        # utime, stime, and for a parent its waited-for children's cutime, cstime
        total += sum(int(x) for x in fields[11:15])
    return total / _TICK


def machine_busy_s() -> float:
    values = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values) - idle) / _TICK


def _parse_time(text: str) -> tuple[float | None, float | None, float | None]:
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    user = re.search(r"User time \(seconds\): ([\d.]+)", text)
    system = re.search(r"System time \(seconds\): ([\d.]+)", text)
    return (
        int(rss.group(1)) / 1024 if rss else None,
        float(user.group(1)) if user else None,
        float(system.group(1)) if system else None,
    )


def measure(
    cmd: list[str], *, env: dict[str, str], log: Path, timeout: float, cwd: Path | None = None
) -> Measurement:
    """Run `cmd` (in `cwd`) under /usr/bin/time -v; stdout+stderr go to `log`."""
    with tempfile.NamedTemporaryFile(prefix="bench-time-", suffix=".txt", delete=False) as tf:
        time_file = tf.name
    peak = [0]
    done = threading.Event()
    with log.open("w") as out:
        db0, busy0 = server_cpu_s(), machine_busy_s()
        start = time.monotonic()
        proc = subprocess.Popen(
            ["/usr/bin/time", "-v", "-o", time_file, *cmd],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=env,
        )

        def poll() -> None:
            while not done.wait(POLL_SECONDS):
                # below /usr/bin/time itself: only the measured command's tree
                peak[0] = max(peak[0], sum(tree_rss_bytes(c) for c in _children(proc.pid)))

        watcher = threading.Thread(target=poll, daemon=True)
        watcher.start()
        try:
            rc: int | str = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            rc = "timeout"
        wall = time.monotonic() - start
        db, busy = server_cpu_s() - db0, machine_busy_s() - busy0
        done.set()
        watcher.join()
    time_text = Path(time_file).read_text(errors="replace")
    os.unlink(time_file)
    max_rss, user, system = _parse_time(time_text)
    tail = log.read_text(errors="replace").splitlines()[-15:]
    return Measurement(
        rc,
        round(wall, 3),
        max_rss,
        round(peak[0] / 2**20, 1),
        user,
        system,
        round(db, 2),
        round(busy, 2),
        tail,
    )
