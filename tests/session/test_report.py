"""report.html: written with every session, self-contained, drawn by a real browser.

Runs are real `osiris run` subprocesses; the page is loaded in headless Chromium (Debian's
package), whose DOM after the page's script ran is what the assertions read. Screenshots go to
$OSIRIS_REPORT_SHOTS when set (for a look in review), else into the test's tmp directory.
"""

from __future__ import annotations

import html.parser
import json
import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from testing.runner_helpers import osiris_cli, write_pipeline

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_browser = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium (Debian package `chromium`) is not installed"
)

ORDERS = "id,customer,amount\n1,ann,10.5\n2,bob,3.25\n3,ann,7\n"

GOOD = """
oml_version: "0.1.0"
name: report-good
steps:
  - id: read-orders
    component: filesystem.csv_extractor
    mode: read
    config: {path: orders.csv}
  - id: per.customer
    component: duckdb.processor
    mode: transform
    needs: [read-orders]
    config:
      query: "select customer, sum(amount) as total from input_df group by 1 order by 1"
  - id: write_totals
    component: filesystem.csv_writer
    mode: write
    needs: [per.customer]
    config: {path: out/totals.csv}
  - id: write_copy
    component: filesystem.parquet_writer
    mode: write
    needs: [read-orders]
    config: {path: out/orders.parquet}
"""

# the transform names a column that is not there: a step failure with the engine's message
BAD = GOOD.replace("sum(amount)", "sum(no_such_column)").replace("report-good", "report-bad")


class _Dom(html.parser.HTMLParser):
    """The parts of the rendered DOM the tests look at."""

    def __init__(self) -> None:
        super().__init__()
        self.body: dict[str, str | None] = {}
        self.stack: list[tuple[str, dict[str, str | None]]] = []
        self.graph_texts: list[str] = []
        self.timeline_steps: list[str] = []
        self.errors: list[str] = []
        self.network: list[str] = []
        self._in: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "body":
            self.body = a
        for key in ("src", "href"):
            if a.get(key) and re.match(r"(?i)(https?:)?//", a[key] or ""):
                self.network.append(a[key] or "")
        if tag == "div" and a.get("id") in ("graph", "timeline", "error-list"):
            self._in.append(a["id"] or "")
        elif self._in:
            self._in.append("")
        if self._in and self._in[0] == "timeline" and tag == "g" and a.get("data-step"):
            self.timeline_steps.append(a["data-step"] or "")
        self.stack.append((tag, a))

    def handle_endtag(self, tag: str) -> None:
        if self.stack:
            self.stack.pop()
        if self._in:
            self._in.pop()

    def handle_data(self, data: str) -> None:
        if not self._in or not self.stack:
            return
        tag = self.stack[-1][0]
        if self._in[0] == "graph" and tag == "text":
            self.graph_texts.append(data)
        elif self._in[0] == "error-list":
            self.errors.append(data)


def render(page: Path, shot: Path) -> _Dom:
    """Load `page` in headless Chromium; the DOM after its script ran, and a screenshot."""
    base = [CHROMIUM or "chromium", "--headless", "--no-sandbox", "--disable-gpu"]
    base += ["--no-first-run", f"--user-data-dir={shot.parent / 'chromium-profile'}"]
    url = page.resolve().as_uri()
    dumped = subprocess.run(
        [*base, "--dump-dom", url], capture_output=True, text=True, timeout=120, check=True
    )
    subprocess.run(
        [*base, "--hide-scrollbars", "--window-size=1280,1400", f"--screenshot={shot}", url],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert shot.stat().st_size > 10_000, "the screenshot is empty"
    dom = _Dom()
    dom.feed(dumped.stdout)
    return dom


def run(tmp_path: Path, text: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    (tmp_path / "orders.csv").write_text(ORDERS, encoding="utf-8")
    write_pipeline(tmp_path, text)
    done = osiris_cli("run", "pipeline.yaml", cwd=tmp_path)
    sessions = [p for p in (tmp_path / "logs").iterdir() if p.is_dir()]
    assert len(sessions) == 1, done.stderr
    return done, sessions[0]


def shots_dir(tmp_path: Path) -> Path:
    target = Path(os.environ.get("OSIRIS_REPORT_SHOTS") or tmp_path / "shots")
    target.mkdir(parents=True, exist_ok=True)
    return target


def manifest_steps(session: Path) -> list[str]:
    manifest = json.loads((session / "artifacts" / "manifest.json").read_text("utf-8"))
    return [s["id"] for s in manifest["steps"]]


def test_every_session_has_a_self_contained_report_in_its_bundle(tmp_path):
    done, session = run(tmp_path, BAD)
    assert done.returncode == 1, done.stderr
    page = session / "report.html"
    text = page.read_text("utf-8")
    # nothing to fetch: no external script, style, image or font
    assert not re.search(r"""(?i)(src|href)\s*=\s*["']?(https?:)?//""", text)
    assert not re.search(r"(?i)@import|url\(\s*['\"]?(https?:)?//", text)
    assert "default-src 'none'" in text
    # the data in the page is the session's own
    blob = text.split('type="application/json">', 1)[1].split("</script>", 1)[0]
    data = json.loads(blob)
    assert data["session"]["id"] == session.name and data["session"]["status"] == "failed"
    assert [n["id"] for n in data["graph"]["nodes"]] == manifest_steps(session)
    # a failed run bundles its session: the report goes with it
    bundle = session.parent / f"{session.name}.zip"
    with zipfile.ZipFile(bundle) as zf:
        assert zf.read(f"{session.name}/report.html").decode() == text


@needs_browser
def test_a_successful_run_draws_every_step_and_its_timeline(tmp_path):
    done, session = run(tmp_path, GOOD)
    assert done.returncode == 0, done.stderr
    dom = render(session / "report.html", shots_dir(tmp_path) / "report-succeeded.png")
    assert dom.body.get("data-rendered") == "ok", dom.body
    assert "data-script-errors" not in dom.body
    assert not dom.network
    steps = manifest_steps(session)
    assert set(steps) <= set(dom.graph_texts), dom.graph_texts
    assert sorted(dom.timeline_steps) == sorted(steps)
    assert dom.errors == []
    recorded = json.loads((session / "session.json").read_text("utf-8"))["steps"]
    assert all(s["status"] == "succeeded" for s in recorded.values())


@needs_browser
def test_a_failed_run_shows_the_failing_step_its_error_and_hint(tmp_path):
    done, session = run(tmp_path, BAD)
    assert done.returncode == 1
    dom = render(session / "report.html", shots_dir(tmp_path) / "report-failed.png")
    assert dom.body.get("data-rendered") == "ok", dom.body
    assert "data-script-errors" not in dom.body
    assert set(manifest_steps(session)) <= set(dom.graph_texts)
    shown = " ".join(dom.errors)
    error = json.loads((session / "session.json").read_text("utf-8"))["error"]
    assert "per.customer" in shown and error["code"] in shown
    assert "no_such_column" in shown
    if error.get("hint"):
        assert error["hint"] in shown
    # the writers behind the failed transform never ran, and the timeline says which did
    assert "per.customer" in dom.timeline_steps


def test_logs_html_rewrites_the_report_of_a_session(tmp_path):
    done, session = run(tmp_path, GOOD)
    assert done.returncode == 0, done.stderr
    page = session / "report.html"
    first = page.read_text("utf-8")
    page.unlink()
    again = osiris_cli("logs", "html", "--session", session.name, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip().endswith(f"{session.name}/report.html")
    assert page.read_text("utf-8") == first
    missing = osiris_cli("logs", "html", "run_nope", cwd=tmp_path)
    assert missing.returncode == 2 and "no session 'run_nope'" in missing.stderr
    assert "Traceback" not in missing.stderr
