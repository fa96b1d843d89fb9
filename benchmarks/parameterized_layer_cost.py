"""Cost of a training step of the T31 seed network (103 -> 9 x 256 -> 57, leaky ReLU)
with each kind of weight parameterization, relative to the dense one: forward, backward
and an Adam step on a batch, timed in alternating blocks in one process (ratios only:
absolute times on a shared machine mean little).

    PYTHONPATH=$PWD python benchmarks/parameterized_layer_cost.py --batch 1024 --rounds 5

Prints one JSON object: per kind, its trained numbers and the median over rounds of its
step time divided by the dense network's of the same round.
"""

import argparse
import json
import sys
import time

import numpy as np
import torch

from climnn.models import build_model
from climnn.training.config import NetworkConfig

KINDS = {"dense": {}, "svd": {"layer": "svd"}, "symmetric": {"layer": "symmetric"},
         "linearized": {"kind": "linearized"}}


def step_seconds(model, optimizer, x, y, steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        optimizer.zero_grad()
        ((model(x) - y) ** 2).mean().backward()
        optimizer.step()
    return (time.perf_counter() - start) / steps


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=5, help="steps a block")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    layout_in, layout_out = (type("Layout", (), {"size": n})() for n in (103, 57))
    models = {}
    for name, changes in KINDS.items():
        torch.manual_seed(0)
        model = build_model(NetworkConfig(**changes), layout_in, layout_out)
        models[name] = (model, torch.optim.Adam(model.parameters(), lr=1e-4))
    x, y = torch.randn(args.batch, 103), torch.randn(args.batch, 57)
    for model, optimizer in models.values():  # warm-up (first jvp, allocations)
        step_seconds(model, optimizer, x, y, 1)
    ratios = {name: [] for name in models}
    for _ in range(args.rounds):
        times = {name: step_seconds(m, o, x, y, args.steps) for name, (m, o) in models.items()}
        for name in models:
            ratios[name].append(times[name] / times["dense"])
    trained = {name: sum(p.numel() for p in m.parameters() if p.requires_grad)
               for name, (m, _) in models.items()}
    print(json.dumps({name: {"trained_numbers": trained[name],
                             "step_time_vs_dense": round(float(np.median(r)), 2)}
                      for name, r in ratios.items()}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
