"""The long-memory tasks of the spectral-RNN paper (Zhang, Lei & Dhillon 2018), their
training loop, and the comparison of a plain RNN, an LSTM and the spectral RNN.

Addition task (Hochreiter & Schmidhuber 1997; as in Arjovsky et al. 2016): a sequence of T
steps of two channels, numbers uniform in [0, 1) and a marker that is 1 at two steps (one in
each half) and 0 elsewhere; the target, read at the last step, is the sum of the two marked
numbers. Predicting 1 whatever the input gives a mean squared error of 1/6 ≈ 0.167.

Copy task (Arjovsky et al. 2016): 10 symbols from {1..8}, T - 1 blanks (0), the delimiter 9,
then 10 blanks; the target is blanks everywhere except the last 10 steps, which must repeat
the 10 symbols. Guessing blanks then uniform symbols gives a cross-entropy of
10 ln 8 / (T + 20) a step.

:func:`compare` trains each kind for a wall-time budget on fresh batches (Adam, no gradient
clipping, so that an exploding gradient shows) and records the loss at every iteration and
‖∂L/∂h_t‖ over t at the start and the end; :func:`write_figures` draws them (PNG, written
atomically).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from climnn.extras import import_torch
from climnn.models.spectral_rnn import CELLS, SequenceModel
from gcm.io.atomic import atomic_path, write_json

torch = import_torch("climnn.models (the networks)")

COPY_SYMBOLS, COPY_LENGTH = 8, 10  # symbols 1..8 to remember, 10 of them
BLANK, DELIMITER = 0, 9


def addition_batch(batch: int, steps: int, generator: torch.Generator) -> tuple:
    """(x (batch, steps, 2), y (batch, 1)): numbers and markers, the marked numbers' sum."""
    numbers = torch.rand(batch, steps, generator=generator)
    half = steps // 2
    first = torch.randint(0, half, (batch,), generator=generator)
    second = torch.randint(half, steps, (batch,), generator=generator)
    marks = torch.zeros(batch, steps)
    rows = torch.arange(batch)
    marks[rows, first] = 1.0
    marks[rows, second] = 1.0
    y = (numbers * marks).sum(1, keepdim=True)
    return torch.stack([numbers, marks], 2), y


def copy_batch(batch: int, steps: int, generator: torch.Generator) -> tuple:
    """(x (batch, steps + 20, 10) one-hot, y (batch, steps + 20) symbols 0..9): the copy
    task with a delay of ``steps``."""
    symbols = torch.randint(1, COPY_SYMBOLS + 1, (batch, COPY_LENGTH), generator=generator)
    length = steps + 2 * COPY_LENGTH
    inputs = torch.full((batch, length), BLANK, dtype=torch.long)
    inputs[:, :COPY_LENGTH] = symbols
    inputs[:, COPY_LENGTH + steps - 1] = DELIMITER
    target = torch.full((batch, length), BLANK, dtype=torch.long)
    target[:, -COPY_LENGTH:] = symbols
    return torch.nn.functional.one_hot(inputs, DELIMITER + 1).float(), target


@dataclass
class Task:
    """A task by name: its batches, the network's input and output sizes, its loss."""

    name: str
    steps: int

    @property
    def sizes(self) -> tuple[int, int]:
        return (2, 1) if self.name == "addition" else (DELIMITER + 1, DELIMITER + 1)

    @property
    def baseline(self) -> float:
        """The loss of the best input-blind guess."""
        if self.name == "addition":
            return 1 / 6
        return COPY_LENGTH * math.log(COPY_SYMBOLS) / (self.steps + 2 * COPY_LENGTH)

    def batch(self, size: int, generator: torch.Generator) -> tuple:
        make = addition_batch if self.name == "addition" else copy_batch
        return make(size, self.steps, generator)

    def loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.name == "addition":  # read at the last step
            return torch.nn.functional.mse_loss(out[:, -1], y)
        return torch.nn.functional.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1))


TASKS = ("addition", "copy")


def gradient_norms(model: SequenceModel, task: Task, batch: int, seed: int) -> list[float]:
    """‖∂L/∂h_t‖ (Frobenius over the batch) for t = 1..T on one batch: how much of the loss's
    gradient reaches each step's hidden state."""
    x, y = task.batch(batch, torch.Generator().manual_seed(seed))
    model.keep_states = True
    try:
        model.zero_grad()
        task.loss(model(x), y).backward()
        return [float(h.grad.norm()) if h.grad is not None else 0.0
                for h in model.hidden_states]
    finally:
        model.keep_states, model.hidden_states = False, []
        model.zero_grad()


@dataclass
class Run:
    """One kind trained on one task: the loss each iteration, the gradient norms over time
    steps at the start and the end, the seconds it took."""

    kind: str
    task: str
    parameters: int
    losses: list = field(default_factory=list)
    norms_start: list = field(default_factory=list)
    norms_end: list = field(default_factory=list)
    seconds: float = 0.0


OPTIMIZERS = {"adam": torch.optim.Adam, "rmsprop": torch.optim.RMSprop}


def train(kind: str, task: Task, hidden: int, seconds: float, *, batch: int = 50,
          lr: float = 1e-3, eps: float = 0.05, activation: str = "tanh", seed: int = 0,
          max_iterations: int | None = None, optimizer: str = "adam",
          clip: float | None = None) -> Run:
    """Train a ``kind`` network (rnn | orth_rnn | lstm | spectral; ``activation`` tanh |
    relu | modrelu of all but the LSTM) of ``hidden`` units on fresh batches of ``task``
    for ``seconds`` of wall time (or ``max_iterations``); ``optimizer`` adam | rmsprop at
    ``lr``, the gradient's norm clipped to ``clip`` if given (for every kind alike)."""
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer {optimizer!r} is not one of {list(OPTIMIZERS)}")
    torch.manual_seed(seed)
    n_in, n_out = task.sizes
    model = SequenceModel(kind, n_in, hidden, n_out, eps, activation)
    run = Run(kind, task.name, sum(p.numel() for p in model.parameters()))
    run.norms_start = gradient_norms(model, task, batch, seed + 1)
    step = OPTIMIZERS[optimizer](model.parameters(), lr=lr)
    data = torch.Generator().manual_seed(seed + 2)
    start = time.perf_counter()
    while time.perf_counter() - start < seconds and len(run.losses) != max_iterations:
        x, y = task.batch(batch, data)
        loss = task.loss(model(x), y)
        step.zero_grad()
        loss.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        step.step()
        run.losses.append(loss.item())
    run.seconds = time.perf_counter() - start
    run.norms_end = gradient_norms(model, task, batch, seed + 1)
    return run


def compare(tasks: dict, hidden: int, seconds: float, out: Path,
            kinds: tuple = ("rnn", "lstm", "spectral"), **options) -> list[Run]:
    """Train each of ``kinds`` (of :data:`CELLS`) on every task ({name: steps}) with the
    :func:`train` ``options``; write ``runs.json`` (with the options) into ``out`` after
    each run and the figures after each task (a long comparison keeps what it finished)."""
    unknown = sorted(set(kinds) - set(CELLS))
    if unknown:
        raise ValueError(f"recurrent cells {unknown} are not among {list(CELLS)}")
    runs = []
    for name, steps in tasks.items():
        for kind in kinds:
            run = train(kind, Task(name, steps), hidden, seconds, **options)
            runs.append(run)
            final = float(np.mean(run.losses[-50:])) if run.losses else float("nan")
            print(f"{name} T={steps} {kind}: {len(run.losses)} iterations in "
                  f"{run.seconds:.0f} s, last-50 mean loss {final:.4g} "
                  f"(blind guess {Task(name, steps).baseline:.4g})", flush=True)
            write_json(out / "runs.json", {"hidden": hidden, "seconds": seconds,
                                            "tasks": tasks, "options": options,
                                            "runs": [r.__dict__ for r in runs]})
        write_figures(runs, tasks, out)
    return runs


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def write_figures(runs: list[Run], tasks: dict, out: Path) -> list[Path]:
    """Per task: ``NAME_loss.png`` (loss vs iteration, smoothed over 20, blind guess
    dashed) and ``NAME_gradients.png`` (‖∂L/∂h_t‖ over t at the start and the end)."""
    plt = _pyplot()
    written = []
    for name, steps in tasks.items():
        mine = [r for r in runs if r.task == name]
        if not mine:
            continue
        figure, ax = plt.subplots(figsize=(6.4, 4.4))
        for run in mine:
            smooth = np.convolve(run.losses, np.ones(20) / 20, mode="valid")
            ax.plot(smooth, label=f"{run.kind} ({run.parameters} parameters)")
        ax.axhline(Task(name, steps).baseline, color="gray", ls="--", label="blind guess")
        ax.set(xlabel="iteration", ylabel="loss", yscale="log",
               title=f"{name} task, T = {steps}")
        ax.legend()
        written.append(_save(figure, out / f"{name}_loss.png"))
        figure, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
        for ax, when in zip(axes, ("start", "end"), strict=True):
            for run in mine:
                ax.plot(np.arange(1, steps_of(run) + 1), getattr(run, f"norms_{when}"),
                        label=run.kind)
            ax.set(xlabel="time step t", yscale="log", title=f"{name}: at the {when}")
        axes[0].set_ylabel("‖∂L/∂h_t‖")
        axes[0].legend()
        written.append(_save(figure, out / f"{name}_gradients.png"))
    return written


def steps_of(run: Run) -> int:
    return len(run.norms_start)


def _save(figure, path: Path) -> Path:
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=100)
    _pyplot().close(figure)
    return path


def read_runs(path: Path) -> list[Run]:
    """The runs of a ``runs.json``."""
    return [Run(**r) for r in json.loads(Path(path).read_text())["runs"]]
