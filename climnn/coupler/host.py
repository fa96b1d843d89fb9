"""What a host model declares it provides, and the check of a model's metadata against it.

The first difference found is the one named, in this order: each input variable of the
model in vector order (the host lacks it, then its units), then each field the coupler's
budgets take from the host (``Coupler.host_fields``: the surface pressure PS for the layer
thicknesses, the surface fluxes SHF and LHF when the model does not give them, Q to
enforce), the number of levels, the hybrid coefficients hyai then hybi, P0, the schema
version.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from climnn.coupler.errors import CouplerError
from climnn.data.schema import VARIABLES

#: hyai, hybi, P0 agree when within this relative difference (a JSON round trip of float64
#: is exact; a host computing its coefficients in float32 is not).
COEFFICIENT_TOLERANCE = 1e-6


@dataclass(frozen=True)
class HostDescription:
    """A host's column layout.

    variables : schema name -> units of each field the host provides (data/README.md,
        gcm/variables.py), e.g. {"T": "K", "Q": "kg kg-1", "PS": "Pa", ...}
    hyai, hybi : (nlev + 1,) hybrid coefficients of the interfaces, index 0 = model top;
        interface pressure = hyai P0 + hybi PS (Pa)
    p0 : reference pressure P0 (Pa)
    schema_version : the column schema's version the host's names and units follow
    """

    variables: Mapping[str, str]
    hyai: np.ndarray
    hybi: np.ndarray
    p0: float = 100000.0
    schema_version: int = 1
    levels: int = field(init=False)

    def __post_init__(self):
        hyai = np.asarray(self.hyai, dtype=np.float64)
        hybi = np.asarray(self.hybi, dtype=np.float64)
        if hyai.ndim != 1 or hyai.shape != hybi.shape or hyai.size < 2:
            raise CouplerError(f"HostDescription: hyai {hyai.shape} and hybi {hybi.shape} "
                               f"must be the same (nlev + 1,) interface coefficients")
        object.__setattr__(self, "hyai", hyai)
        object.__setattr__(self, "hybi", hybi)
        object.__setattr__(self, "variables", dict(self.variables))
        object.__setattr__(self, "levels", hyai.size - 1)


def check_model_against_host(meta: dict, host: HostDescription, path,
                             host_fields: Iterable[str] = ()) -> None:
    """Raise CouplerError naming ``path`` and the first difference between an exported
    model's metadata (``climnn.export.read_metadata``) and ``host`` (order: module
    docstring). ``host_fields``: schema names the budgets take from the host besides the
    model's inputs (PS, SHF, LHF, Q)."""
    needed = [(v["name"], v["units"]) for v in meta["inputs"]]
    needed += [(name, VARIABLES[name].units) for name in host_fields]
    for name, units in needed:
        if name not in host.variables:
            raise CouplerError(f"{path}: the model needs {name} ({units}), which the host "
                               f"does not provide (it provides {sorted(host.variables)})")
        if host.variables[name] != units:
            raise CouplerError(f"{path}: {name} is in {units!r} for the model but in "
                               f"{host.variables[name]!r} for the host")
    vertical = meta["vertical"]
    model_levels = len(vertical["hyai"]) - 1
    if model_levels != host.levels:
        raise CouplerError(f"{path}: the model has {model_levels} levels, the host "
                           f"{host.levels}")
    for name, model_value, host_value in (("hyai", vertical["hyai"], host.hyai),
                                          ("hybi", vertical["hybi"], host.hybi),
                                          ("P0", vertical["P0"], host.p0)):
        _check_close(path, name, np.asarray(model_value, dtype=np.float64),
                     np.asarray(host_value, dtype=np.float64))
    version = meta.get("data", {}).get("schema_version")
    if version != host.schema_version:
        raise CouplerError(f"{path}: the model's data follow schema version {version!r}, "
                           f"the host version {host.schema_version!r}")


def _check_close(path, name: str, model: np.ndarray, host: np.ndarray) -> None:
    scale = max(float(np.abs(model).max()), float(np.abs(host).max()), np.finfo(float).tiny)
    differs = np.abs(model - host) > COEFFICIENT_TOLERANCE * scale
    if np.any(differs):
        k = int(np.flatnonzero(np.atleast_1d(differs))[0])
        model_k, host_k = np.atleast_1d(model)[k], np.atleast_1d(host)[k]
        where = f"[{k}]" if model.ndim else ""
        raise CouplerError(f"{path}: {name}{where} is {model_k!r} for the model but "
                           f"{host_k!r} for the host")
