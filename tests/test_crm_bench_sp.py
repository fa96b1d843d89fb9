"""``climnn bench sp`` on a tiny batch: every CRM figure measured, the SP figures left empty
with the reason (the SP scheme is not on this branch), the table printable."""

from climnn.bench import BENCHMARKS, format_table, sp


def test_bench_sp_measures_every_crm_case_and_leaves_sp_figures_empty(monkeypatch):
    for name, value in (("NCRM", 2), ("NX", 8), ("NZ", 6)):
        monkeypatch.setattr(sp, name, value)
    measure = sp.crm_rates
    monkeypatch.setattr(sp, "crm_rates", lambda steps, blocks, threads: measure(2, 1, 1))
    figures = BENCHMARKS["sp"](quick=True)
    for name, _, _ in sp.CASES:
        assert figures[name] > 0.0
        assert figures[f"{name.removesuffix('_per_s')}_per_cpu_s"] > 0.0
    assert figures["sp_seconds_per_day_T21"] is None
    assert figures["sp_to_hybrid_cost_ratio"] is None
    assert "not on this branch" in figures["sp_pending"]
    assert figures["load_average_before"] >= 0.0 and "cores" in figures["machine"]
    assert "crm_cell_updates_per_s" in format_table("sp", figures)


def test_bench_sp_reports_the_one_step_transport_beside_rk2(monkeypatch):
    for name, value in (("NCRM", 2), ("NX", 8), ("NZ", 6)):
        monkeypatch.setattr(sp, name, value)
    figures = sp.crm_rates(2, 2, 1)
    for name, _, rk2 in sp.ONE_STEP_CASES:
        assert figures[name] > 0.0 and figures[rk2] > 0.0
        assert figures[f"{name.removesuffix('_cell_updates_per_s')}_over_rk2_cpu"] > 0.0
