"""Optional dependencies: the ``ml`` extra (torch) and the one message when it is missing.

The GCM and the data pipeline (``climnn run``, ``generate``, ``convert``, ``stats``, the
benches) run without torch; training batches, the network and its threads need it. Code
that needs torch gets it through :func:`import_torch`, so that a missing install ends with
one message naming the extra, which ``climnn``'s command line prints as its error.
"""

from __future__ import annotations

import importlib
from types import ModuleType

#: pip's name of the extra that installs the ML side (pyproject.toml).
ML_EXTRA = "ml"


class MissingExtraError(ImportError):
    """An optional dependency is not installed; the message says which extra installs it."""


def import_torch(needed_by: str) -> ModuleType:
    """The ``torch`` module, or MissingExtraError naming ``needed_by`` and the extra."""
    try:
        return importlib.import_module("torch")
    except ImportError as err:
        raise MissingExtraError(
            f"{needed_by} needs torch, which is not installed: install the '{ML_EXTRA}' extra "
            f"(pip install torch, then pip install -e \".[{ML_EXTRA}]\" in the repository)"
        ) from err


def lazy_attributes(package: str, homes: dict[str, str]):
    """A module ``__getattr__`` for ``package`` that imports ``package.<homes[name]>`` on
    first use of ``name``: a package's public names without importing torch at import."""

    def __getattr__(name: str):
        if name not in homes:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{homes[name]}"), name)

    return __getattr__
