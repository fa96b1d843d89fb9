"""A parameterization network for the logistic map: (x_n, r) -> x_{n+1}, learned from time
series at non-chaotic r only, then iterated freely into the chaotic range.

The experiment of the project's source work: the network takes the map's parameter r as an
extra input, so one network holds a whole family of maps; trained on r below the chaotic
range, does its free iteration continue the period-doubling route into chaos? Two controls
(``climnn.toy.command`` runs all three):

- a network without r as input, trained on the same series: it cannot tell the maps apart
  and learns their average;
- networks trained on the return map (x_n, x_{n+1}) of a single r each, and the straight
  line in r through two of them (:class:`ReturnMapLine`): if that line's iteration does as
  well as the r network, extrapolating into chaos needs nothing beyond extrapolating between
  two quadratic return maps.

The networks are ``climnn.models.SeedMLP``s on normalized inputs; the training loop is a
small one over tensors in memory (``climnn.training.trainer`` reads column stores batch by
batch, which a few thousand scalar pairs do not need) that uses the trainer's loss and
learning-rate schedule (``build_loss``, ``learning_rate``) and its seed convention.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from climnn.extras import import_torch
from climnn.models.seed_mlp import SeedMLP
from climnn.toy.logistic import time_series
from climnn.training.config import LossConfig, OptimizerConfig, TrainConfig
from climnn.training.losses import build_loss
from climnn.training.trainer import learning_rate

torch = import_torch("climnn toy logistic (the networks)")

R_CENTER, R_SCALE = 3.25, 0.75  # r in [2.5, 4] -> [-1, 1]: the range the experiment covers


@dataclass(frozen=True)
class NetworkSettings:
    """A network and its training: hidden_layers x width units of ``activation`` (a
    ``SeedMLP`` activation), Adam at ``lr`` with a cosine schedule over ``epochs``,
    minibatches of ``batch_size`` pairs, torch's generator seeded with ``seed``."""

    hidden_layers: int = 2
    width: int = 32
    activation: str = "tanh"
    lr: float = 3e-3
    epochs: int = 60
    batch_size: int = 256
    seed: int = 0


@dataclass
class Pairs:
    """Training pairs: x_n, r, x_{n+1}, each (n,) float64."""

    x: np.ndarray
    r: np.ndarray
    x_next: np.ndarray

    @property
    def size(self) -> int:
        return self.x.size


def series_pairs(r_values: np.ndarray, series_per_r: int, steps: int,
                 rng: np.random.Generator) -> Pairs:
    """The (x_n, r, x_{n+1}) pairs of ``series_per_r`` true orbits of ``steps`` iterations at
    each of ``r_values``, each from x0 uniform in (0.01, 0.99): the transients cover [0, 1]
    in x, the later steps the attractor."""
    r = np.repeat(np.asarray(r_values, dtype=np.float64), series_per_r)
    series = time_series(r, rng.uniform(0.01, 0.99, r.size), steps)
    r_grid = np.broadcast_to(r, series[:-1].shape)
    return Pairs(series[:-1].ravel(), r_grid.ravel().copy(), series[1:].ravel())


class ParameterNetwork(torch.nn.Module):
    """x_{n+1} = net(x_n, r): (n,) tensors in, (n,) out. With ``uses_r`` False the network
    never sees r (the control). Inputs are scaled to about [-1, 1]."""

    def __init__(self, settings: NetworkSettings, uses_r: bool = True):
        super().__init__()
        self.uses_r = uses_r
        self.mlp = SeedMLP(2 if uses_r else 1, 1, settings.hidden_layers, settings.width,
                           settings.activation)

    def forward(self, x: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        features = [2.0 * x - 1.0]
        if self.uses_r:
            features.append((r - R_CENTER) / R_SCALE)
        return self.mlp(torch.stack(features, dim=-1)).squeeze(-1)


def _tensors(pairs: Pairs) -> tuple:
    return tuple(torch.as_tensor(v, dtype=torch.float32) for v in (pairs.x, pairs.r,
                                                                    pairs.x_next))


def train_network(train: Pairs, validation: Pairs | None, settings: NetworkSettings,
                  uses_r: bool = True) -> tuple[ParameterNetwork, list[dict]]:
    """Train a ParameterNetwork on ``train``; returns it and one record an epoch (epoch,
    train_loss, validation_loss: one-step MSE; lr). With ``validation`` the weights of the
    best validation loss are returned, else the last epoch's."""
    torch.manual_seed(settings.seed)
    model = ParameterNetwork(settings, uses_r)
    config = TrainConfig(optimizer=OptimizerConfig(lr=settings.lr, schedule="cosine",
                                                   epochs=settings.epochs,
                                                   batch_size=settings.batch_size))
    loss_fn = build_loss(LossConfig(kind="mse"), None, {})
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr)
    x, r, y = _tensors(train)
    history, best, best_state = [], math.inf, None
    for epoch in range(settings.epochs):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(config, epoch, settings.epochs)
        total = 0.0
        for batch in torch.randperm(train.size).split(settings.batch_size):
            loss = loss_fn(model(x[batch], r[batch]), y[batch], None)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * batch.numel()
        record = {"epoch": epoch + 1, "train_loss": total / train.size,
                  "lr": optimizer.param_groups[0]["lr"]}
        if validation is not None:
            record["validation_loss"] = one_step_mse(model, validation)
            if record["validation_loss"] < best:
                best = record["validation_loss"]
                best_state = {k: v.clone() for k, v in model.state_dict().items()}
        history.append(record)
    if best_state is not None:
        model.load_state_dict(best_state)
    return model, history


@torch.no_grad()
def one_step_mse(model: ParameterNetwork, pairs: Pairs) -> float:
    """Mean of (net(x_n, r) - x_{n+1})^2 over ``pairs``."""
    x, r, y = _tensors(pairs)
    return float(torch.mean((model(x, r) - y) ** 2))


def search(train: Pairs, validation: Pairs, candidates: list[NetworkSettings]
           ) -> tuple[ParameterNetwork, NetworkSettings, list[dict]]:
    """Train every candidate; returns the network of the lowest validation loss, its
    settings and a table: one row a candidate (its settings, best validation loss, final
    train loss)."""
    table, best = [], None
    for settings in candidates:
        model, history = train_network(train, validation, settings)
        row = {**dataclasses.asdict(settings),
               "validation_loss": min(h["validation_loss"] for h in history),
               "train_loss": history[-1]["train_loss"]}
        table.append(row)
        if best is None or row["validation_loss"] < best[2]:
            best = (model, settings, row["validation_loss"])
    return best[0], best[1], table


class NetworkMap:
    """A trained ParameterNetwork as a map (``climnn.toy.logistic``): step and
    step_and_slope on float64 numpy arrays, the slope d net / d x by autograd. The network
    is iterated in float64 (a copy), so that its orbits converge to 1e-6 and better."""

    def __init__(self, model: ParameterNetwork):
        self.model = _float64_copy(model)

    def step(self, x: np.ndarray, r: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return self.model(torch.from_numpy(x), torch.from_numpy(r)).numpy()

    def step_and_slope(self, x: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        xt = torch.from_numpy(np.ascontiguousarray(x)).requires_grad_(True)
        out = self.model(xt, torch.from_numpy(r))
        # each output depends on its own x only: the gradient of the sum is the slope
        (slope,) = torch.autograd.grad(out.sum(), xt)
        return out.detach().numpy(), slope.numpy()


class ReturnMapLine:
    """The straight line in r through two return-map networks: f(x, r) = f1(x) + (r - r1)
    / (r2 - r1) (f2(x) - f1(x)), f1 and f2 learned at r1 and r2 alone (networks without r).
    The true map is linear in r, so this line through two exact return maps is exact."""

    def __init__(self, first: ParameterNetwork, r1: float, second: ParameterNetwork,
                 r2: float):
        self.maps, self.r1, self.r2 = (NetworkMap(first), NetworkMap(second)), r1, r2

    def _weight(self, r: np.ndarray) -> np.ndarray:
        return (r - self.r1) / (self.r2 - self.r1)

    def step(self, x: np.ndarray, r: np.ndarray) -> np.ndarray:
        f1, f2 = (m.step(x, r) for m in self.maps)
        return f1 + self._weight(r) * (f2 - f1)

    def step_and_slope(self, x: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        (f1, s1), (f2, s2) = (m.step_and_slope(x, r) for m in self.maps)
        w = self._weight(r)
        return f1 + w * (f2 - f1), s1 + w * (s2 - s1)


def _float64_copy(model: ParameterNetwork) -> ParameterNetwork:
    duplicate = copy.deepcopy(model).double()
    duplicate.eval()
    return duplicate
