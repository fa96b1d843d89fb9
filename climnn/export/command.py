"""``climnn export DIR --out model.pt [--precision P] [--checkpoint C] [--no-pt2]
[--portable]``.

:func:`add_export_command` adds the parser to ``climnn``'s subparsers and sets its handler
(``args.handler``), so that ``climnn.cli`` registers it in one line.
"""

from __future__ import annotations

import argparse
from pathlib import Path

PRECISION_CHOICES = ("float32", "bfloat16")  # climnn.export.physical.PRECISIONS, without torch
CHECKPOINT_CHOICES = ("best", "last")  # climnn.export.trained.CHECKPOINTS


def add_export_command(sub) -> argparse.ArgumentParser:
    """Add ``export`` to the subparsers ``sub``; its handler is ``args.handler``."""
    export = sub.add_parser("export", help="write a trained network as one TorchScript file "
                            "(physical inputs and outputs, metadata inside) and a .pt2")
    export.add_argument("train_dir", type=Path, metavar="DIR",
                        help="the --out directory of 'climnn train'")
    export.add_argument("--out", type=Path, required=True,
                        help="the TorchScript file to write (model.pt); the .pt2 goes beside")
    export.add_argument("--precision", choices=PRECISION_CHOICES, default="float32",
                        help="arithmetic of the network's layers (default float32)")
    export.add_argument("--checkpoint", choices=CHECKPOINT_CHOICES, default="best",
                        help="weights of the best validation loss or of the last epoch")
    export.add_argument("--no-pt2", action="store_true",
                        help="do not write the torch.export program (.pt2)")
    export.add_argument("--portable", action="store_true",
                        help="plain torch layers instead of oneDNN's fused ones (slower; for "
                        "a libtorch built without oneDNN)")
    export.set_defaults(handler=command_export)
    return export


def command_export(args) -> int:
    from climnn.export import export_model, read_metadata

    path = export_model(args.train_dir, args.out, precision=args.precision,
                        checkpoint=args.checkpoint, pt2=not args.no_pt2,
                        portable=args.portable)
    meta = read_metadata(path)
    names = lambda side: " ".join(v["name"] for v in meta[side])  # noqa: E731
    written = f"{path}" + ("" if args.no_pt2 else f" and {path.with_suffix('.pt2')}")
    print(f"wrote {written}: {meta['n_in']} inputs ({names('inputs')}) -> {meta['n_out']} "
          f"outputs ({names('outputs')}), {meta['precision']}, epoch "
          f"{meta['training']['checkpoint_epoch']} of {meta['training']['epochs_trained']}")
    return 0
