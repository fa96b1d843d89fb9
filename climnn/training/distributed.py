"""Training on several processes: torchrun's environment, the process group, DDP, sums.

``climnn train`` runs unchanged under ``torchrun --nproc_per_node N -m climnn.cli train ...``
(or ``python -m torch.distributed.run``): torchrun starts N processes and tells each its
place in ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK``. Each process (a rank) then

- joins one process group (gloo on CPU, nccl on CUDA, one GPU a rank: ``cuda:LOCAL_RANK``);
- uses cores / world size torch threads, so that the ranks do not take each other's cores;
- holds the same network wrapped in DistributedDataParallel (DDP), which averages the
  gradients of every step over the ranks, so that every rank applies the same update and
  the replicas stay equal, optimizer state included. The ranks' shares of an epoch may
  differ by a read, so every rank takes as many steps as the longest share has batches
  (:func:`balanced_steps`), each batch's loss weighted so that a step's gradient is the
  mean over all the samples the ranks hold at that step;
- reads its own share of the time steps (``ColumnDataset(shard=(rank, world))``);
- adds its sums (loss x samples, samples) to the others' (:func:`all_sum`), so that every
  rank sees the same epoch losses and stops at the same epoch.

Only rank 0 writes files. Without torchrun's variables everything here is a no-op for one
process (rank 0 of 1).
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from climnn.extras import import_torch

torch = import_torch("climnn.training.distributed (training on several processes)")


@dataclass(frozen=True)
class Ranks:
    """This process's place: ``rank`` of ``world`` processes, ``local`` on its machine."""

    rank: int = 0
    world: int = 1
    local: int = 0

    @property
    def main(self) -> bool:
        """True on the rank that writes files and shows progress."""
        return self.rank == 0

    @property
    def shard(self) -> tuple[int, int]:
        """(index, count) of this rank's share of the data (``ColumnDataset(shard=...)``)."""
        return self.rank, self.world


def ranks_from_environment(environ=os.environ) -> Ranks:
    """The Ranks torchrun's variables give (WORLD_SIZE, RANK, LOCAL_RANK), or one process."""
    try:
        world = int(environ.get("WORLD_SIZE", 1))
        rank, local = int(environ.get("RANK", 0)), int(environ.get("LOCAL_RANK", 0))
    except ValueError as err:
        raise ValueError(f"torchrun's WORLD_SIZE, RANK or LOCAL_RANK is not a number: "
                         f"{err}") from None
    if world < 1 or not 0 <= rank < world or local < 0:
        raise ValueError(f"torchrun's environment names rank {rank} (local {local}) of "
                         f"{world} processes")
    return Ranks(rank, world, local)


def start() -> Ranks:
    """This process's Ranks; when torchrun started several, joined to their process group
    (once a process: later calls find it joined; left at the process's exit, since joining a
    second group in one process can hang)."""
    ranks = ranks_from_environment()
    if ranks.world > 1 and not torch.distributed.is_initialized():
        cuda = torch.cuda.is_available()
        if cuda:
            torch.cuda.set_device(ranks.local)
        torch.distributed.init_process_group("nccl" if cuda else "gloo")
        atexit.register(_leave)
    return ranks


def _leave() -> None:
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


def device(ranks: Ranks):
    """CUDA when present (this rank's GPU), else the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda", ranks.local)
    return torch.device("cpu")


def threads_per_rank(ranks: Ranks, cores: int | None = None) -> int:
    """torch threads of a rank: the cores (default: numba's thread count, all cores unless
    NUMBA_NUM_THREADS says otherwise) shared among the ranks, at least 1."""
    if cores is None:
        import numba

        cores = numba.get_num_threads()
    return max(1, cores // ranks.world)


def wrap(model, ranks: Ranks):
    """``model`` in DDP when there are several ranks, else ``model`` itself."""
    if ranks.world == 1:
        return model
    on_gpu = next(model.parameters()).is_cuda
    return torch.nn.parallel.DistributedDataParallel(
        model, device_ids=[ranks.local] if on_gpu else None)


def unwrap(model):
    """The network inside DDP (its state_dict has no 'module.' prefix), or ``model``."""
    return getattr(model, "module", model)


def check_shares(dataset, ranks: Ranks) -> None:
    """Raise ValueError unless every rank has a share of ``dataset`` (a ColumnDataset of
    shard (rank, world)) to train on."""
    if len(dataset.groups) < ranks.world:
        steps = sum(part.times.size for part in dataset.parts)
        raise ValueError(f"{dataset.store}: the training split has {steps} time "
                         f"steps, fewer than the {ranks.world} processes torchrun started; "
                         f"start fewer (--nproc_per_node)")


def balanced_steps(batches: Iterable, shares: list[int], batch_size: int,
                   rank: int) -> Iterator[tuple[object, object, float]]:
    """(x, y, loss weight) of this rank's steps of an epoch: as many steps as the longest
    share has batches, the same count on every rank.

    batches : this rank's batches (ColumnDataset: ``batch_size`` samples, the last shorter)
    shares : samples of each rank's share of the epoch, in rank order
    The weight of a batch of n samples at a step where the ranks hold N samples together is
    world x n / N (1 when all batches are full), so that DDP's mean of the ranks' gradients
    is the gradient of the mean loss over those N samples. A rank whose share has run out
    repeats its last batch with weight 0: it adds nothing but takes part in the step.
    """
    sizes = [[batch_size] * (n // batch_size) + [n % batch_size] * (n % batch_size > 0)
             for n in shares]
    batches, last = iter(batches), None
    for step in range(max(len(s) for s in sizes)):
        together = sum(s[step] for s in sizes if step < len(s))
        if step < len(sizes[rank]):
            last = next(batches)
            yield last[0], last[1], len(shares) * len(last[0]) / together
        else:
            yield last[0], last[1], 0.0


def all_sum(values: list[float], ranks: Ranks) -> list[float]:
    """Each of ``values`` summed over the ranks (float64), the same list on every rank."""
    if ranks.world == 1:
        return list(values)
    total = torch.tensor(values, dtype=torch.float64)
    if torch.distributed.get_backend() == "nccl":
        total = total.cuda()
    torch.distributed.all_reduce(total)
    return total.cpu().tolist()


def all_gather(value: float, ranks: Ranks) -> list[float]:
    """``value`` of every rank, in rank order (e.g. what each rank read)."""
    values = [0.0] * ranks.world
    values[ranks.rank] = float(value)
    return all_sum(values, ranks)


def barrier(ranks: Ranks) -> None:
    """Wait for every rank (e.g. all have checked --out before rank 0 writes in it)."""
    if ranks.world > 1:
        torch.distributed.barrier()
