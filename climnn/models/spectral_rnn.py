"""Recurrent networks for the synthetic long-memory tasks (:mod:`climnn.models.rnn_tasks`):
the spectral RNN of Zhang, Lei & Dhillon (2018, ICML), and the plain RNN and LSTM of the
same hidden size it is compared with.

Spectral RNN cell:   h_t = act(W h_{t-1} + V x_t + b),   W = U diag(σ) Vᵀ in SVD form
(:class:`climnn.models.svd_linear.SVDLinear`) with every singular value of W in
[1 - ε, 1 + ε]. Through T steps the back-propagated gradient is multiplied by Wᵀ diag(act')
T times; with W's singular values pinned near 1 its norm can neither grow nor shrink
geometrically through W (act' <= 1 can still shrink it), whereas a plain RNN's W, free,
makes it explode (spectral norm > 1) or vanish (< 1).

All three run the same Python loop over time (:class:`SequenceModel`), so that the hidden
state of every step is at hand for the gradient norms ‖∂L/∂h_t‖ over t.
"""

from __future__ import annotations

from climnn.extras import import_torch
from climnn.models.svd_linear import SVDLinear

torch = import_torch("climnn.models (the networks)")

CELLS = ("rnn", "orth_rnn", "lstm", "spectral")
ACTIVATIONS = ("tanh", "relu", "modrelu")


class ModReLU(torch.nn.Module):
    """modReLU (Arjovsky et al. 2016) for real numbers: sign(z) relu(|z| + b), b one
    learnable offset a unit, started in [-0.01, 0.01]. Near the start it is almost the
    identity (slope 1 where |z| > -b), so an orthogonal transition keeps the hidden state's
    norm, what the copy task needs; tanh squashes and relu halves the state."""

    def __init__(self, hidden: int):
        super().__init__()
        self.b = torch.nn.Parameter(torch.empty(hidden).uniform_(-0.01, 0.01))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sign(z) * torch.relu(z.abs() + self.b)


def make_activation(name: str, hidden: int) -> torch.nn.Module:
    """tanh | relu | modrelu as a module (modrelu has parameters)."""
    if name not in ACTIVATIONS:
        raise ValueError(f"recurrent activation {name!r} is not one of {ACTIVATIONS}")
    return {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU}[name]() if name != "modrelu" \
        else ModReLU(hidden)


class PlainRNNCell(torch.nn.Module):
    """h_t = act(W h_{t-1} + V x_t + b), W dense, act tanh, relu or modrelu. W starts as
    torch.nn.RNNCell's (uniform in ±1/sqrt(hidden): spectral radius ~0.6) or, with
    ``orthogonal``, as a random orthogonal matrix, the spectral RNN's start."""

    def __init__(self, n_in: int, hidden: int, activation: str = "tanh",
                 orthogonal: bool = False):
        super().__init__()
        self.w = torch.nn.Linear(hidden, hidden, bias=False)
        bound = 1 / hidden ** 0.5  # torch.nn.RNNCell's start, for all weights
        torch.nn.init.uniform_(self.w.weight, -bound, bound)
        if orthogonal:
            torch.nn.init.orthogonal_(self.w.weight)
        self.v = torch.nn.Linear(n_in, hidden)
        torch.nn.init.uniform_(self.v.weight, -bound, bound)
        torch.nn.init.uniform_(self.v.bias, -bound, bound)
        self.activation = make_activation(activation, hidden)

    def forward(self, x: torch.Tensor, state: tuple) -> tuple:
        h = self.activation(self.w(state[0]) + self.v(x))
        return h, (h,)


class LSTMCell(torch.nn.Module):
    """torch.nn.LSTMCell; its hidden state h_t is the output, (h_t, c_t) the state."""

    def __init__(self, n_in: int, hidden: int):
        super().__init__()
        self.cell = torch.nn.LSTMCell(n_in, hidden)

    def forward(self, x: torch.Tensor, state: tuple) -> tuple:
        h, c = self.cell(x, state if len(state) == 2 else (state[0], torch.zeros_like(state[0])))
        return h, (h, c)


class SpectralRNNCell(torch.nn.Module):
    """h_t = act(W h_{t-1} + V x_t + b) with W's singular values in [1 - eps, 1 + eps], act
    tanh, relu or modrelu.

    The transition's dense W is computed once a sequence (:meth:`transition`) and reused at
    every step."""

    def __init__(self, n_in: int, hidden: int, eps: float = 0.05, activation: str = "tanh"):
        super().__init__()
        if not 0 <= eps < 1:
            raise ValueError(f"SpectralRNNCell: eps = {eps}: need 0 <= eps < 1")
        self.activation = make_activation(activation, hidden)
        self.w = SVDLinear(hidden, hidden, 1 - eps, 1 + eps, bias=False)
        self.v = torch.nn.Linear(n_in, hidden)
        self.weight: torch.Tensor | None = None

    def transition(self) -> None:
        """Compute W from its factors for the sequence about to run."""
        self.weight = self.w.weight

    def forward(self, x: torch.Tensor, state: tuple) -> tuple:
        weight = self.w.weight if self.weight is None else self.weight
        h = self.activation(state[0] @ weight.T + self.v(x))
        return h, (h,)


def make_cell(kind: str, n_in: int, hidden: int, eps: float = 0.05,
              activation: str = "tanh") -> torch.nn.Module:
    """A cell by name: rnn | orth_rnn (the plain RNN started with an orthogonal W, as the
    spectral RNN starts, but free afterwards) | lstm | spectral (``eps``: its singular
    values' half-width; ``activation``: tanh | relu | modrelu, of all but the LSTM)."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"recurrent activation {activation!r} is not one of {ACTIVATIONS}")
    if kind == "spectral":
        return SpectralRNNCell(n_in, hidden, eps, activation)
    if kind in ("rnn", "orth_rnn"):
        return PlainRNNCell(n_in, hidden, activation, orthogonal=kind == "orth_rnn")
    if kind != "lstm":
        raise ValueError(f"recurrent cell {kind!r} is not one of {list(CELLS)}")
    return LSTMCell(n_in, hidden)


class SequenceModel(torch.nn.Module):
    """forward: (batch, T, n_in) -> (batch, T, n_out), a readout of each step's hidden state.

    After a forward, ``hidden_states`` holds the T hidden states (batch, hidden), each
    retaining its gradient when ``keep_states`` is set (for ‖∂L/∂h_t‖)."""

    def __init__(self, kind: str, n_in: int, hidden: int, n_out: int, eps: float = 0.05,
                 activation: str = "tanh"):
        super().__init__()
        self.kind, self.hidden = kind, hidden
        self.cell = make_cell(kind, n_in, hidden, eps, activation)
        self.readout = torch.nn.Linear(hidden, n_out)
        self.keep_states = False
        self.hidden_states: list = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if isinstance(self.cell, SpectralRNNCell):
            self.cell.transition()
        state = (x.new_zeros(x.shape[0], self.hidden),)
        outputs, self.hidden_states = [], []
        for t in range(x.shape[1]):
            h, state = self.cell(x[:, t], state)
            if self.keep_states:
                h.retain_grad()
                self.hidden_states.append(h)
            outputs.append(h)
        if isinstance(self.cell, SpectralRNNCell):
            self.cell.weight = None  # not kept between sequences (a stale graph)
        return self.readout(torch.stack(outputs, 1))
