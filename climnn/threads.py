"""torch's threads beside the model's: one pool of workers for numba and torch.

The coupler calls :func:`match_torch_threads` once, before anything imports torch (or at
least before the network's first forward pass). torch's operators then use as many
threads as numba's kernels (intra-op) and run one operator at a time (inter-op 1): the
model and the network take turns on the same cores, never both at once.

Which OpenMP runtime torch uses depends on what loaded first: when numba's threads have
started before torch is imported, torch's operators run on numba's libgomp (one pool of
workers, one ``OMP_WAIT_POLICY`` from ``gcm.process_settings``); imported first, torch
loads its own copy, and two pools of workers take turns on the cores (docs/performance.md,
thread sharing). :func:`match_torch_threads` starts numba's threads before it imports torch.
"""

from __future__ import annotations

import contextlib

from climnn.extras import import_torch


def match_torch_threads(threads: int | None = None) -> tuple[int, int]:
    """Set torch's intra-op threads to ``threads`` (default: numba's current count) and its
    inter-op threads to 1; return torch's (intra-op, inter-op) counts afterwards.

    torch accepts the inter-op count only before its first inter-op parallel work: called
    later with a count other than 1 in use, it raises RuntimeError saying so.
    """
    import numba

    # starts numba's OpenMP runtime before torch loads: torch then uses it (one runtime)
    numba_threads = numba.get_num_threads()
    torch = import_torch("climnn.threads (the network's threads)")
    threads = numba_threads if threads is None else threads
    if threads < 1:
        raise ValueError(f"match_torch_threads: threads must be >= 1, got {threads}")
    torch.set_num_threads(threads)
    if torch.get_num_interop_threads() != 1:
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError as err:
            raise RuntimeError(
                "match_torch_threads: torch's inter-op threads were already in use "
                f"({torch.get_num_interop_threads()}); call it before the network's first "
                "forward pass") from err
    return torch.get_num_threads(), torch.get_num_interop_threads()


@contextlib.contextmanager
def torch_threads(threads: int):
    """torch's intra-op threads set to ``threads`` inside the block, restored after: for
    a job whose network is so small that more threads only cost (the toy systems)."""
    torch = import_torch("climnn.threads (the network's threads)")
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)
