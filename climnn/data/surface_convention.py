"""Targets of an "included" store in the "excluded" surface-flux convention.

In an "included" store (teacher and SP runs) TPHYSTND and PHQ hold the surface fluxes'
heating and moistening of the lowest level, as the host's bulk scheme applies them:
g SHF / (cp dp) and g LHF / (Lv dp), dp the lowest layer's thickness
(gcm.physics.surface_fluxes). A network trained with ``data.surface_flux_convention:
excluded`` learns the tendencies without them; the host then adds its own bulk fluxes'
share (climnn.coupler.network_scheme), so that the evaporation and heat a chilled or dried
boundary layer draws from the sea reach it whatever the network does with them (the SP
networks that had to learn this from the SHFLX, LHFLX inputs let polar boundary layers
cool and dry away: README, "A network trained on SP data"). The column budgets then hold
in ClimSim's convention: no surface terms.
"""

from __future__ import annotations

import numpy as np

from climnn.data.schema import DatasetError
from gcm.constants import CP, GRAVITY, LV

CONVENTIONS = ("included", "excluded")
#: What the conversion reads besides the two profiles.
NEEDED = ("SHF", "LHF", "PS")


def training_convention(requested: str | None, stored: str, where) -> str:
    """The convention a training's targets are in: the store's (``requested`` None or
    "store"), or "excluded" asked of an "included" store (converted); DatasetError naming
    ``where`` for "included" asked of an "excluded" store (the fluxes' share is not known
    there)."""
    if requested in (None, "store") or requested == stored:
        return stored
    if requested == "excluded" and stored == "included":
        return "excluded"
    raise DatasetError(f"{where}: data.surface_flux_convention {requested!r} asked of a store "
                       f"whose convention is {stored!r}: only an 'included' store's targets "
                       f"can be given in the 'excluded' convention")


def converts(requested: str | None, stored: str) -> bool:
    """Whether targets of a store of convention ``stored`` are converted."""
    return requested == "excluded" and stored == "included"


def store_interfaces(group) -> dict:
    """hyai, hybi (nlev + 1,) and p0 (Pa) of an open zarr store group: the keyword
    arguments of :func:`exclude_surface_fluxes` besides the data."""
    return {"hyai": np.asarray(group["hyai"][:], dtype=np.float64),
            "hybi": np.asarray(group["hybi"][:], dtype=np.float64),
            "p0": float(np.asarray(group["P0"][()]))}


def exclude_surface_fluxes(heating: np.ndarray, moistening: np.ndarray, shf: np.ndarray,
                           lhf: np.ndarray, ps: np.ndarray, hyai: np.ndarray,
                           hybi: np.ndarray, p0: float) -> None:
    """Take the surface fluxes' share out of the lowest level, in place.

    heating (..., nlev) K s-1 and moistening (..., nlev) kg kg-1 s-1 (TPHYSTND, PHQ, index
    -1 the lowest level); shf, lhf (...) W m-2 and ps (...) Pa of the same samples; hyai,
    hybi (nlev + 1,) and p0 (Pa): the store's interfaces.
    """
    dp = (hyai[-1] - hyai[-2]) * p0 + (hybi[-1] - hybi[-2]) * np.asarray(ps, dtype=np.float64)
    heating[..., -1] -= GRAVITY * shf / (CP * dp)
    moistening[..., -1] -= GRAVITY * lhf / (LV * dp)
