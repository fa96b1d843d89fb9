"""Forward pass of exported-model variants over torch.matmul of the same layer shapes.

The seed network (9 x 256, LeakyReLU 0.3) on a T42L25 grid's 8,192 columns (104 inputs,
55 outputs), 2 threads, float32 and bfloat16, random weights and layouts: the gemm
baseline (``torch.matmul`` of every layer's shapes), then the physical module (normalization
inside) with plain torch layers or oneDNN's fused ones (``climnn.export.fused``), eager,
traced (TorchScript), frozen (what ``climnn export`` writes) and
``torch.jit.optimize_for_inference``. All variants alternate call by call in one process;
the figure is the median of ``--rounds`` calls, and the ratio ``forward/gemm`` is the gemm's
median time over the variant's (the bench's ``forward_to_gemm_ratio``; bar >= 0.7).

    PYTHONPATH=$PWD python benchmarks/export_variants.py [--rounds 21]
"""

import argparse
import copy
import statistics
import time

import numpy as np
import torch

from climnn.data.loader import VectorLayout
from climnn.export.physical import PhysicalModel, for_inference
from climnn.export.quiet import torchscript_quiet
from climnn.export.writer import sample_inputs, to_torchscript
from climnn.models.seed_mlp import SeedMLP

BATCH, NLEV = 8192, 25
INPUTS = (("T", "Q", "U", "V", "PS", "SOLIN", "SHFLX", "LHFLX"), (NLEV,) * 4 + (1,) * 4)
OUTPUTS = (("TPHYSTND", "PHQ", "FSNT", "FSNS", "FLNT", "FLNS", "PRECT"), (NLEV,) * 2 + (1,) * 5)


def layout(names, levels, rng) -> VectorLayout:
    size = sum(levels)
    return VectorLayout(names, levels, ("1",) * len(names), rng.uniform(1, 300, size),
                        1 / rng.uniform(1, 50, size))


def variants(net, inputs, outputs, x) -> dict:
    """name -> a call of one forward pass over the batch ``x``."""
    calls = {}
    for precision in ("float32", "bfloat16"):
        dtype = getattr(torch, precision)
        mats = [(torch.randn(BATCH, m.in_features, dtype=dtype),
                 torch.randn(m.in_features, m.out_features, dtype=dtype))
                for m in net if isinstance(m, torch.nn.Linear)]
        calls[f"gemm {precision}"] = lambda mats=mats: [torch.matmul(a, b) for a, b in mats]
        for fused in (False, True):
            model = PhysicalModel(for_inference(copy.deepcopy(net), precision, fused), inputs,
                                  outputs).eval().requires_grad_(False)
            with torchscript_quiet(), torch.no_grad():
                traced = torch.jit.trace(model, x[:5], check_trace=False)
                optimized = torch.jit.optimize_for_inference(
                    torch.jit.trace(model, x[:5], check_trace=False))
            layers = "fused" if fused else "plain"
            for name, module in (("eager", model), ("traced", traced),
                                 ("frozen", to_torchscript(model, x[:5])),
                                 ("optimized", optimized)):
                calls[f"{name} {layers} {precision}"] = lambda m=module: m(x)
    return calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=21, help="calls of each variant")
    args = parser.parse_args()
    torch.set_num_threads(2)
    rng = np.random.default_rng(0)
    inputs, outputs = layout(*INPUTS, rng), layout(*OUTPUTS, rng)
    torch.manual_seed(0)
    net = SeedMLP(inputs.size, outputs.size).eval()
    flops = 2 * BATCH * sum(m.in_features * m.out_features for m in net
                            if isinstance(m, torch.nn.Linear))
    x = sample_inputs(inputs, BATCH)
    calls = variants(net, inputs, outputs, x)
    seconds = {name: [] for name in calls}
    with torch.no_grad():
        for call in calls.values():
            call()
        for _ in range(args.rounds):
            for name, call in calls.items():
                start = time.perf_counter()
                call()
                seconds[name].append(time.perf_counter() - start)
    print(f"{flops / 1e9:.2f} GFLOP a forward pass of {BATCH} columns; median of "
          f"{args.rounds} alternating calls, 2 threads")
    for name, times in seconds.items():
        median = statistics.median(times)
        gemm = statistics.median(seconds[f"gemm {name.split()[-1]}"])
        print(f"{name:26s} {median * 1e3:8.2f} ms {flops / median / 1e9:7.1f} GFLOP/s "
              f"forward/gemm {gemm / median:.3f}")


if __name__ == "__main__":
    main()
