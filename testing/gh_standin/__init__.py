"""Offline stand-ins for GitHub's artifact storage: the results service (Twirp) plus Azurite.

    with azurite() as blob, ResultsStandin(blob) as service:
        upload_artifact("bundle", zip_path, environ=service.environ(), log=lines.append)
        service.find("bundle").blob_sha256

Azurite comes from npm: `npm install --no-save azurite@3` at the repository root, or point
AZURITE_BIN at an `azurite-blob` launcher.
"""

from __future__ import annotations

from testing.gh_standin.azurite import (
    INSTALL_HINT,
    AzuriteBlob,
    AzuriteNotFoundError,
    azurite,
    find_azurite,
    request,
)
from testing.gh_standin.results import Artifact, ResultsStandin, mint_runtime_token, twirp_call

__all__ = [
    "INSTALL_HINT",
    "Artifact",
    "AzuriteBlob",
    "AzuriteNotFoundError",
    "ResultsStandin",
    "azurite",
    "find_azurite",
    "mint_runtime_token",
    "request",
    "twirp_call",
]
