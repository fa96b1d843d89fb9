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

CELLS = ("rnn", "lstm", "spectral")
ACTIVATIONS = ("tanh", "relu")


class PlainRNNCell(torch.nn.Module):
    """h_t = act(W h_{t-1} + V x_t + b), W dense (torch.nn.RNNCell's start), act tanh or
    relu."""

    def __init__(self, n_in: int, hidden: int, activation: str = "tanh"):
        super().__init__()
        self.cell = torch.nn.RNNCell(n_in, hidden, nonlinearity=activation)

    def forward(self, x: torch.Tensor, state: tuple) -> tuple:
        h = self.cell(x, state[0])
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
    tanh or relu.

    The transition's dense W is computed once a sequence (:meth:`transition`) and reused at
    every step."""

    def __init__(self, n_in: int, hidden: int, eps: float = 0.05, activation: str = "tanh"):
        super().__init__()
        if not 0 <= eps < 1:
            raise ValueError(f"SpectralRNNCell: eps = {eps}: need 0 <= eps < 1")
        self.activation = {"tanh": torch.tanh, "relu": torch.relu}[activation]
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
    """A cell by name: rnn | lstm | spectral (``eps``: its singular values' half-width;
    ``activation``: tanh | relu, of rnn and spectral)."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"recurrent activation {activation!r} is not one of {ACTIVATIONS}")
    if kind == "spectral":
        return SpectralRNNCell(n_in, hidden, eps, activation)
    if kind == "rnn":
        return PlainRNNCell(n_in, hidden, activation)
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
