"""The training loop: Adam on a column dataset's time split, checkpoints every epoch, resume.

A training directory holds ``train.json`` (the configuration, the store or stores and both
vector layouts: variables, levels and normalization), ``checkpoint.pt`` (the last finished epoch:
weights, Adam's state, the loop's counters and the random states of torch, numpy and
Python), ``best.pt`` (the weights of the best validation loss) and ``metrics.jsonl`` (one
line an epoch: train and validation loss, learning rate, samples/s). Every file is written
atomically (``gcm.io.atomic``), so a kill leaves the previous epoch's complete files.

Resuming gives the same weights, bit for bit, as a run that was never stopped: the data
order of an epoch depends only on (seed, epoch) (``ColumnDataset.set_epoch``), the
learning rate only on the epoch, and batches are read in the training process in order.

Progress: a bar of the epoch's samples with samples/s, and a line an epoch (losses, rate,
samples/s) on stderr; TensorBoard event files in ``tensorboard/`` when tensorboard is
installed (``climnn.training.tensorboard_log``). Under ``torchrun`` the same call runs on
every process with DistributedDataParallel (``climnn.training.distributed``): each rank
reads its own share of the time steps, the epoch's losses are summed over the ranks (so
all stop at the same epoch), and only rank 0 writes files and shows progress.
"""

from __future__ import annotations

import json
import math
import random
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from climnn.data.loader import ColumnDataset, vector_layouts
from climnn.data.schema import DatasetError, validate_store
from climnn.data.stats import load_statistics
from climnn.extras import import_torch
from climnn.models import build_model, column_geometry
from climnn.training import distributed
from climnn.training.config import TrainConfig, train_config_from_dict
from climnn.training.losses import build_loss, output_spread, output_weights
from climnn.training.split import split_times
from climnn.training.tensorboard_log import TensorBoardLog
from climnn.training.vertical_modes import ZigzagPenalty, zigzag_penalty
from gcm.config import ConfigError
from gcm.io.atomic import atomic_path, write_json

torch = import_torch("climnn.training (training)")

RECORD, CHECKPOINT, BEST, METRICS = "train.json", "checkpoint.pt", "best.pt", "metrics.jsonl"
VALIDATION_BATCH = 8192  # samples of a validation batch: memory only, not the result


@dataclass
class LoopState:
    """The loop's counters: the next epoch, the best validation loss and the epochs since it,
    and one metrics record a finished epoch."""

    epoch: int = 0
    best: float = math.inf
    stale: int = 0
    history: list | None = None
    stopped_early: bool = False


def learning_rate(config: TrainConfig, epoch: int, epochs: int) -> float:
    """The rate of epoch ``epoch`` (0-based) of ``epochs``: constant, step (x step_factor every
    step_epochs) or cosine (from lr to 0 over the run)."""
    opt = config.optimizer
    if opt.schedule == "step":
        return opt.lr * opt.step_factor ** (epoch // opt.step_epochs)
    if opt.schedule == "cosine":
        return 0.5 * opt.lr * (1.0 + math.cos(math.pi * epoch / epochs))
    return opt.lr


def train(config: TrainConfig, store, out: str | Path, *, epochs: int | None = None,
          resume: bool = False, progress: bool = True, stop_after: int | None = None) -> dict:
    """Train (or with ``resume`` continue) the network of ``config`` on ``store`` into ``out``.

    store : a store, or a sequence of stores whose samples are pooled: the first gives the
        normalization, the vertical grid and the statistics' check; the split's dates
        select time steps of each by its own time coordinate (ColumnDataset)
    epochs : total epochs of the run (default: optimizer.epochs)
    stop_after : return after so many epochs of this call, as if killed (tests of resume)
    Returns the last epoch's metrics record. Raises ValueError (ConfigError, DatasetError,
    FileExistsError) naming the file and what is wrong before anything is written. Under
    torchrun every process calls it (``climnn.training.distributed``).
    """
    from climnn.threads import match_torch_threads

    ranks = distributed.start()  # under torchrun: joins the other processes
    try:
        match_torch_threads(distributed.threads_per_rank(ranks))
    except RuntimeError:
        pass  # torch's inter-op pool already runs (a caller used torch): only speed differs
    stores, out = _as_stores(store), Path(out)
    store = stores[0]
    progress = progress and ranks.main
    epochs = config.optimizer.epochs if epochs is None else epochs
    if epochs < 1:
        raise ValueError(f"--epochs must be >= 1, got {epochs}")
    layouts = _layouts(config, store)
    penalty = zigzag_penalty(config.loss, layouts)  # its inputs named before anything is written
    for other in stores[1:]:  # a typo named before anything is read or written
        validate_store(other, require_outputs=False, check_values=False)
    record = {"config": config.to_dict(), "store": str(store.resolve()),
              "stores": [str(s.resolve()) for s in stores],
              "input_layout": layouts[0].as_metadata(), "output_layout": layouts[1].as_metadata()}
    _check_out(out, record, resume)
    distributed.barrier(ranks)  # every rank has checked --out before rank 0 writes in it
    times = xr.open_zarr(store, consolidated=False)["time"].values
    splits = _splits(config, stores, times)
    if ranks.main:
        warn_if_statistics_see_beyond_training(store, times, splits[0]["train"],
                                               config.split.train)
    train_set, valid_set = _datasets(config, stores, splits, ranks.shard)
    distributed.check_shares(train_set, ranks)
    device = distributed.device(ranks)
    torch.manual_seed(config.seed)
    geometry = column_geometry(store, config.data.surface_flux_convention)
    model = build_model(config.model, *layouts, geometry).to(device)
    stats = load_statistics(store)
    loss_fn = build_loss(config.loss, layouts, geometry,
                         output_weights(config.loss, layouts[1], stats),
                         output_spread(layouts[1], stats) if config.loss.kind == "huber"
                         else None)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.optimizer.lr)
    state = LoopState(history=[])
    if resume:
        state = _load_checkpoint(out / CHECKPOINT, model, optimizer, device)
    elif ranks.main:
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / RECORD, record)
    done = 0
    net = distributed.wrap(model, ranks)  # steps average the ranks' gradients
    log = TensorBoardLog(out, state.epoch) if ranks.main else None
    while state.epoch < epochs and not state.stopped_early and done != stop_after:
        lr = learning_rate(config, state.epoch, epochs)
        for group in optimizer.param_groups:
            group["lr"] = lr
        start = time.perf_counter()
        sums = _train_epoch(net, optimizer, loss_fn, train_set, state.epoch, device, progress,
                            _input_noise(config, layouts[0], device), penalty)
        seconds = time.perf_counter() - start
        sums += _evaluate(model, loss_fn, valid_set, device)
        state.history.append(_epoch_record(state.epoch + 1, lr, sums, seconds, ranks))
        valid_loss = state.history[-1]["validation_loss"]
        improved = valid_loss < state.best
        state.best, state.stale = (valid_loss, 0) if improved else (state.best, state.stale + 1)
        state.epoch += 1
        patience = config.optimizer.patience
        state.stopped_early = patience > 0 and state.stale >= patience
        if ranks.main:
            _save(out, model, optimizer, state, improved)
            log.write(state.history[-1])
        if progress:
            _report(state.history[-1], epochs, improved)
        done += 1
    if log is not None:
        log.close()
    distributed.barrier(ranks)  # rank 0's files are complete when any rank returns
    return state.history[-1] if state.history else {}


def _epoch_record(epoch: int, lr: float, sums: list[float], seconds: float,
                  ranks: distributed.Ranks) -> dict:
    """The metrics of an epoch (1-based) from this rank's [train loss x samples, samples,
    validation loss x samples, samples], summed over the ranks: the same on every rank."""
    train_total, train_count, valid_total, valid_count = distributed.all_sum(sums, ranks)
    return {"epoch": epoch, "train_loss": train_total / train_count,
            "validation_loss": valid_total / valid_count, "lr": lr,
            "samples_per_s": train_count / seconds, "seconds": seconds,
            "samples_per_rank": distributed.all_gather(sums[1], ranks)}


def _layouts(config: TrainConfig, store: Path):
    data = config.data
    layouts = vector_layouts(store, data.inputs, data.outputs, check_values=False,
                             input_normalization=data.input_normalization,
                             masked_levels=data.masked_levels)
    nlev = max(layouts[0].levels + layouts[1].levels)
    if data.levels and nlev != data.levels:
        raise DatasetError(f"{store}: profiles have {nlev} levels, the training configuration "
                           f"asks for data.levels = {data.levels}")
    return layouts


def _check_out(out: Path, record: dict, resume: bool) -> None:
    """--out must be new, empty or a training that never finished an epoch (a fresh run),
    or hold this very training (resume)."""
    held, started = out / RECORD, (out / CHECKPOINT).exists()
    if not resume:
        if started:
            raise FileExistsError(f"{out} holds a training already ({CHECKPOINT}); continue it "
                                  f"with --resume or choose another --out (nothing was written)")
        if not held.exists() and out.exists() and any(out.iterdir()):
            raise FileExistsError(f"{out} is not empty and holds no training; choose another "
                                  f"--out (nothing was written)")
        return
    if not started or not held.exists():
        raise FileNotFoundError(f"{out}: nothing to resume (no {RECORD} and {CHECKPOINT} of a "
                                f"finished epoch); start the training without --resume")
    before = json.loads(held.read_text())
    started = before.get("stores", [before["store"]])
    if max(len(started), len(record["stores"])) > 1 and started != record["stores"]:
        raise DatasetError(f"{out}: the training being resumed pooled {started}, this call "
                           f"{record['stores']}; resume with the same stores (--data), in "
                           f"the same order")
    for key in ("input_layout", "output_layout"):
        if before[key] != record[key]:
            raise DatasetError(
                f"{record['store']}: variables, levels or normalization differ from those of "
                f"the training in {out} ({key}: {before[key]['names']} x "
                f"{before[key]['levels']}); resume with the store it was started on")
    old = train_config_from_dict(before["config"], str(held)).to_dict()
    new = record["config"]
    for section in new:
        if old[section] != new[section] and section != "optimizer":
            raise ValueError(f"{out}: the configuration's '{section}' differs from that of the "
                             f"training being resumed ({RECORD}): {old[section]} != "
                             f"{new[section]}")


def _as_stores(store) -> list[Path]:
    """``train``'s store argument as a list of paths (one or more)."""
    if isinstance(store, str | Path):
        return [Path(store)]
    stores = [Path(s) for s in store]
    if not stores:
        raise ValueError("train: no store given (--data)")
    return stores


def _splits(config: TrainConfig, stores: list[Path], first_times: np.ndarray) -> list[dict]:
    """Each store's split (climnn.training.split): one store must hold train and
    validation steps as before; pooled stores together (ConfigError naming them all)."""
    if len(stores) == 1:
        return [split_times(config.split, first_times, "training configuration")]
    splits = [split_times(config.split, first_times, "training configuration", required=())]
    for path in stores[1:]:
        times = xr.open_zarr(path, consolidated=False)["time"].values
        splits.append(split_times(config.split, times, f"training configuration ({path})",
                                  required=()))
    for name in ("train", "validation"):
        if not any(split[name].size for split in splits):
            raise ConfigError(f"training configuration: split.{name}: "
                              f"{list(getattr(config.split, name))} holds no time step of "
                              f"any of the stores {[str(s) for s in stores]}")
    return splits


def _datasets(config: TrainConfig, stores: list[Path], splits: list[dict],
              shard: tuple[int, int]):
    """The training and validation datasets of this process's ``shard`` (index, count),
    each over the stores' time steps of its split."""
    opt, data = config.optimizer, config.data
    common = {"inputs": data.inputs, "outputs": data.outputs, "check_values": False,
              "input_normalization": data.input_normalization,
              "masked_levels": data.masked_levels,
              "surface_flux_convention": data.surface_flux_convention, "shard": shard}
    source = stores[0] if len(stores) == 1 else stores

    def times(name):
        return splits[0][name] if len(stores) == 1 else [split[name] for split in splits]

    train_set = ColumnDataset(source, times=times("train"), batch_size=opt.batch_size,
                              buffer_size=opt.buffer_size, seed=config.seed, **common)
    valid_set = ColumnDataset(source, times=times("validation"),
                              batch_size=VALIDATION_BATCH, shuffle=False, **common)
    return train_set, valid_set


def _input_noise(config: TrainConfig, input_layout, device) -> torch.Tensor | None:
    """(n_in,) std of the noise on each normalized input (loss.input_noise where the
    input is shown, 0 at masked levels), or None without noise."""
    if config.loss.input_noise == 0:
        return None
    shown = torch.tensor(input_layout.factor != 0, dtype=torch.float32)
    return (config.loss.input_noise * shown).to(device)


def _train_epoch(model, optimizer, loss_fn, dataset: ColumnDataset, epoch: int, device,
                 progress: bool, noise: torch.Tensor | None = None,
                 penalty: ZigzagPenalty | None = None) -> list[float]:
    """One pass over this process's share of the training split: [sum of loss x samples,
    samples]. ``model`` may be DDP's: every step then averages the ranks' gradients, and
    every rank takes the same number of steps (``distributed.balanced_steps``). ``noise``:
    (n_in,) std of Gaussian noise added to each batch's inputs (torch's generator, which
    the checkpoints keep), the loss's own terms still from the clean inputs. ``penalty``:
    ``loss.zigzag_weight``'s, added to the loss (the training loss reported includes it)."""
    from tqdm import tqdm

    dataset.set_epoch(epoch)
    index, count = dataset.shard
    shares = [dataset.shard_samples(rank) for rank in range(count)]
    steps = distributed.balanced_steps(dataset, shares, dataset.batch_size, index)
    model.train()
    total, count = 0.0, 0
    with tqdm(total=shares[index], unit="samples", unit_scale=True, disable=not progress,
              desc=f"epoch {epoch + 1}", leave=False) as bar:
        for x, y, weight in steps:
            _check_finite(dataset, x, y)
            x, y = x.to(device), y.to(device)
            seen = x if noise is None else x + noise * torch.randn_like(x)
            if penalty is None:
                loss = loss_fn(model(seen), y, x)
            else:
                prediction, extra = penalty(model, seen)
                loss = loss_fn(prediction, y, x) + extra
            optimizer.zero_grad(set_to_none=True)
            (loss if weight == 1.0 else loss * weight).backward()
            optimizer.step()
            if weight:  # 0: a rank whose share ran out, stepping with the others
                total += float(loss.detach()) * len(x)
                count += len(x)
                bar.update(len(x))
    return [total, count]


@torch.no_grad()
def _evaluate(model, loss_fn, dataset: ColumnDataset, device) -> list[float]:
    """[sum of loss x samples, samples] over this process's share of a split (in order, no
    shuffling); ``model`` unwrapped, so that no rank waits for another."""
    model.eval()
    total, count = 0.0, 0
    for x, y in dataset:
        _check_finite(dataset, x, y)
        x, y = x.to(device), y.to(device)
        total += float(loss_fn(model(x), y, x)) * len(x)
        count += len(x)
    return [total, count]


def _report(record: dict, epochs: int, improved: bool) -> None:
    """One line an epoch on stderr, below the progress bar."""
    import sys

    from tqdm import tqdm

    tqdm.write(f"epoch {record['epoch']}/{epochs}: train loss {record['train_loss']:.4g}, "
               f"validation loss {record['validation_loss']:.4g}{' (best)' if improved else ''}"
               f", lr {record['lr']:.3g}, {record['samples_per_s']:.0f} samples/s", file=sys.stderr)


def _check_finite(dataset: ColumnDataset, x, y) -> None:
    if bool(torch.isfinite(x).all()) and bool(torch.isfinite(y).all()):
        return
    raise DatasetError(_nonfinite_where(dataset))


def _nonfinite_where(dataset: ColumnDataset) -> str:
    """Name the first non-finite value among the dataset's time steps: store, variable,
    time, column (batches are shuffled, so the split is searched step by step)."""
    for k, part in enumerate(dataset.parts):
        times = xr.open_zarr(part.path, consolidated=False)["time"].values
        for t in part.times:
            vectors = dataset.read_times(np.array([t]), k)
            for layout, values in zip((dataset.input_layout, dataset.output_layout), vectors,
                                      strict=True):
                bad = ~np.isfinite(values)
                if bad.any():
                    column, entry = np.argwhere(bad)[0]
                    name = next(n for n, s in layout.slices.items()
                                if s.start <= entry < s.stop)
                    level = entry - layout.slices[name].start
                    return (f"{part.path}: {name} is not finite at time {times[t]} (index "
                            f"{t}), column {column}, level {level}; fix or drop that time step")
    return f"{dataset.store}: a batch holds non-finite values"


def _rng_states() -> dict:
    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state(),
            "python": random.getstate(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def _save(out: Path, model, optimizer, state: LoopState, improved: bool) -> None:
    checkpoint = {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                  "state": vars(state), "rng": _rng_states()}
    if improved:
        with atomic_path(out / BEST) as tmp:
            torch.save({"model": model.state_dict(), "epoch": state.epoch}, tmp)
    with atomic_path(out / METRICS) as tmp:
        tmp.write_text("".join(json.dumps(line) + "\n" for line in state.history))
    with atomic_path(out / CHECKPOINT) as tmp:
        torch.save(checkpoint, tmp)


def _load_checkpoint(path: Path, model, optimizer, device) -> LoopState:
    checkpoint = torch.load(path, map_location=device, weights_only=False)
    try:
        model.load_state_dict(checkpoint["model"])
    except RuntimeError as err:
        raise ValueError(f"{path}: a checkpoint of another architecture: "
                         f"{str(err).splitlines()[0]}") from None
    optimizer.load_state_dict(checkpoint["optimizer"])
    rng = checkpoint["rng"]
    torch.set_rng_state(rng["torch"])
    np.random.set_state(rng["numpy"])
    random.setstate(rng["python"])
    if rng["cuda"]:
        torch.cuda.set_rng_state_all(rng["cuda"])
    return LoopState(**checkpoint["state"])


class NormalizationLeakWarning(UserWarning):
    """The normalization statistics cover time steps outside the train period."""


def warn_if_statistics_see_beyond_training(store: Path, times: np.ndarray, train: np.ndarray,
                                           train_range: tuple) -> None:
    """Warn when the store's statistics (``climnn stats``), which the normalization uses,
    cover time steps outside the train period (validation or test data then shape the
    network's inputs, if only through their means and ranges). ``train_range``: the
    config's split.train, dates or fractions."""
    from climnn.data.stats import times_in_period

    attrs = load_statistics(store, check_source=False).attrs
    start, end = attrs.get("period_start", ""), attrs.get("period_end", "")
    covered = (np.arange(times.size) if not start
               else times_in_period(times, start, end, str(store)))
    outside = np.setdiff1d(covered, train).size
    if outside:
        what = f"[{start}, {end})" if start else "the whole store"
        period = (" ".join(train_range) if isinstance(train_range[0], str)
                  else "START END (the train period's dates)")
        warnings.warn(
            f"{store}: the normalization statistics cover {what}: {outside} time steps "
            f"outside the train period; compute them on the train period alone: climnn "
            f"stats {store} --period {period}", NormalizationLeakWarning, stacklevel=2)
