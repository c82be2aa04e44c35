"""Importing this module registers every dataset card (each loader module registers its own)."""
from corelib.data import packaged, remote  # noqa: F401
