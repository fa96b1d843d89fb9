"""The architecture-constrained network (Beucler et al. 2021, PRL): budgets closed by design.

A seed MLP predicts every normalized output but two; those two are then computed from the
column budgets of ``data/README.md`` (DESIGN.md), so that the outputs close both to the
round-off of their float32 values, whatever the weights:

    water:   PRECT = LHF / Lv - sum_k PHQ_k dp_k / g
    energy:  TPHYSTND at the lowest level = [(FSNT - FSNS) - (FLNT - FLNS) + SHF + LHF
             - sum_k Lv PHQ_k dp_k / g - sum_{k < K} cp TPHYSTND_k dp_k / g] g / (cp dp_K)

dp_k = (hyai_{k+1} - hyai_k) P0 + (hybi_{k+1} - hybi_k) PS with PS taken from the inputs.
Stores of the "excluded" convention (ClimSim) drop SHF + LHF and LHF / Lv. The budgets are
computed in float64 by ``climnn.models.budgets``, the one place they are written.
"""

from __future__ import annotations

from climnn.extras import import_torch
from climnn.models.budgets import (
    boundary_energy,
    column_integral,
    evaporation,
    layer_thickness,
    require_budget_terms,
    surface_pressure_decoding,
    thickness_coefficients,
)
from climnn.models.seed_mlp import SeedMLP
from gcm.constants import CP, GRAVITY, LV

torch = import_torch("climnn.models (the networks)")


class BudgetConstrainedMLP(torch.nn.Module):
    """forward: normalized inputs (batch, n_in) float32 -> normalized outputs (batch, n_out)
    float32 whose PRECT and lowest-level TPHYSTND close the water and energy budgets.

    input_layout, output_layout : climnn.data.loader.VectorLayout of the vectors
    geometry : :func:`column_geometry` of the store
    """

    def __init__(self, input_layout, output_layout, geometry: dict, hidden_layers: int = 9,
                 width: int = 256, activation: str = "leaky_relu", slope: float = 0.3):
        super().__init__()
        included = geometry["convention"] == "included"
        needed = require_budget_terms(input_layout, output_layout, geometry["convention"],
                                      "model.kind 'constrained'")
        out = output_layout.slices
        self.slices = {n: (out[n].start, out[n].stop) for n in needed}
        self.included = included
        self.ps_index, self.ps_shift, self.ps_factor = surface_pressure_decoding(input_layout)
        computed = [out["PRECT"].start, out["TPHYSTND"].stop - 1]
        free = [i for i in range(output_layout.size) if i not in computed]
        self.register_buffer("free", torch.tensor(free))
        self.register_buffer("computed", torch.tensor(computed))
        self.register_buffer("factor", torch.tensor(output_layout.factor, dtype=torch.float64))
        dhyai, dhybi = thickness_coefficients(geometry)
        self.register_buffer("dhyai", torch.tensor(dhyai))
        self.register_buffer("dhybi", torch.tensor(dhybi))
        self.net = SeedMLP(input_layout.size, len(free), hidden_layers, width, activation,
                           slope)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        y = x.new_zeros((n, self.factor.numel()), dtype=torch.float64)
        y = y.index_copy(1, self.free, self.net(x).double())
        phys = y / self.factor
        fields = {name: phys[:, start:stop] for name, (start, stop) in self.slices.items()}
        ps = x[:, self.ps_index].double() / self.ps_factor + self.ps_shift
        dp = layer_thickness(ps, self.dhyai, self.dhybi)  # (batch, nlev), Pa
        water = column_integral(fields["PHQ"], dp)  # kg m-2 s-1
        energy = boundary_energy(fields, self.included)  # W m-2
        above = column_integral(CP * fields["TPHYSTND"][:, :-1], dp[:, :-1])  # W m-2
        bottom = (energy - LV * water - above) * GRAVITY / (CP * dp[:, -1])
        precipitation = evaporation(fields, self.included, water) - water
        values = torch.stack([precipitation, bottom], 1) * self.factor[self.computed]
        return y.index_copy(1, self.computed, values).float()
