"""The official OCPI example payloads, read from the shared folder beside the repository.

They come from the public specification repository and are not committed here. CI runs with
`shared/` beside the clone; elsewhere set OCPI_EXAMPLES_DIR to the examples folder (the one holding `2.1.1/`,
`2.2.1/`, `2.3.0/`; one version's folder works too), or the tests that need them skip.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
VERSIONS = ("2.1.1", "2.2.1", "2.3.0")


def _examples_root() -> Path:
    configured = os.environ.get("OCPI_EXAMPLES_DIR")
    if not configured:
        return ROOT.parent / "shared" / "ocpi" / "examples"
    path = Path(configured)
    # Pointed at one version's folder (…/examples/2.2.1): every version's examples are beside it. Read as the
    # root, that setting made 68 tests fail.
    return path.parent if path.name in VERSIONS else path


EXAMPLES_ROOT = _examples_root()


def examples_dir(version: str = "2.2.1") -> Path:
    """The folder of one OCPI version's official examples."""
    return EXAMPLES_ROOT / version


EXAMPLES_DIR = examples_dir("2.2.1")


def example(name: str, version: str = "2.2.1") -> Any:
    """An official OCPI example payload, e.g. example("locations/location_example.json")."""
    path = examples_dir(version) / name
    if not path.is_file():
        pytest.skip(f"OCPI {version} example {name} not found under {EXAMPLES_ROOT} (set OCPI_EXAMPLES_DIR)")
    return json.loads(path.read_text())
