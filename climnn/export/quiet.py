"""TorchScript's deprecation warnings, kept out of the user's way.

TorchScript is deprecated in the torch we use, and each ``torch.jit`` call says so. It is
still the format libtorch and FTorch load (DESIGN.md, "Exported model"), so the export
uses it on purpose; :func:`torchscript_quiet` silences exactly those warnings (their
message names a ``torch.jit`` function) around our own calls and leaves every other
warning alone.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

#: The start of the deprecation messages of torch.jit.script, trace, freeze, save, load...
TORCHSCRIPT_DEPRECATED = r"`torch\.jit\.\w+` is deprecated"


@contextlib.contextmanager
def torchscript_quiet() -> Iterator[None]:
    """Within the block, DeprecationWarning and FutureWarning about torch.jit are ignored."""
    with warnings.catch_warnings():
        for category in (DeprecationWarning, FutureWarning):
            warnings.filterwarnings("ignore", message=TORCHSCRIPT_DEPRECATED,
                                    category=category)
        yield
