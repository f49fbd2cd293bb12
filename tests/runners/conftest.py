from __future__ import annotations

import pytest

from osiris.runners.e2b import E2BRunner
from osiris.runners.local import LocalRunner


# The contract suite runs unchanged against every runner listed here.
@pytest.fixture(params=["local", "e2b"])
def runner(request):
    if request.param == "local":
        return LocalRunner()
    request.getfixturevalue("e2b_standin")
    return E2BRunner(image="osiris")
