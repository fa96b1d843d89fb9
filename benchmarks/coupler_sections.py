"""Where the hybrid step's coupler time goes: the T42 hybrid (run/hybrid_t42.yaml, the
shipped network of the chosen precision, from the shipped teacher state) stepped in blocks,
each callee of the coupler and the network scheme wrapped in a wall-clock timer. Prints
one JSON line: ms a step (medians over blocks) of each gcm.timing section and each callee,
and ``coupler_overhead`` as ``climnn bench hybrid`` defines it.

    PYTHONPATH=$PWD python benchmarks/coupler_sections.py --precision bfloat16

Callees: ``output_kernel`` (climnn.coupler.output_blocks.outputs_conserved: widening,
checks, budgets, fixes), ``input_kernels`` (climnn.coupler.fused.copy_checked, all input
arrays), ``assemble_checked`` (those with their Python), ``dissipation`` (the drag's
frictional heating, timed with the drag), ``report`` (the budget report from the kernel's
figures), ``geometry`` and ``host_fields`` (the scheme's). The timers add a few µs a call.
Figures: docs/performance.md ("Fifth pass").
"""

import argparse
import collections
import json
import statistics
import time
from pathlib import Path

import climnn
import climnn.coupler.coupler as coupler_module
import climnn.coupler.network_scheme as scheme_module
from climnn.bench.aquaplanet import section_seconds
from climnn.bench.hybrid import COUPLER_SECTIONS, SETUPS, hybrid_model, teacher_model
from climnn.coupler import fused, output_blocks

seconds = collections.defaultdict(float)


def timed(owner, name: str, label: str) -> None:
    """Replace owner.name by a wrapper that adds its wall time to seconds[label]."""
    inner = getattr(owner, name)

    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            seconds[label] += time.perf_counter() - start

    setattr(owner, name, wrapper)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--precision", choices=("float32", "bfloat16"), default="bfloat16")
    parser.add_argument("--blocks", type=int, default=6)
    parser.add_argument("--steps", type=int, default=12, help="steps a block")
    args = parser.parse_args()
    for owner, name, label in (
            (output_blocks, "outputs_conserved", "output_kernel"),
            (fused, "copy_checked", "input_kernels"), (fused, "dissipation", "dissipation"),
            (coupler_module, "report_from_stats", "report"),
            (coupler_module.Coupler, "_assemble_checked", "assemble_checked"),
            (scheme_module.NetworkScheme, "_host_fields", "host_fields"),
            (scheme_module.NetworkScheme, "_geometry", "geometry")):
        timed(owner, name, label)
    setup = SETUPS[0]
    teacher = teacher_model(setup)
    model = hybrid_model(setup, Path(climnn.repository_file(setup.models[args.precision])),
                         teacher)
    for _ in range(3):  # numba and torch warm
        model.step()
    blocks = []
    for _ in range(args.blocks):
        seconds.clear()
        block = section_seconds(model, args.steps)
        block.update(seconds)
        blocks.append({name: value / args.steps * 1e3 for name, value in block.items()})
    names = sorted(set().union(*blocks))
    out = {f"{name}_ms": statistics.median(b.get(name, 0.0) for b in blocks) for name in names}
    out["coupler_overhead"] = statistics.median(
        sum(b.get(n, 0.0) for n in COUPLER_SECTIONS) / b["physics_network"] for b in blocks)
    out.update(precision=args.precision, resolution=f"T{setup.truncation}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
