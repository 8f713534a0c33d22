"""Where the shipped contract files live, installed or in a checkout."""

from __future__ import annotations

from pathlib import Path

__all__ = ["spec_dir"]


def spec_dir() -> Path:
    """The folder with the shipped spec, overlays and profiles.

    A wheel carries them as ``conformance/_spec`` (hatch ``force-include``); an editable install
    or a checkout reads the repository's top-level ``spec/``.
    """
    here = Path(__file__).resolve().parent
    bundled = here / "_spec"
    if bundled.is_dir():
        return bundled
    return here.parent / "spec"
