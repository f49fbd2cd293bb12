"""Session directories: where a run's status, events, metrics, logs and artifacts go.

`Session` writes one (`Session.create`) and reads one (`Session.open` → `SessionInfo`);
`Masker` keeps secrets out of everything written; `bundle_session` zips a session;
`osiris.session.commands` implements `osiris logs ...`.
"""

from __future__ import annotations

from osiris.session.bundle import bundle_session
from osiris.session.info import SessionInfo
from osiris.session.masking import Masker
from osiris.session.schemas import load_schema
from osiris.session.session import Session
from osiris.session.writers import EventFilter, MaskingLineWriter

__all__ = [
    "EventFilter",
    "Masker",
    "MaskingLineWriter",
    "Session",
    "SessionInfo",
    "bundle_session",
    "load_schema",
]
