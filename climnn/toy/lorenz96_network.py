"""Learned and fitted parameterizations of Lorenz-96's sub-grid forcing, U_k from X_k.

- :class:`LocalNetwork`: one small MLP (climnn.models.SeedMLP) applied to every k alike,
  U_k = net(X_k), with its normalization inside (Gagne et al. 2020 use the local X_k too).
- :func:`train_network`: Adam on the dataset's time split, keeping the weights of the best
  validation loss, a record an epoch (the conventions of climnn.training.trainer). That
  trainer itself reads column stores only (``ColumnDataset``: the schema's variables,
  levels and hybrid coefficients, the ``stats`` group), so this is a small loop of its own.
- :class:`PolynomialParameterization`: the cubic U = a0 + a1 X + a2 X^2 + a3 X^3 fitted by
  least squares (Arnold et al. 2013's deterministic baseline).
- :func:`export_network` writes the network as a climnn exported model (TorchScript with
  ``climnn.json`` inside; X and U as one-level "columns"), and
  :class:`CoupledParameterization` runs that file through climnn.coupler.Coupler.

Arrays: X, U (ntime, K) or (n, K) float64, nondimensional (U in X units per MTU).
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from climnn.extras import import_torch

torch = import_torch("climnn.toy.lorenz96_network (the Lorenz-96 network)")

#: The one-level "column" the exported network declares: Lorenz-96 has no vertical; the
#: coupler's contract needs interface coefficients and a surface pressure all the same.
NOMINAL_LEVEL = {"hyai": [0.0, 0.0], "hybi": [0.0, 1.0], "P0": 100000.0}
NOMINAL_PS = 100000.0


class LocalNetwork(torch.nn.Module):
    """forward: X (batch, 1) float32 -> U (batch, 1) float32, physical values; inside,
    (X - x_mean) / x_std -> MLP -> * u_std + u_mean (the training split's moments)."""

    def __init__(self, moments: tuple[float, float, float, float], hidden_layers: int = 2,
                 width: int = 32):
        from climnn.models.seed_mlp import SeedMLP

        super().__init__()
        self.net = SeedMLP(1, 1, hidden_layers=hidden_layers, width=width, activation="tanh")
        for name, value in zip(("x_mean", "x_std", "u_mean", "u_std"), moments, strict=True):
            self.register_buffer(name, torch.tensor(float(value), dtype=torch.float32))

    def normalized(self, x: torch.Tensor) -> torch.Tensor:
        """The network's output before denormalization (what the loss compares)."""
        return self.net((x - self.x_mean) / self.x_std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.normalized(x) * self.u_std + self.u_mean


@dataclass(frozen=True)
class NetworkTraining:
    """epochs, batch (samples), lr (Adam's rate, cosine to 0 over the epochs), width and
    hidden_layers of the MLP, validation (the last fraction of the time steps), seed."""

    epochs: int = 40
    batch: int = 256
    lr: float = 3e-3
    width: int = 32
    hidden_layers: int = 2
    validation: float = 0.2
    seed: int = 0


def time_split(ntime: int, validation: float) -> tuple[slice, slice]:
    """The first (1 - validation) of the time steps for training, the rest for validation
    (contiguous in time, so the validation samples are not neighbours of training ones)."""
    cut = int(round(ntime * (1.0 - validation)))
    if not 0 < cut < ntime:
        raise ValueError(f"time split: {ntime} time steps leave no training or validation "
                         f"samples at validation = {validation}")
    return slice(0, cut), slice(cut, ntime)


def train_network(x: np.ndarray, u: np.ndarray,
                  config: NetworkTraining = NetworkTraining()) -> tuple[LocalNetwork, list]:
    """A LocalNetwork trained on X, U (ntime, K), and the history (one dict an epoch:
    epoch, train_loss, validation_loss, lr; MSE of normalized U). The weights are those of
    the best validation loss."""
    train, valid = time_split(x.shape[0], config.validation)
    xt, ut = x[train].ravel(), u[train].ravel()
    torch.manual_seed(config.seed)
    model = LocalNetwork((xt.mean(), xt.std(), ut.mean(), ut.std()), config.hidden_layers,
                         config.width)
    as_tensor = lambda a: torch.tensor(a.reshape(-1, 1), dtype=torch.float32)  # noqa: E731
    xt, ut = as_tensor(xt), as_tensor(ut)
    xv, uv = as_tensor(x[valid]), as_tensor(u[valid])
    target_t, target_v = (ut - model.u_mean) / model.u_std, (uv - model.u_mean) / model.u_std
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    generator = torch.Generator().manual_seed(config.seed)
    history, best, best_state = [], math.inf, None
    for epoch in range(config.epochs):
        lr = 0.5 * config.lr * (1.0 + math.cos(math.pi * epoch / config.epochs))
        for group in optimizer.param_groups:
            group["lr"] = lr
        order = torch.randperm(len(xt), generator=generator)
        total = 0.0
        model.train()
        for start in range(0, len(xt), config.batch):
            take = order[start:start + config.batch]
            loss = torch.nn.functional.mse_loss(model.normalized(xt[take]), target_t[take])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(take)
        model.eval()
        with torch.no_grad():
            valid_loss = float(torch.nn.functional.mse_loss(model.normalized(xv), target_v))
        history.append({"epoch": epoch + 1, "train_loss": total / len(xt),
                        "validation_loss": valid_loss, "lr": lr})
        if valid_loss < best:
            best, best_state = valid_loss, copy.deepcopy(model.state_dict())
    model.load_state_dict(best_state)
    return model.eval().requires_grad_(False), history


class PolynomialParameterization:
    """U_k = a0 + a1 X_k + a2 X_k^2 + a3 X_k^3 (``coefficients`` = (a0, a1, a2, a3))."""

    def __init__(self, coefficients):
        self.coefficients = tuple(float(a) for a in coefficients)

    @classmethod
    def fit(cls, x: np.ndarray, u: np.ndarray, degree: int = 3) -> PolynomialParameterization:
        """Least-squares fit of U on X (any shapes, flattened)."""
        return cls(np.polynomial.polynomial.polyfit(x.ravel(), u.ravel(), degree))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.polynomial.polynomial.polyval(x, self.coefficients)


class NetworkParameterization:
    """The trained network called directly (float32), X (n, K) -> U (n, K): what the
    coupler's run is checked against."""

    def __init__(self, model: LocalNetwork):
        self.model = model

    def __call__(self, x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            u = self.model(torch.tensor(x.reshape(-1, 1), dtype=torch.float32))
        return u.numpy().astype(np.float64).reshape(x.shape)


def export_network(model: LocalNetwork, path: str | Path, data: dict, history: list) -> Path:
    """Write ``model`` as a climnn exported model (TorchScript, ``climnn.json`` inside) at
    the new path ``path``: input X, output U, each a one-level "column" (NOMINAL_LEVEL);
    ``data``: the store's path and provenance. Returns ``path``."""
    from climnn.export.metadata import FORMAT, FORMAT_VERSION, METADATA_FILE, git_commit
    from climnn.export.quiet import torchscript_quiet
    from climnn.export.writer import to_torchscript
    from climnn.toy.lorenz96_data import VARIABLES
    from gcm.io.atomic import atomic_path

    path = Path(path)
    if path.exists():
        raise FileExistsError(f"{path} exists; choose another path (nothing was written)")
    slot = lambda name: {"name": name, "start": 0, "stop": 1, "levels": 1,  # noqa: E731
                         "units": "1", "long_name": VARIABLES[name]}
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION,
            "call": "forward(x): x (batch, 1) float32 X_k -> (batch, 1) float32 U_k",
            "inputs": [slot("X")], "outputs": [slot("U")], "n_in": 1, "n_out": 1, "levels": 1,
            "vertical": {**NOMINAL_LEVEL, "pressure": "nominal: Lorenz-96 has no vertical"},
            "data": data,
            "training": {"epochs_trained": len(history),
                         "best_validation_loss": min(h["validation_loss"] for h in history)},
            "precision": "float32", "climnn_version": _version(), "git_commit": git_commit(),
            "torch_version": torch.__version__}
    example = torch.linspace(-10.0, 20.0, 7).reshape(-1, 1)
    scripted = to_torchscript(model, example)
    with atomic_path(path) as tmp, torchscript_quiet():
        torch.jit.save(scripted, str(tmp), _extra_files={METADATA_FILE: json.dumps(meta)})
    return path


def _version() -> str:
    import climnn

    return climnn.__version__


class CoupledParameterization:
    """An exported network (``export_network``) run through climnn.coupler.Coupler:
    X (n, K) -> U (n, K), every X_k a column of the host, one call a tendency evaluation.

    The coupler's contract is met as it stands, with two nominal pieces: one level with
    interface coefficients NOMINAL_LEVEL, and a surface pressure PS (NOMINAL_PS) that the
    coupler requires of every host even with conservation "off" (it takes the number of
    columns from PS)."""

    def __init__(self, model_path: str | Path, dt: float, threads: int | None = 1):
        from climnn.coupler import Coupler, HostDescription

        host = HostDescription({"X": "1", "PS": "Pa"}, NOMINAL_LEVEL["hyai"],
                               NOMINAL_LEVEL["hybi"], NOMINAL_LEVEL["P0"])
        self.coupler = Coupler(model_path, host, conservation="off", threads=threads)
        self.dt = dt
        self._ps = np.empty(0)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if self._ps.size != x.size:
            self._ps = np.full(x.size, NOMINAL_PS)
        result = self.coupler.step({"X": x.reshape(-1), "PS": self._ps}, self.dt)
        return result.outputs["U"].reshape(x.shape)
