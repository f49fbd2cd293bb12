from __future__ import annotations

import e2b

from osiris import __version__
from osiris.runners.e2b_template import build_wheel, template_definition
from testing.runner_helpers import osiris_cli


def test_template_installs_exactly_this_wheel(tmp_path):
    wheel = build_wheel(tmp_path)
    assert wheel.name == f"osiris_run-{__version__}-py3-none-any.whl"
    dockerfile = e2b.Template.to_dockerfile(template_definition(wheel))
    assert dockerfile.splitlines() == [
        "FROM python:3.11",
        f"COPY {wheel.name} /opt/osiris-wheel/{wheel.name}",
        f"RUN pip install --no-cache-dir '/opt/osiris-wheel/{wheel.name}[db]'",
        "RUN python3 -m osiris --version",
    ]


def test_template_build_failure_is_exit_4_without_traceback(tmp_path):
    wheel = build_wheel(tmp_path)
    env = {"E2B_API_KEY": "k", "E2B_API_URL": "http://127.0.0.1:9", "E2B_DOMAIN": "localhost"}
    proc = osiris_cli(
        "e2b", "template", "build", "--name", "t1", "--wheel", str(wheel), cwd=tmp_path, env=env
    )
    assert proc.returncode == 4
    assert proc.stderr.startswith("error: lost the connection to E2B while building template 't1'")
    assert "Traceback" not in proc.stderr
