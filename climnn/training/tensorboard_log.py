"""TensorBoard event files of a training, in ``DIR/tensorboard/``, when tensorboard is installed.

One point an epoch (step = the epoch's number, from 1) of each scalar: ``loss/train``,
``loss/validation``, ``lr`` and ``samples_per_s``, the figures of ``metrics.jsonl``. Without
tensorboard nothing is written and nothing is said: ``metrics.jsonl`` holds the same figures.
See them with ``tensorboard --logdir DIR/tensorboard``.

A resumed training appends a new event file; points of epochs after the checkpoint it
resumes from (an epoch killed after its point was written) are hidden (``purge_step``).
"""

from __future__ import annotations

from pathlib import Path

FOLDER = "tensorboard"
#: metrics.jsonl key -> TensorBoard tag
SCALARS = {"train_loss": "loss/train", "validation_loss": "loss/validation", "lr": "lr",
           "samples_per_s": "samples_per_s"}


class TensorBoardLog:
    """Writes each epoch's metrics record as scalars; does nothing without tensorboard.

    out : the training directory; events go to ``out/tensorboard``
    epochs_done : epochs finished before this run (0, or the checkpoint's when resuming)
    """

    def __init__(self, out: str | Path, epochs_done: int = 0):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:  # tensorboard is optional
            self.writer = None
            return
        self.writer = SummaryWriter(str(Path(out) / FOLDER), purge_step=epochs_done + 1)

    @property
    def active(self) -> bool:
        return self.writer is not None

    def write(self, record: dict) -> None:
        """One metrics record (keys of SCALARS and ``epoch``), flushed to disk at once so a
        kill loses nothing written before it."""
        if self.writer is None:
            return
        for key, tag in SCALARS.items():
            self.writer.add_scalar(tag, record[key], record["epoch"])
        self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
