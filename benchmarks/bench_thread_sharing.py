"""How numba, ducc0 and torch share the cores: a moist model and a network in one process.

Usage: ``python benchmarks/bench_thread_sharing.py [--repeats 2] [--rounds 3] [--block 6]``

Each child process builds the moist T42L25 teacher model (run/aquaplanet.yaml, started
moist at 285 K) and a float32 MLP the size of the seed network (130 inputs, 9 hidden
layers of 256 with LeakyReLU, 70 outputs) applied to 8192 columns (the T42 grid), then
alternates, for torch intra-op threads 1 and 2 (inter-op 1, numba on all cores):

    steps     ``block`` model steps
    forward   ``block`` forward passes
    hybrid    ``block`` times (step, forward), as a run with a network in the loop

recording wall and CPU seconds of each block. The parent runs children under
``OMP_WAIT_POLICY`` PASSIVE and ACTIVE and with torch imported after numba's threads
started (one OpenMP runtime) or before gcm (torch's own libgomp: two), alternating the
conditions ``repeats`` times, and prints per condition the median ms per step, per
forward and per hybrid pair, the hybrid's cost over step + forward, and the CPU use
(CPU seconds / wall seconds; 2.0 = both cores busy). On a shared machine only ratios
between conditions mean anything.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
COLUMNS, INPUTS, HIDDEN, LAYERS, OUTPUTS = 8192, 130, 256, 9, 70
POLICIES = ("PASSIVE", "ACTIVE")
ORDERS = ("numba_first", "torch_first")
MODES = ("steps", "forward", "hybrid")


def timed(action, count: int) -> tuple[float, float]:
    """Wall and CPU seconds of ``count`` calls of ``action``."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(count):
        action()
    return time.perf_counter() - wall, time.process_time() - cpu


def seed_network(torch):
    """The seed network's shape: LAYERS hidden layers of HIDDEN units, LeakyReLU."""
    layers, width = [], INPUTS
    for _ in range(LAYERS):
        layers += [torch.nn.Linear(width, HIDDEN), torch.nn.LeakyReLU()]
        width = HIDDEN
    return torch.nn.Sequential(*layers, torch.nn.Linear(width, OUTPUTS)).eval()


def child(order: str, rounds: int, block: int) -> None:
    """One process: the blocks for torch threads 1 and 2, alternated; JSON lines out."""
    if order == "torch_first":
        import torch  # loads torch's own libgomp before numba's runtime starts
    sys.path.insert(0, str(REPOSITORY))
    import climnn
    from gcm.config import load_config
    from gcm.model import Model

    config = load_config(climnn.repository_file("run/aquaplanet.yaml"),
                         **{"initial.temperature": 285.0, "initial.humidity": 0.005})
    model = Model(config)
    for _ in range(24):  # compile, and leave the first steps' transients behind
        model.step()
    import torch

    torch.set_num_interop_threads(1)
    network, columns = seed_network(torch), torch.randn(COLUMNS, INPUTS)

    def forward():
        with torch.inference_mode():
            network(columns)

    def pair():
        model.step()
        forward()

    forward()
    actions = {"steps": model.step, "forward": forward, "hybrid": pair}
    for r in range(rounds):
        for threads in ((1, 2) if r % 2 == 0 else (2, 1)):
            torch.set_num_threads(threads)
            for mode in MODES:
                wall, cpu = timed(actions[mode], block)
                print(json.dumps({"threads": threads, "mode": mode, "wall": wall / block,
                                  "cpu": cpu / block}), flush=True)


def run_child(policy: str, order: str, rounds: int, block: int) -> list[dict]:
    env = dict(os.environ, OMP_WAIT_POLICY=policy, PYTHONPATH=str(REPOSITORY))
    done = subprocess.run([sys.executable, __file__, "--child", order, "--rounds", str(rounds),
                           "--block", str(block)], env=env, capture_output=True, text=True,
                          check=True)
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return [dict(row, policy=policy, order=order) for row in rows]


def summary(rows: list[dict]) -> list[dict]:
    """Per (policy, order, threads): median ms of each mode, hybrid / (step + forward), CPU use."""
    out = []
    for policy in POLICIES:
        for order in ORDERS:
            for threads in (1, 2):
                pick = [r for r in rows if (r["policy"], r["order"], r["threads"])
                        == (policy, order, threads)]
                if not pick:
                    continue
                ms = {m: 1e3 * statistics.median(r["wall"] for r in pick if r["mode"] == m)
                      for m in MODES}
                use = {m: statistics.median(r["cpu"] / r["wall"] for r in pick
                                            if r["mode"] == m) for m in MODES}
                out.append(dict(policy=policy, order=order, torch_threads=threads,
                                **{f"{m}_ms": round(ms[m], 1) for m in MODES},
                                hybrid_over_sum=round(ms["hybrid"] / (ms["steps"]
                                                                      + ms["forward"]), 3),
                                **{f"{m}_cpu_use": round(use[m], 2) for m in MODES}))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=2, help="alternations of the conditions")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of blocks per process")
    parser.add_argument("--block", type=int, default=6, help="steps or forwards a block")
    parser.add_argument("--child", choices=ORDERS, help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, help="also write every block's figures here")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.rounds, args.block)
        return
    rows = []
    for repeat in range(args.repeats):
        policies = POLICIES if repeat % 2 == 0 else POLICIES[::-1]
        for policy in policies:
            for order in ORDERS:
                rows += run_child(policy, order, args.rounds, args.block)
    if args.json:
        args.json.write_text(json.dumps(rows))
    for line in summary(rows):
        print(json.dumps(line))


if __name__ == "__main__":
    main()
