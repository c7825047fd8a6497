"""The one home of ``testvectors/`` for the tests: the folder, and a worked example read from its JSON file.

A module rather than a fixture: most users read their vectors at import time (module constants, parametrize lists).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TESTVECTORS = Path(__file__).resolve().parents[1] / "testvectors"


def vector_json(name: str) -> dict[str, Any]:
    """The worked example ``testvectors/NAME`` (a JSON object naming its source)."""
    data = json.loads((TESTVECTORS / name).read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{name}: expected a JSON object"
    return data
