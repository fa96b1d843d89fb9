"""``climnn train CONFIG --data STORE [STORE ...] --out DIR [--epochs N] [--resume]`` and ``climnn
evaluate DIR --data STORE [--out OUTDIR]``: the subcommands (torch loads only when one runs).

:func:`add_train_command` and :func:`add_evaluate_command` add their parsers to ``climnn``'s
subparsers and set the handler (``args.handler``), so that ``climnn.cli`` registers each in
one line.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_train_command(sub) -> argparse.ArgumentParser:
    """Add ``train`` to the subparsers ``sub``; its handler is ``args.handler``."""
    train = sub.add_parser("train", help="train a network on a column dataset (offline)")
    train.add_argument("config", type=Path, help="training YAML (run/train.yaml)")
    train.add_argument("--data", type=Path, required=True, nargs="+", metavar="STORE",
                       help="a climnn zarr store with stats; several: their samples pooled, "
                       "the first's statistics normalizing all, the split's dates applied to "
                       "each")
    train.add_argument("--out", type=Path, required=True, help="the training directory")
    train.add_argument("--epochs", type=int, help="total epochs (default: optimizer.epochs)")
    train.add_argument("--resume", action="store_true",
                       help="continue the training in --out from its last checkpoint")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(handler=command_train)
    return train


def command_train(args) -> int:
    from climnn.training.config import load_train_config
    from climnn.training.distributed import ranks_from_environment
    from climnn.training.trainer import train

    config = load_train_config(args.config)
    last = train(config, args.data, args.out, epochs=args.epochs, resume=args.resume,
                 progress=not args.quiet)
    if not ranks_from_environment().main:
        return 0  # under torchrun, rank 0 says how it ended
    if last:
        print(f"{args.out}: epoch {last['epoch']}, train loss {last['train_loss']:.4g}, "
              f"validation loss {last['validation_loss']:.4g}, "
              f"{last['samples_per_s']:.0f} samples/s")
    else:
        print(f"{args.out}: nothing left to train")
    return 0


def add_evaluate_command(sub) -> argparse.ArgumentParser:
    """Add ``evaluate`` to the subparsers ``sub``; its handler is ``args.handler``."""
    cmd = sub.add_parser("evaluate", help="R², RMSE and budget residuals of a trained network "
                         "on the test period, with plots")
    cmd.add_argument("directory", type=Path, help="a `climnn train` output directory")
    cmd.add_argument("--data", type=Path, required=True, help="a climnn zarr store")
    cmd.add_argument("--out", type=Path, help="where metrics.json and the plots go "
                     "(default: DIRECTORY/evaluation)")
    cmd.add_argument("--checkpoint", choices=("best", "last"), default="best",
                     help="best (lowest validation loss, default) or last epoch's weights")
    cmd.set_defaults(handler=_command_evaluate)
    return cmd


def _command_evaluate(args) -> int:
    from climnn.training.evaluate import command_evaluate

    return command_evaluate(args)
