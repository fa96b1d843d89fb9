"""The spectral-RNN paper's addition and copy tasks (Zhang, Lei & Dhillon 2018): a plain
RNN, an LSTM and the spectral RNN of one hidden size, each trained for a wall-time budget.

    PYTHONPATH=$PWD python benchmarks/spectral_rnn_tasks.py --out out/spectral_rnn \
        --seconds 150 --hidden 64 --addition 100 --copy 100
    # the copy task as learned (docs/weight_parameterizations.md):
    PYTHONPATH=$PWD python benchmarks/spectral_rnn_tasks.py --out out/copy100 --seconds 180 \
        --hidden 128 --addition 0 --copy 100 --activation modrelu --optimizer rmsprop \
        --lr 3e-4 --clip 1 --eps 0.01 --kinds rnn,orth_rnn,lstm,spectral

Writes into OUT: runs.json (losses every iteration, ‖∂L/∂h_t‖ over t at the start and the
end), addition_loss.png, addition_gradients.png, copy_loss.png, copy_gradients.png; prints
one line a run. OUT must not hold a runs.json already (nothing is overwritten).
"""

import argparse
import sys
from pathlib import Path

import torch

from climnn.models.rnn_tasks import OPTIMIZERS, compare
from climnn.models.spectral_rnn import ACTIVATIONS, CELLS


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seconds", type=float, default=150.0, help="wall time per run")
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--addition", type=int, default=100, help="its T; 0: skip")
    parser.add_argument("--copy", type=int, default=100, help="its delay T; 0: skip")
    parser.add_argument("--eps", type=float, default=0.05, help="spectral σ in [1-eps, 1+eps]")
    parser.add_argument("--activation", choices=ACTIVATIONS, default="tanh",
                        help="of the plain and the spectral RNN")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--optimizer", choices=tuple(OPTIMIZERS), default="adam")
    parser.add_argument("--clip", type=float, default=None,
                        help="clip every network's gradient norm to this (default: none)")
    parser.add_argument("--kinds", default="rnn,lstm,spectral",
                        help=f"comma-separated, of {','.join(CELLS)}")
    parser.add_argument("--iterations", type=int, default=None,
                        help="stop each run after this many (also at --seconds)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    if (args.out / "runs.json").exists():
        sys.exit(f"{args.out / 'runs.json'} exists; choose another --out (nothing written)")
    kinds = tuple(args.kinds.split(","))
    if not set(kinds) <= set(CELLS):
        sys.exit(f"--kinds {args.kinds}: each must be one of {','.join(CELLS)}")
    torch.set_num_threads(args.threads)
    tasks = {name: steps for name, steps in (("addition", args.addition), ("copy", args.copy))
             if steps > 0}
    compare(tasks, args.hidden, args.seconds, args.out, kinds,
            eps=args.eps, lr=args.lr, activation=args.activation, optimizer=args.optimizer,
            clip=args.clip, max_iterations=args.iterations, seed=args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
