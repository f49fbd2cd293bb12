"""One function per CLI command; each takes plain values and returns an exit code."""

from __future__ import annotations

from osiris.commands.components import components_list, components_show
from osiris.commands.config import config_show
from osiris.commands.connections import connections_doctor, connections_list
from osiris.commands.e2b import e2b_template_build
from osiris.commands.logs import logs
from osiris.commands.pipeline import compile_one, validate
from osiris.commands.run import run

__all__ = [
    "compile_one",
    "components_list",
    "components_show",
    "config_show",
    "connections_doctor",
    "connections_list",
    "e2b_template_build",
    "logs",
    "run",
    "validate",
]
