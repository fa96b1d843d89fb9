"""A penalty on the network amplifying grid-scale vertical structure (``loss.zigzag_weight``).

A network in the loop sees the temperature and humidity profiles its own tendencies made.
If it heats a level warmer than its neighbours (or moistens one moister than them), that
2-Δσ bump grows every step: nothing in a column model's training says how it should respond
to structure the teacher's states never had. Measured on the SP hybrids' networks (README,
"A network trained on SP data"): a 0.5 K bump at σ 0.82-0.90 grows by +0.07 to +0.25 per
day under one step's heating in the median mid-latitude and polar column (e-folding in 4-15
days), and those runs grew such a zig-zag there (polar σ 0.82, 0.86, 0.90 at 246, 285,
267 K on day 120 of one), where turbulence and radiation damp it in the teacher. Trained
with the penalty those networks damp such bumps, but their runs still drift (README: the
drift comes from the states the runs reach, where the penalty measured on the training
columns says nothing); the penalty and its diagnostic stay as tools.

The penalty perturbs a quarter of each training batch at one level k a column, drawn at
random among the levels the network sees: T by ``a s b_k`` and, separately, q by
``f s b_k q``, where ``b_k = e_k - (e_{k-1} + e_{k+1}) / 2`` (the level against the mean of
its neighbours, zero where the network does not see), ``s = ±1`` at random,
``a = zigzag_temperature`` (K) and ``f = zigzag_humidity`` (a fraction of q; 0: T's
bumps alone, and then the network needs neither Q nor PHQ). The growth
rate of each perturbation under the network's one-step response is

    g_T = sum_j dTPHYSTND_j dT_j / sum_j dT_j^2        g_q = sum_j dPHQ_j dq_j / sum_j dq_j^2

(1/s, from the differences of the physical outputs), and the penalty is
``zigzag_weight x (mean relu(g_T) + mean relu(g_q))`` in 1/day: damping (g < 0) is free,
growth costs. The perturbed columns go through the network in the same call as the batch,
so a batch costs 1.5 forward and backward passes.
"""

from __future__ import annotations

import numpy as np

from climnn.extras import import_torch

torch = import_torch("climnn.training (training)")

SECONDS_PER_DAY = 86400.0
#: share of a batch whose columns are perturbed (once in T, once in q)
PERTURBED_SHARE = 4
PAIRS = (("T", "TPHYSTND"), ("Q", "PHQ"))  # (perturbed input, the output that responds)


class ZigzagPenalty(torch.nn.Module):
    """``penalty(model, z)`` -> (the model's prediction for the batch ``z``, the penalty).

    z : (batch, n_in) normalized inputs; the prediction (batch, n_out) normalized, the
    penalty a scalar in 1/day x weight (module docstring)."""

    def __init__(self, input_layout, output_layout, weight: float, temperature: float,
                 humidity: float):
        super().__init__()
        self.pairs = PAIRS if humidity > 0 else PAIRS[:1]  # humidity 0: T's bumps only
        missing = [n for pair in self.pairs
                   for n, layout in zip(pair, (input_layout, output_layout), strict=True)
                   if n not in layout.slices]
        if missing:
            needed = [n for names in zip(*self.pairs, strict=True) for n in names]
            raise ValueError(f"loss.zigzag_weight needs {needed} among data.inputs and "
                             f"data.outputs; {missing} are not there")
        self.weight, self.temperature, self.humidity = weight, temperature, humidity
        self.inputs = {n: input_layout.slices[n] for n, _ in self.pairs}
        self.outputs = {n: output_layout.slices[n] for _, n in self.pairs}
        for name, where in self.inputs.items():
            factor = input_layout.factor[where]
            if not np.any(factor != 0):
                raise ValueError(f"loss.zigzag_weight: the network sees no level of {name} "
                                 "(data.masked_levels), so it has no bump to respond to")
            self.register_buffer(f"bumps_{name}",
                                 torch.tensor(bumps(factor != 0), dtype=torch.float32))
            self.register_buffer(f"in_factor_{name}", torch.tensor(factor, dtype=torch.float32))
            shift = input_layout.shift[where]
            self.register_buffer(f"in_shift_{name}", torch.tensor(shift, dtype=torch.float32))
        for name, where in self.outputs.items():
            factor = output_layout.factor[where]
            inverse = np.divide(1.0, factor, out=np.zeros_like(factor), where=factor != 0)
            self.register_buffer(f"out_scale_{name}", torch.tensor(inverse, dtype=torch.float32))

    def perturbation(self, z: torch.Tensor, name: str, sign: torch.Tensor,
                     rows: torch.Tensor) -> torch.Tensor:
        """(n, nlev): each column's bump in input ``name`` ("T": K, "Q": kg/kg), the row
        ``rows`` (n,) of ``bumps_<name>`` signed by ``sign`` (n, 1) of ±1, in physical
        units; q's a fraction of each level's q in ``z``."""
        bump = sign * getattr(self, f"bumps_{name}")[rows]
        if name == "T":
            return self.temperature * bump
        q = z[:, self.inputs["Q"]] / torch.where(self.in_factor_Q != 0, self.in_factor_Q,
                                                 1.0) + self.in_shift_Q
        return self.humidity * bump * q.clamp_min(0)

    def moved(self, z: torch.Tensor, name: str, delta: torch.Tensor) -> torch.Tensor:
        """A copy of the normalized inputs ``z`` with input ``name`` moved by ``delta``."""
        moved = z.clone()
        moved[:, self.inputs[name]] += delta * getattr(self, f"in_factor_{name}")
        return moved

    def growth(self, base: torch.Tensor, response: torch.Tensor, name: str,
               delta: torch.Tensor) -> torch.Tensor:
        """(n,) 1/day: the growth rate of ``delta`` in input ``name`` under the change of its
        output from the normalized prediction ``base`` to ``response``."""
        output = dict(PAIRS)[name]
        where = self.outputs[output]
        change = (response[:, where] - base[:, where]) * getattr(self, f"out_scale_{output}")
        size = delta.square().sum(1).clamp_min(torch.finfo(delta.dtype).tiny)
        return (change * delta).sum(1) / size * SECONDS_PER_DAY

    def forward(self, model, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.bumps_T.device != z.device:
            self.to(z.device)
        n = max(1, len(z) // PERTURBED_SHARE)
        base = z[:n]
        sign = torch.randint(0, 2, (n, 1), device=z.device).to(z.dtype) * 2 - 1
        deltas = {name: self.perturbation(base, name, sign, torch.randint(
            0, len(getattr(self, f"bumps_{name}")), (n,), device=z.device))
            for name, _ in self.pairs}
        # one call: under DDP a step has one forward pass
        out = model(torch.cat([z] + [self.moved(base, name, deltas[name])
                                     for name, _ in self.pairs]))
        prediction = out[: len(z)]
        penalty = z.new_zeros(())
        for k, (name, _) in enumerate(self.pairs):
            response = out[len(z) + k * n: len(z) + (k + 1) * n]
            penalty = penalty + torch.relu(self.growth(prediction[:n], response, name,
                                                       deltas[name])).mean()
        return prediction, self.weight * penalty


def zigzag_penalty(config, layouts) -> ZigzagPenalty | None:
    """The penalty of a ``LossConfig`` for the (input, output) layouts, None when
    ``zigzag_weight`` is 0."""
    if config.zigzag_weight == 0:
        return None
    return ZigzagPenalty(*layouts, config.zigzag_weight, config.zigzag_temperature,
                         config.zigzag_humidity)


def bumps(shown: np.ndarray) -> np.ndarray:
    """(levels shown, nlev): for each level k the network sees (``shown`` (nlev,) bool),
    e_k - (e_{k-1} + e_{k+1}) / 2 with the unseen levels' entries zeroed."""
    nlev = shown.size
    rows = np.eye(nlev) - 0.5 * (np.eye(nlev, k=-1) + np.eye(nlev, k=1))
    return (rows * shown)[shown]


@torch.no_grad()
def zigzag_growth(model, z: torch.Tensor, input_layout, output_layout, temperature: float = 0.5,
                  humidity: float = 0.05) -> dict[str, torch.Tensor]:
    """Each column's growth rate (1/day) of a + bump at each level in T and in q under
    ``model``'s one-step response: {"T": (batch, nlev), "Q": (batch, nlev)}, NaN at the
    levels the network does not see (the penalty's numbers, for diagnostics and tests)."""
    rates = ZigzagPenalty(input_layout, output_layout, 1.0, temperature, humidity).to(z.device)
    base = model(z)
    out = {}
    for name, _ in PAIRS:
        where = rates.inputs[name]
        shown = np.flatnonzero(input_layout.factor[where] != 0)
        growth = torch.full((len(z), where.stop - where.start), float("nan"), dtype=z.dtype,
                            device=z.device)
        for row, level in enumerate(shown):
            index = torch.full((len(z),), row, dtype=torch.long, device=z.device)
            delta = rates.perturbation(z, name, z.new_ones(len(z), 1), index)
            moved = model(rates.moved(z, name, delta))
            growth[:, level] = rates.growth(base, moved, name, delta)
        out[name] = growth
    return out
