"""The prognostic state of the spectral model at one time level."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np


@dataclass
class SpectralState:
    """Spectral coefficients, complex128, (nlev, T+1, T+1) unless noted; see
    gcm.spherical_harmonics for the layout."""

    vorticity: np.ndarray  # relative vorticity, s-1
    divergence: np.ndarray  # s-1
    temperature: np.ndarray  # deviation from the reference profile T_ref, K
    log_surface_pressure: np.ndarray  # (T+1, T+1) ln(ps / 1 Pa)
    humidity: np.ndarray  # specific humidity, kg kg-1

    def copy(self) -> SpectralState:
        return SpectralState(**{f.name: getattr(self, f.name).copy() for f in fields(self)})

    def arrays(self) -> dict[str, np.ndarray]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> SpectralState:
        missing = [f.name for f in fields(cls) if f.name not in arrays]
        if missing:
            raise ValueError(f"state is missing {missing}")
        return cls(**{f.name: np.array(arrays[f.name], dtype=np.complex128) for f in fields(cls)})

    def first_nonfinite(self) -> str | None:
        """Name of the first field holding NaN or inf, else None."""
        for f in fields(self):
            if not np.isfinite(getattr(self, f.name)).all():
                return f.name
        return None
