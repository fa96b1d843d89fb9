"""``climnn bench sp`` on a tiny batch: every CRM figure measured, the SP scheme's figures
(climnn.bench.sp_cost, tested in test_sp_bench.py) in the same JSON, the table printable."""

from climnn.bench import BENCHMARKS, format_table, sp


def test_bench_sp_measures_every_crm_case_beside_the_sp_figures(monkeypatch):
    for name, value in (("NCRM", 2), ("NX", 8), ("NZ", 6)):
        monkeypatch.setattr(sp, name, value)
    measure = sp.crm_rates
    monkeypatch.setattr(sp, "crm_rates", lambda steps, blocks, threads: measure(2, 1, 1))
    monkeypatch.setattr(sp, "sp_scheme_figures", lambda quick: {"sp_seconds_per_day_T21": 2.0,
                                                                 "sp_to_hybrid_cost_ratio": 3.0})
    figures = BENCHMARKS["sp"](quick=True)
    for name, _, _ in sp.CASES:
        assert figures[name] > 0.0
        assert figures[f"{name.removesuffix('_per_s')}_per_cpu_s"] > 0.0
    assert figures["sp_seconds_per_day_T21"] == 2.0 and figures["sp_to_hybrid_cost_ratio"] == 3.0
    assert figures["load_average_before"] >= 0.0 and "cores" in figures["machine"]
    assert "crm_cell_updates_per_s" in format_table("sp", figures)


def test_bench_sp_reports_the_one_step_transport_beside_rk2(monkeypatch):
    for name, value in (("NCRM", 2), ("NX", 8), ("NZ", 6)):
        monkeypatch.setattr(sp, name, value)
    figures = sp.crm_rates(2, 2, 1)
    for name, _, rk2 in sp.ONE_STEP_CASES:
        assert figures[name] > 0.0 and figures[rk2] > 0.0
        assert figures[f"{name.removesuffix('_cell_updates_per_s')}_over_rk2_cpu"] > 0.0
