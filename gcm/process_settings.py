"""The settings gcm makes for the whole process, and why: the policy that lets numba,
ducc0 and torch share the cores.

Importing ``gcm`` applies them once (``apply()``, called by ``gcm/__init__``):

* ``OMP_WAIT_POLICY=PASSIVE``: OpenMP workers sleep when a parallel region ends instead
  of spinning. A step alternates hundreds of times between numba's parallel kernels, the
  FFT's own threads (ducc0) and serial Python; spinning workers steal the core from
  whichever runs next. Sleeping workers made a T42L25 moist step ~5 % faster on 2 cores
  (README, Speed). With a network in the loop torch's OpenMP workers follow the same
  policy: libgomp reads the variable when it is loaded, numba's copy and torch's alike (one
  copy when numba's threads start before torch is imported, else two: climnn.threads,
  docs/performance.md). Models with very short steps can lose by it: set
  ``OMP_WAIT_POLICY=ACTIVE`` for those. Set at import, before any parallel code loads an
  OpenMP runtime.
* glibc ``malloc``: M_MMAP_THRESHOLD 64 MB and M_TRIM_THRESHOLD 256 MB. Every transform
  returns fresh arrays of a few hundred kB; with glibc's dynamic thresholds such blocks
  are mmap-ed or trimmed from the heap top on free, so each call paid page faults on new
  memory (the vector transforms were 2-3x slower at 25 levels). Fixed thresholds keep
  freed blocks in the heap for reuse, torch's tensors included. Linux/glibc only.

A value the user set wins: ``OMP_WAIT_POLICY`` from the environment, and glibc's own
``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_`` (then gcm leaves that threshold
alone). ``GCM_PROCESS_SETTINGS=off`` applies none of them. None of this changes results.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import MutableMapping

#: Set to "off" (or "0", "no", "false") to leave the process as it is.
OPT_OUT = "GCM_PROCESS_SETTINGS"
WAIT_POLICY = "PASSIVE"
# glibc mallopt parameter numbers (malloc.h), their environment twins and gcm's values
_MALLOC_THRESHOLDS = (
    ("M_MMAP_THRESHOLD", -3, "MALLOC_MMAP_THRESHOLD_", 64 << 20),
    ("M_TRIM_THRESHOLD", -1, "MALLOC_TRIM_THRESHOLD_", 256 << 20),
)

#: What the first ``apply()`` did: {setting: value} for each setting gcm made.
applied: dict[str, str | int] | None = None


def opted_out(environ: MutableMapping[str, str] = os.environ) -> bool:
    """Whether the user asked gcm to leave the process settings alone."""
    return environ.get(OPT_OUT, "").strip().lower() in ("off", "0", "no", "false")


def apply() -> dict[str, str | int]:
    """Apply the policy once per process; later calls return what the first one did."""
    global applied
    if applied is None:
        applied = {} if opted_out() else {**_wait_policy(os.environ), **_malloc_thresholds()}
    return applied


def _wait_policy(environ: MutableMapping[str, str]) -> dict[str, str]:
    if "OMP_WAIT_POLICY" in environ:
        return {}
    environ["OMP_WAIT_POLICY"] = WAIT_POLICY
    return {"OMP_WAIT_POLICY": WAIT_POLICY}


def _malloc_thresholds() -> dict[str, int]:
    if not sys.platform.startswith("linux"):
        return {}
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (e.g. musl): nothing to tune
        return {}
    done = {}
    for name, parameter, variable, value in _MALLOC_THRESHOLDS:
        if variable not in os.environ and mallopt(parameter, value) == 1:
            done[name] = value
    return done
