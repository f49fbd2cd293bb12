from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from osiris.config import LoadedConfig


def config_show(loaded: LoadedConfig, *, as_json: bool) -> int:
    if as_json:
        print(json.dumps(loaded.to_dict(), indent=2, sort_keys=True))
    else:
        print(loaded.show())
    return 0
