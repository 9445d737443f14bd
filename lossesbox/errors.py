"""Exceptions shared by the command line and the modules it drives (no imports above it)."""

from __future__ import annotations

__all__ = ["UsageError"]


class UsageError(Exception):
    """A bad command-line value found after parsing; printed as one line, exit 2."""
