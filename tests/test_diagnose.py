"""``climnn diagnose`` end to end on a short run: against itself, against a perturbed
copy, the report's files (opened in headless Chromium where it is installed), and the
bad inputs that end in one clear message."""

import json
import shutil

import numpy as np
import pytest
import zarr

from climnn.cli import main

YEARS = "0.004"  # 1.44 days of the 2-day run


@pytest.fixture(scope="module")
def short_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("diag") / "run"
    assert main(["run", "run/aquaplanet.yaml", "--quiet", "--out", str(out), "--days", "2",
                 "--set", "resolution.truncation=21", "--set", "time.step_minutes=30",
                 "--set", "output.interval_hours=6", "--set", "output.restart_interval_days=0",
                 "--set", "initial.temperature=285", "--set", "initial.humidity=0.002"]) == 0
    return out


@pytest.fixture(scope="module")
def self_report(short_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "report"
    assert main(["diagnose", str(short_run), "--reference", str(short_run), "--years", YEARS,
                 "--out", str(out)]) == 0
    return out


def test_a_run_against_itself_differs_by_nothing(self_report):
    metrics = json.loads((self_report / "metrics.json").read_text())
    for name in ("ta", "hus", "ua", "pr", "flnt"):
        assert metrics[f"{name}_zonal_mean_rmse"] == 0.0, name
    assert metrics["pr_p99_tropics_mm_day"] == metrics["reference_pr_p99_tropics_mm_day"]
    assert metrics["msf_max_1e10_kg_s"] == metrics["reference_msf_max_1e10_kg_s"]
    assert 100.0 < metrics["flnt_global_mean"] < 400.0  # W m-2 of outgoing longwave
    assert metrics["run_ending"] == "finished" and metrics["run_days"] == 2.0
    assert metrics["stability_verdict"] in ("stable", "drifting")
    # the teacher's energy budget closes: what the fixers leave is round-off of E
    assert abs(metrics["energy_budget_residual_mean_w_m2"]) < 0.05


def test_the_report_names_every_figure_it_holds(self_report):
    md = (self_report / "report.md").read_text()
    html = (self_report / "report.html").read_text()
    figures = sorted(p.name for p in self_report.glob("*.png"))
    assert {"zonal_mean_ta.png", "streamfunction.png", "pr_histogram.png", "budgets.png",
            "global_means.png"} <= set(figures)
    for f in figures:
        assert f"({f})" in md, f
    assert html.count('src="data:image/png;base64,') == len(figures)
    assert "http" not in html.replace("http-equiv", "")  # nothing fetched from outside


def test_a_perturbed_copy_shows_the_perturbation_where_it_was_put(short_run, tmp_path):
    from climnn.diagnostics.mean_climate import compare_mean_climate
    from gcm.io.history import open_history

    copy = tmp_path / "perturbed"
    shutil.copytree(short_run, copy)
    ta = zarr.open_group(copy / "history.zarr", mode="r+")["ta"]
    k, j = 7, 10
    values = ta[:]
    values[:, k, j, :] += 3.0
    ta[:] = values
    comparison = compare_mean_climate(open_history(copy), open_history(short_run), 0.004)
    diff = (comparison["ta"].run - comparison["ta"].reference).values
    assert diff[k, j] == pytest.approx(3.0, rel=1e-12)
    diff[k, j] = 0.0
    assert np.abs(diff).max() == 0.0
    out = tmp_path / "report"
    assert main(["diagnose", str(copy), "--reference", str(short_run), "--years", YEARS,
                 "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["ta_zonal_mean_rmse"] > 0.0 and metrics["hus_zonal_mean_rmse"] == 0.0


def test_bad_inputs_end_in_one_clear_message(short_run, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["diagnose", str(empty), "--out", str(tmp_path / "r1")]) == 2
    assert f"no history in {empty}" in capsys.readouterr().err

    assert main(["diagnose", str(short_run), "--reference", str(short_run), "--years", "1",
                 "--out", str(tmp_path / "r2")]) == 2
    assert f"run {short_run}: the history covers 2 days" in capsys.readouterr().err

    other = tmp_path / "other_grid"
    shutil.copytree(short_run, other)
    from gcm.io.history import open_history

    coarse = open_history(short_run).isel(lat=slice(0, 16)).load()
    shutil.rmtree(other / "history.zarr")
    coarse.to_zarr(other / "history.zarr", zarr_format=3)
    assert main(["diagnose", str(short_run), "--reference", str(other), "--years", YEARS,
                 "--out", str(tmp_path / "r3")]) == 2
    assert "differ in lat: 32 values against 16" in capsys.readouterr().err

    torn = tmp_path / "torn"
    shutil.copytree(short_run, torn)
    ta = zarr.open_group(torn / "history.zarr", mode="r+")["ta"]
    ta.resize((ta.shape[0] + 1, *ta.shape[1:]))
    assert main(["diagnose", str(torn), "--out", str(tmp_path / "r4")]) == 2
    assert "interrupted in the middle of an append" in capsys.readouterr().err


def test_a_run_whose_log_never_ended_is_judged_incomplete(short_run, tmp_path):
    cut = tmp_path / "cut"
    shutil.copytree(short_run, cut)
    log = (cut / "run.log").read_text().splitlines()
    (cut / "run.log").write_text("\n".join(x for x in log if "finished at" not in x) + "\n")
    out = tmp_path / "report"
    assert main(["diagnose", str(cut), "--years", YEARS, "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["stability_verdict"] == "incomplete"
    assert "ta_zonal_mean_rmse" not in metrics  # no reference: the run's means alone
    assert "Stability verdict: incomplete" in (out / "report.md").read_text()


def chromium_driver():
    """A headless Chromium WebDriver from the system's chromium and chromedriver, or a
    pytest skip naming what is missing (.ci/run installs both where it can)."""
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or driver is None:
        pytest.skip("headless browser test: chromium and chromedriver are not installed "
                    "(Debian packages chromium, chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver",
                                    reason="headless browser test: selenium is not installed")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1200,900"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(driver), options=options)


def test_the_report_renders_in_a_real_browser(self_report, tmp_path):
    import matplotlib.image

    browser = chromium_driver()
    try:
        browser.get((self_report / "report.html").as_uri())
        images = browser.execute_script(
            "return Array.from(document.images).map("
            "i => [i.alt, i.complete, i.naturalWidth, i.naturalHeight]);")
        links = browser.execute_script(
            "return Array.from(document.querySelectorAll('[href]')).map(a => a.href);")
        title = browser.title
        shot = tmp_path / "report.png"
        browser.save_screenshot(str(shot))
    finally:
        browser.quit()
    assert title.startswith("climnn diagnostics")
    assert len(images) == len(list(self_report.glob("*.png")))
    for alt, complete, width, height in images:
        assert complete and width > 0 and height > 0, alt
    assert links == []  # self-contained: nothing to follow, nothing broken
    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[0] > 100 and pixels[..., :3].std() > 0.05  # not a blank page


def test_the_offline_stability_verdict_sits_beside_the_online_outcome(short_run, tmp_path,
                                                                      capsys):
    stability = tmp_path / "stability.json"
    stability.write_text(json.dumps({"verdict": "unstable", "worst_growth_per_day": 2.5,
                                     "worst_propagating_growth_per_day": 0.8}))
    out = tmp_path / "report"
    assert main(["diagnose", str(short_run), "--years", YEARS, "--stability", str(stability),
                 "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["offline_stability_verdict"] == "unstable"
    md = (out / "report.md").read_text()
    assert "## Offline stability analysis" in md
    assert f"unstable; online this run is {metrics['stability_verdict']}" in md
    stability.write_text(json.dumps({"growth": 1.0}))
    assert main(["diagnose", str(short_run), "--years", YEARS, "--stability", str(stability),
                 "--out", str(tmp_path / "r2")]) == 2
    assert "no 'verdict': not a stability.json" in capsys.readouterr().err
    assert not (tmp_path / "r2").exists()
