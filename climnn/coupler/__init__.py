"""The coupler (issue 13, DESIGN.md "Layers"): an exported network as a host model's column
physics, with the column budgets kept. Host-agnostic: nothing here knows the GCM.

    host = HostDescription(variables={"T": "K", "Q": "kg kg-1", ...}, hyai=..., hybi=...,
                           p0=100000.0, schema_version=1)
    coupler = Coupler("model.pt", host, conservation="diagnose", bounds={"T": (150, 350)})
    result = coupler.step(columns, dt, area=area, lat=lat, lon=lon)
    result.outputs["TPHYSTND"], result.report.summaries["energy_residual"], result.timing

- :class:`Coupler` loads the exported model (``.pt`` TorchScript or ``.pt2`` program),
  checks its metadata against the :class:`HostDescription`, and runs one batch of columns
  a step: inputs assembled once, one forward pass, outputs split by name, budgets
  diagnosed or enforced, guards.
- :class:`CouplerResult`: the outputs (float64, SI), the :class:`BudgetReport`, the timing.
- :class:`CouplerError`: any refusal (a mismatched or corrupted model, a missing column
  array); :class:`GuardError`, its subclass, a non-finite or out-of-bounds value (the host
  catches it to write a restart).

The names are imported on first use, so that importing the package does not load torch.
"""

from climnn.extras import lazy_attributes

_HOMES = {"Coupler": "coupler", "CouplerResult": "coupler", "HostDescription": "host",
          "BudgetReport": "report", "Summary": "report", "CouplerError": "errors",
          "GuardError": "errors", "CONSERVATION_MODES": "coupler"}

__all__ = sorted(_HOMES)

__getattr__ = lazy_attributes(__name__, _HOMES)
