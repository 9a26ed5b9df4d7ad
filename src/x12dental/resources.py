"""Locate the data folders (`maps/`, `rules/`) that ship with x12dental.

They live at the top of the repository so that people can read and edit them,
and a wheel carries them inside the package as `x12dental/_data/...`. Both
layouts must work: an installed wheel run from `/`, and an editable checkout.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """Return the folder `name` ("maps" or "rules"), installed or from the checkout."""
    installed = _PACKAGE_DIR / "_data" / name
    if installed.is_dir():
        return installed
    checkout = _PACKAGE_DIR.parent.parent / name
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(
        f"x12dental data folder {name!r} not found (looked in {installed} and {checkout}); "
        "reinstall the package"
    )
