"""Training and inference speed of the emulator: the loader against zarr alone, training
steps of the default network, and the exported network's forward pass against the matrix
products it is made of, in float32 and bfloat16.

The bench store is a synthetic CBRAIN store (``climnn.data.synthetic``'s made-up physics)
at T42 scale: 8,192 columns (64 x 128), 25 levels, 48 half-hourly steps (393,216 samples,
about 220 MB), written with its statistics to a temporary directory.

- ``loader_samples_per_s``: one epoch of ``ColumnDataset`` over the whole store with the
  trainer's settings (run/train.yaml: batch 1024, buffer 65,536, "maxrs", shuffled), every
  batch taken as the training loop takes it. ``raw_read_samples_per_s``: the same store
  read chunk by chunk (one time step of one variable a request) with zarr alone into
  numpy: every variable the loader reads, no normalization. Both read files the OS has
  cached (written moments before, read every block): they time decompression and the work
  after it, not the disk. ``loader_to_raw_ratio`` = loader / raw.
- ``train_samples_per_s``: Adam steps (MSE) of the default network (run/train.yaml: 9 x 256
  LeakyReLU) on batches of 1024 held in memory: the arithmetic of training, no loader.
  ``train_epoch_samples_per_s``: ``climnn train``'s own figure for one epoch on the store
  (loader, checks and steps), the training that is then exported.
- ``forward_samples_per_s`` and ``_bf16``: the exported file (``climnn.export``, float32 and
  bfloat16: normalization inside, physical inputs) on one T42 grid, 8,192 columns.
  ``gemm_gflops`` and ``_bf16``: ``torch.matmul`` of the network's layer shapes (8192 x n_in
  x 256, 8 x 8192 x 256 x 256, 8192 x 256 x n_out) in that precision; ``flops_per_sample``
  counts 2 m k n a layer, divided by the batch. ``forward_gflops`` = flops_per_sample x
  forward_samples_per_s / 1e9, and ``forward_to_gemm_ratio`` = forward_gflops /
  gemm_gflops: how close the network runs to the speed of its matrix products.

Torch runs on 2 threads. Every figure is the median of several timed blocks, and the blocks
of things compared are alternated in one process (raw, loader, raw, ...; forward, gemm,
forward, ...) after a warm-up round, so that a busy phase of a shared machine hits both.
"""

from __future__ import annotations

import itertools
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

THREADS = 2
STEPS_A_FILE = 12  # time steps of each synthetic source file


@dataclass(frozen=True)
class Sizes:
    """How much the bench reads and runs (the defaults: a T42 grid, see the module)."""

    steps: int = 48  # time steps of the bench store
    nlat: int = 64
    nlon: int = 128
    levels: int = 25
    blocks: int = 7  # timed blocks of each kind, after one warm-up round
    train_steps: int = 20  # training steps a block
    forward_batch: int = 8192  # columns a forward pass (one T42 grid)
    forward_repeats: int = 5  # forward passes (and gemm sequences) a block


FULL = Sizes()
QUICK = Sizes(steps=16, blocks=3, train_steps=5, forward_repeats=2)


def bench_store(folder: Path, sizes: Sizes) -> Path:
    """A converted synthetic CBRAIN store with statistics in ``folder``."""
    from climnn.data import compute_statistics
    from climnn.data.convert import convert_cbrain
    from climnn.data.synthetic import spcam_file

    sources = []
    for first in range(0, sizes.steps, STEPS_A_FILE):
        ntime = min(STEPS_A_FILE, sizes.steps - first)
        sources.append(spcam_file(folder / f"spcam_{first}.nc", first, first, ntime=ntime,
                                  nlat=sizes.nlat, nlon=sizes.nlon, nlev=sizes.levels))
    store = convert_cbrain(sources, folder / "bench.zarr")
    for path in sources:
        path.unlink()
    compute_statistics(store)
    return store


def alternating_blocks(actions: dict[str, Callable[[], object]], blocks: int,
                       repeats: int = 1) -> dict[str, list[float]]:
    """Seconds of one call of each action, a list of ``blocks`` blocks each: the actions
    take turns block by block (``repeats`` calls a block), after one warm-up round."""
    seconds: dict[str, list[float]] = {name: [] for name in actions}
    for _ in range(blocks + 1):
        for name, action in actions.items():
            start = time.perf_counter()
            for _ in range(repeats):
                action()
            seconds[name].append((time.perf_counter() - start) / repeats)
    return {name: values[1:] for name, values in seconds.items()}


def training_dataset(store: Path, config, times=None):
    """ColumnDataset of ``store`` as the trainer builds it for ``config``."""
    from climnn.data.loader import ColumnDataset

    opt, data = config.optimizer, config.data
    return ColumnDataset(store, data.inputs, data.outputs, batch_size=opt.batch_size,
                         buffer_size=opt.buffer_size, seed=config.seed, times=times,
                         check_values=False, input_normalization=data.input_normalization,
                         masked_levels=data.masked_levels,
                         surface_flux_convention=data.surface_flux_convention, shard=(0, 1))


def loader_figures(store: Path, config, blocks: int) -> dict:
    """Samples per second of the training loader and of zarr alone over ``store``."""
    import zarr

    dataset = training_dataset(store, config)
    arrays = [zarr.open_group(store, mode="r")[name]
              for name in dataset.input_layout.names + dataset.output_layout.names]
    epochs = itertools.count()

    def raw():
        for array in arrays:
            for t in range(array.shape[0]):
                _ = array[t]  # one chunk: all columns (and levels) of a time step

    def loader():
        dataset.set_epoch(next(epochs))
        for _ in dataset:  # (x, y) tensors, as the training loop takes them
            pass

    seconds = alternating_blocks({"raw": raw, "loader": loader}, blocks)
    raw_rate = dataset.n_samples / statistics.median(seconds["raw"])
    loader_rate = dataset.n_samples / statistics.median(seconds["loader"])
    return {"loader_samples_per_s": loader_rate, "raw_read_samples_per_s": raw_rate,
            "loader_to_raw_ratio": loader_rate / raw_rate}


def train_step_rate(store: Path, config, sizes: Sizes) -> float:
    """Samples per second of Adam steps of ``config``'s network on batches in memory."""
    import torch

    from climnn.data.loader import vector_layouts
    from climnn.models import build_model, column_geometry

    layouts = vector_layouts(store, config.data.inputs, config.data.outputs,
                             check_values=False,
                             input_normalization=config.data.input_normalization,
                             masked_levels=config.data.masked_levels)
    batches = list(itertools.islice(training_dataset(store, config), sizes.train_steps))
    samples = sum(len(x) for x, _ in itertools.islice(itertools.cycle(batches),
                                                        sizes.train_steps))
    torch.manual_seed(config.seed)
    model = build_model(config.model, *layouts,
                        column_geometry(store, config.data.surface_flux_convention))
    optimizer = torch.optim.Adam(model.parameters(), lr=config.optimizer.lr)

    def steps():
        for x, y in itertools.islice(itertools.cycle(batches), sizes.train_steps):
            loss = torch.nn.functional.mse_loss(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

    seconds = alternating_blocks({"train": steps}, sizes.blocks)["train"]
    return samples / statistics.median(seconds)


def layer_shapes(model) -> list[tuple[int, int]]:
    """(in, out) features of each Linear layer of ``model``, in order."""
    import torch

    return [(m.in_features, m.out_features) for m in model.modules()
            if isinstance(m, torch.nn.Linear)]


def forward_figures(train_dir: Path, folder: Path, dataset, sizes: Sizes) -> dict:
    """The exported float32 and bfloat16 models on one batch of physical inputs, and
    torch.matmul of their layer shapes, timed in alternating blocks."""
    import torch

    from climnn.export import export_model, load_exported
    from climnn.export.trained import load_trained

    shapes = layer_shapes(load_trained(train_dir).model)
    flops_per_sample = sum(2 * k * n for k, n in shapes)
    inputs = physical_inputs(dataset, sizes.forward_batch)
    actions = {}
    for precision, suffix in (("float32", ""), ("bfloat16", "_bf16")):
        model = load_exported(export_model(train_dir, folder / f"model_{precision}.pt",
                                           precision=precision, pt2=False))
        actions["forward" + suffix] = _no_grad(model, inputs)
        actions["gemm" + suffix] = _gemms(shapes, sizes.forward_batch,
                                          getattr(torch, precision))
    seconds = alternating_blocks(actions, sizes.blocks, sizes.forward_repeats)
    figures = {"flops_per_sample": float(flops_per_sample)}
    for suffix in ("", "_bf16"):
        rate = sizes.forward_batch / statistics.median(seconds["forward" + suffix])
        gemm = flops_per_sample * sizes.forward_batch / statistics.median(
            seconds["gemm" + suffix]) / 1e9
        achieved = flops_per_sample * rate / 1e9
        figures.update({f"forward_samples_per_s{suffix}": rate,
                        f"forward_gflops{suffix}": achieved, f"gemm_gflops{suffix}": gemm,
                        f"forward_to_gemm_ratio{suffix}": achieved / gemm})
    return figures


def physical_inputs(dataset, batch: int):
    """(batch, n_in) float32 tensor of physical inputs: the store's first time steps
    (repeated when the store has fewer columns), in the input layout's order and units."""
    import torch

    rows = -(-batch // dataset.ncol)  # time steps needed
    normalized, _ = dataset.read_times(dataset.times[:rows])
    physical = dataset.input_layout.denormalize(normalized)
    physical = np.resize(physical, (batch, physical.shape[1]))
    return torch.from_numpy(physical.astype(np.float32))


def _no_grad(model, inputs) -> Callable[[], object]:
    import torch

    def forward():
        with torch.no_grad():
            return model(inputs)

    return forward


def _gemms(shapes: list[tuple[int, int]], batch: int, dtype) -> Callable[[], object]:
    """torch.matmul (batch x k) @ (k x n) of each layer shape, on random operands."""
    import torch

    generator = torch.Generator().manual_seed(0)
    operands = [(torch.randn(batch, k, generator=generator).to(dtype),
                 torch.randn(k, n, generator=generator).to(dtype)) for k, n in shapes]

    def gemm():
        for a, b in operands:
            torch.matmul(a, b)

    return gemm


def run(quick: bool = False, sizes: Sizes | None = None) -> dict:
    import torch

    from climnn import repository_file
    from climnn.bench import machine
    from climnn.threads import match_torch_threads
    from climnn.training.config import load_train_config
    from climnn.training.trainer import train

    sizes = sizes or (QUICK if quick else FULL)
    try:
        match_torch_threads(THREADS)
    except RuntimeError:  # torch's inter-op pool runs already (a caller used torch)
        torch.set_num_threads(THREADS)
    config = load_train_config(repository_file("run/train.yaml"))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        store = bench_store(folder, sizes)
        figures = loader_figures(store, config, sizes.blocks)
        figures["train_samples_per_s"] = train_step_rate(store, config, sizes)
        epoch = train(config, store, folder / "train", epochs=1, progress=False)
        figures["train_epoch_samples_per_s"] = epoch["samples_per_s"]
        dataset = training_dataset(store, config)
        figures.update(forward_figures(folder / "train", folder, dataset, sizes))
    figures["machine"] = {**machine(), "torch": torch.__version__,
                          "torch_threads": torch.get_num_threads()}
    return figures
