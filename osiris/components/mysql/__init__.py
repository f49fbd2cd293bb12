"""MySQL and MariaDB components: `mysql.extractor` and `mysql.writer`.

Both need the `db` extra (PyMySQL for control and writes, connectorx for fast reads), imported
only when a step runs.
"""

from __future__ import annotations

__all__: list[str] = []
