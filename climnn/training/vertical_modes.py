"""A penalty on the network amplifying grid-scale vertical structure (``loss.zigzag_weight``).

A network in the loop sees the temperature and humidity profiles its own tendencies made.
If it heats the warm levels of a 2-Δσ zig-zag in T (or moistens the moist levels of one in
q), the mode grows every step: nothing in a column model's training says how it should
respond to structure the teacher's states never had. Measured on the SP hybrid's networks
(README, "A network trained on SP data"): one step's heating along a 0.5 K zig-zag grows
it by +0.02 to +0.05 per day in the median polar column (e-folding in 20-50 days, the time
over which the runs' lower troposphere grew a zig-zag), where turbulence and radiation damp
it in the teacher.

The penalty perturbs a quarter of each training batch: T by ``a s p_k`` and, separately,
q by ``f s p_k q_k``, where ``p_k = (-1)^k`` on the levels the network sees, ``s = ±1`` at
random, ``a = zigzag_temperature`` (K) and ``f = zigzag_humidity`` (a fraction of q). The
growth rate of each perturbation under the network's one-step response is

    g_T = sum_k dTPHYSTND_k dT_k / sum_k dT_k^2        g_q = sum_k dPHQ_k dq_k / sum_k dq_k^2

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
        missing = [n for pair in PAIRS for n, layout in zip(pair, (input_layout, output_layout),
                                                             strict=True)
                   if n not in layout.slices]
        if missing:
            raise ValueError(f"loss.zigzag_weight needs the inputs T, Q and the outputs "
                             f"TPHYSTND, PHQ; {missing} are not in data.inputs / data.outputs")
        self.weight, self.temperature, self.humidity = weight, temperature, humidity
        self.inputs = {n: input_layout.slices[n] for n, _ in PAIRS}
        self.outputs = {n: output_layout.slices[n] for _, n in PAIRS}
        for name, where in self.inputs.items():
            factor = input_layout.factor[where]
            shown = factor != 0
            pattern = np.where(shown, (-1.0) ** np.arange(factor.size), 0.0)
            self.register_buffer(f"pattern_{name}", torch.tensor(pattern, dtype=torch.float32))
            self.register_buffer(f"in_factor_{name}", torch.tensor(factor, dtype=torch.float32))
            shift = input_layout.shift[where]
            self.register_buffer(f"in_shift_{name}", torch.tensor(shift, dtype=torch.float32))
        for name, where in self.outputs.items():
            factor = output_layout.factor[where]
            inverse = np.divide(1.0, factor, out=np.zeros_like(factor), where=factor != 0)
            self.register_buffer(f"out_scale_{name}", torch.tensor(inverse, dtype=torch.float32))

    def perturbations(self, z: torch.Tensor, sign: torch.Tensor) -> dict[str, torch.Tensor]:
        """{"T": (n, nlev) K, "Q": (n, nlev) kg/kg}: each column's zig-zag, ``sign`` (n, 1)
        of ±1, in physical units (zero at the levels the network does not see)."""
        q = z[:, self.inputs["Q"]] / torch.where(self.in_factor_Q != 0, self.in_factor_Q,
                                                 1.0) + self.in_shift_Q
        return {"T": self.temperature * sign * self.pattern_T,
                "Q": self.humidity * sign * self.pattern_Q * q.clamp_min(0)}

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
        if self.pattern_T.device != z.device:
            self.to(z.device)
        n = max(1, len(z) // PERTURBED_SHARE)
        base = z[:n]
        sign = torch.randint(0, 2, (n, 1), device=z.device).to(z.dtype) * 2 - 1
        deltas = self.perturbations(base, sign)
        # one call: under DDP a step has one forward pass
        out = model(torch.cat([z] + [self.moved(base, name, deltas[name]) for name, _ in PAIRS]))
        prediction = out[: len(z)]
        penalty = z.new_zeros(())
        for k, (name, _) in enumerate(PAIRS):
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


@torch.no_grad()
def zigzag_growth(model, z: torch.Tensor, input_layout, output_layout, temperature: float = 0.5,
                  humidity: float = 0.05) -> dict[str, torch.Tensor]:
    """Each column's growth rates (1/day) of a + zig-zag in T and in q under ``model``'s
    one-step response: {"T": (batch,), "Q": (batch,)} (the penalty's numbers for every
    column, sign +1), for diagnostics and tests."""
    rates = ZigzagPenalty(input_layout, output_layout, 1.0, temperature, humidity).to(z.device)
    deltas = rates.perturbations(z, z.new_ones(len(z), 1))
    base = model(z)
    return {name: rates.growth(base, model(rates.moved(z, name, deltas[name])), name,
                               deltas[name]) for name, _ in PAIRS}
