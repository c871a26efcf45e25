"""Text that people or devices send: one line, no control characters.

PostgreSQL refuses NUL in text columns (a 500 if it gets that far) and no name, gate or
id is meant to hold a line break or a terminal escape, so every free-text field the hub
accepts is checked against ``LINE`` at the edge, where the sender gets a 422 naming it.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

LINE_PATTERN = r"^[^\x00-\x1f\x7f]*$"
Line = Annotated[str, StringConstraints(pattern=LINE_PATTERN)]
