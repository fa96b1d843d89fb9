"""``climnn toy NAME ...``: the toy systems' experiments. Minimal version of the Lorenz-96
branch; the logistic-map branch owns this file (merge: one entry a toy in TOYS)."""

from __future__ import annotations

from climnn.toy.lorenz96_command import add_lorenz96_parser

#: toy name -> function adding its parser to the ``toy`` subparsers
TOYS = {"lorenz96": add_lorenz96_parser}


def add_toy_command(sub):
    """Add ``toy`` and one subcommand a toy to the subparsers ``sub``."""
    toy = sub.add_parser("toy", help="toy systems: parameterization networks end to end")
    toys = toy.add_subparsers(dest="toy", required=True)
    for add in TOYS.values():
        add(toys)
    return toy
