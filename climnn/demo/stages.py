"""The demo's stages: teacher run -> dataset -> statistics -> training -> evaluation ->
export -> hybrid run -> report, each one of climnn's own commands on the configurations
of this package, in one output directory:

    DIR/teacher/      the teacher run: the reference period
    DIR/data.zarr     column samples of the teacher
    DIR/train/        the network's training (and evaluation/)
    DIR/network.pt    the exported network (TorchScript)
    DIR/hybrid/       the hybrid run
    DIR/report/       climnn diagnose of the hybrid against the teacher's same days

All three runs start from the teacher's state after a year of spin-up from rest at T21,
shipped in this package (teacher_t21_state.npz, 2001-01-01 of the 360-day calendar; the
command that made it is in run/README.md, "The demo"): a moist aquaplanet needs months to
settle, which a 10-minute demo cannot spend. With --spinup-days N the teacher first runs
N more days from it, and everything after starts there. A hybrid that stops on its
guards is a result, not a failure of the demo: the report says how it ended.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

START_YEAR = 2001  # the shipped state's year: day 0 is 2001-01-01
STATE = "teacher_t21_state.npz"


class DemoStageFailed(ValueError):
    """A stage of the demo ended with an error (printed by the stage's command)."""


@dataclass(frozen=True)
class DemoPlan:
    """The demo's lengths in days: more spin-up after the shipped state's year, samples
    (from the spin-up's end, split 70/15/15 into train/validation/test by time), hybrid
    (and the teacher's reference period after the spin-up); every: a sample every so
    many steps; epochs."""

    spinup_days: int = 0
    sample_days: int = 60
    hybrid_days: int = 60
    every: int = 4
    epochs: int = 8

    def __post_init__(self):
        for name in ("spinup_days", "sample_days", "hybrid_days", "every", "epochs"):
            if getattr(self, name) < (0 if name == "spinup_days" else 1):
                raise ValueError(f"demo: {name.replace('_', '-')} must be >= "
                                 f"{0 if name == 'spinup_days' else 1}, not "
                                 f"{getattr(self, name)}")
        if self.sample_days < 3:
            raise ValueError("demo: sample-days must be >= 3 (train, validation and test "
                             "each need a day)")


def date(day: int) -> str:
    """ISO date of ``day`` days after 2001-01-01 in the 360-day calendar."""
    return f"{START_YEAR + day // 360:04d}-{day % 360 // 30 + 1:02d}-{day % 30 + 1:02d}"


def split_dates(plan: DemoPlan) -> dict[str, str]:
    """The training config's placeholders: train, validation and test periods."""
    n = plan.sample_days
    validation = plan.spinup_days + min(max(1, round(0.7 * n)), n - 2)
    test = min(validation + max(1, round(0.15 * n)), plan.spinup_days + n - 1)
    return {"TRAIN_START": date(plan.spinup_days), "VALIDATION_START": date(validation),
            "TEST_START": date(test), "TEST_END": date(plan.spinup_days + n)}


def packaged(name: str) -> str:
    """The text of one of this package's configurations."""
    return resources.files("climnn.demo").joinpath(name).read_text()


def shipped_state() -> Path:
    """The packaged teacher state after a year of spin-up (a file of the package)."""
    path = Path(str(resources.files("climnn.demo").joinpath(STATE)))
    if not path.is_file():
        raise FileNotFoundError(f"demo: the packaged state {path} is missing: reinstall "
                                "climnn (pip install -e .)")
    return path


def run_demo(out: Path, plan: DemoPlan, threads: int | None = None) -> Path:
    """Run every stage into ``out``; returns the report's path. A stage other than the
    hybrid run that fails raises DemoStageFailed naming it (its own message was printed)."""
    from climnn.cli import main

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    teacher_days = plan.spinup_days + max(plan.hybrid_days, plan.sample_days)
    for name in ("teacher.yaml", "hybrid.yaml"):
        (out / name).write_text(packaged(name))
    train_text = packaged("train.yaml")
    for key, value in split_dates(plan).items():
        train_text = train_text.replace(key, value)
    (out / "train.yaml").write_text(train_text)
    if plan.spinup_days:
        state = out / "teacher" / "restart" / f"restart_{date(plan.spinup_days)}T000000.npz"
        restart_days = plan.spinup_days
    else:
        state, restart_days = shipped_state(), teacher_days
    thread_args = [] if threads is None else ["--threads", str(threads)]
    split = split_dates(plan)
    stages = [
        ("teacher run", ["run", str(out / "teacher.yaml"), "--out", str(out / "teacher"),
                         "--days", str(teacher_days), *thread_args,
                         "--set", f"initial.file={shipped_state()}",
                         "--set", f"output.restart_interval_days={restart_days}"]),
        ("dataset", ["generate", str(out / "teacher.yaml"), "--set", f"initial.file={state}",
                     "--set", f"time.start={date(plan.spinup_days)}",
                     "--out", str(out / "data.zarr"),
                     "--days", str(plan.sample_days), "--every", str(plan.every)]),
        ("statistics", ["stats", str(out / "data.zarr"), "--period",
                        split["TRAIN_START"], split["VALIDATION_START"]]),
        ("training", ["train", str(out / "train.yaml"), "--data", str(out / "data.zarr"),
                      "--out", str(out / "train"), "--epochs", str(plan.epochs)]),
        ("evaluation", ["evaluate", str(out / "train"), "--data", str(out / "data.zarr")]),
        ("export", ["export", str(out / "train"), "--out", str(out / "network.pt"),
                    "--no-pt2"]),
        ("hybrid run", ["run", str(out / "hybrid.yaml"), "--out", str(out / "hybrid"),
                        "--days", str(plan.hybrid_days), *thread_args,
                        "--set", f"physics.parameters.model={out / 'network.pt'}",
                        "--set", f"initial.file={state}",
                        "--set", f"time.start={date(plan.spinup_days)}"]),
    ]
    began = time.perf_counter()
    total = len(stages) + 1
    for number, (what, argv) in enumerate(stages, start=1):
        _announce(number, total, what, argv, began)
        status = main(argv)
        if status != 0 and what != "hybrid run":
            raise DemoStageFailed(f"demo: stage {number} ({what}) failed; its message is above")
    hybrid_days = _days_written(out / "hybrid")
    years = math.floor(max(hybrid_days, 1.0) / 360.0 * 1e6) / 1e6  # no more than written
    argv = ["diagnose", str(out / "hybrid"), "--reference", str(out / "teacher"),
            "--model", str(out / "train"), "--years", f"{years:.6f}",
            "--out", str(out / "report")]
    _announce(total, total, "report", argv, began)
    if main(argv) != 0:
        raise DemoStageFailed(f"demo: stage {total} (report) failed; its message is above")
    print(f"demo: done in {time.perf_counter() - began:.0f} s; report: "
          f"{out / 'report' / 'report.html'}", flush=True)
    return out / "report" / "report.html"


def _announce(number: int, total: int, what: str, argv: list[str], began: float) -> None:
    print(f"\n[{number}/{total}] {what} ({time.perf_counter() - began:.0f} s so far): "
          f"climnn {' '.join(argv)}", flush=True)


def _days_written(run_dir: Path) -> float:
    """Days the history of ``run_dir`` covers (0 if it has none)."""
    from gcm.io.history import open_history

    try:
        times = open_history(run_dir)["time"].values
    except FileNotFoundError:
        return 0.0
    return (times[-1] - times[0]).total_seconds() / 86400.0 if times.size > 1 else 0.0
