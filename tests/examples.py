"""The official OCPI example payloads, read from the shared folder beside the repository.

They come from the public specification repository and are not committed here. CI runs with
`shared/` beside the clone; elsewhere set OCPI_EXAMPLES_DIR, or the tests that need them skip.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES_DIR = Path(os.environ.get("OCPI_EXAMPLES_DIR", ROOT.parent / "shared" / "ocpi" / "examples" / "2.2.1"))


def example(name: str) -> Any:
    """An official OCPI 2.2.1 example payload, e.g. example("locations/location_example.json")."""
    path = EXAMPLES_DIR / name
    if not path.is_file():
        pytest.skip(f"OCPI examples not found at {EXAMPLES_DIR} (set OCPI_EXAMPLES_DIR)")
    return json.loads(path.read_text())
