import json

import numpy as np
import pytest

from corelib import report

MAP_ROWS = """\
## Ch.2.1 Restoration
| id | method | refs | note |
|---|---|---|---|
| DN2 **R** | RED-CNN, residual encoder-decoder with shortcut connections | [2] | MSE |
| C-DN-a | claim: MSE-trained denoisers over-smooth; perceptual/adversarial losses keep texture | [4][5] | |
| C-DN-b | claim: RED-CNN's residual shortcuts beat a plain CNN-DAE | [1][2] | |
| C-SR-a | claim: learned SR beats interpolation in-plane and through-plane | [9]-[17] | |
"""


@pytest.fixture(autouse=True)
def results(tmp_path, monkeypatch):
    monkeypatch.setenv("CORELIB_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("CORELIB_PROFILE", "quick")
    monkeypatch.setattr(report, "_notebook", None)
    return tmp_path / "results"


def read(results, notebook):
    return json.loads((results / f"{notebook}.json").read_text())


def test_results_dir(monkeypatch, tmp_path):
    assert report.results_dir() == tmp_path / "results"
    monkeypatch.delenv("CORELIB_RESULTS")
    assert report.results_dir().name == "results"
    assert (report.results_dir().parent / "corelib" / "report.py").exists()


def verdict(status="reproduced"):
    return report.Verdict(status, effect=1.2, lo=0.3, hi=2.1, n=18, what="RED-CNN − CNN-DAE", unit="dB")


def test_record_and_claim_round_trip(results, capsys):
    report.record("ch2_1_restoration/01_denoising", {"psnr": np.float32(31.5), "n": np.int64(3)})
    entry = report.claim("C-DN-b", verdict(), "18 held-out slices", notebook="ch2_1_restoration/01_denoising")
    assert entry["status"] == "reproduced"
    out = capsys.readouterr().out
    assert "C-DN-b" in out and "+1.2 dB [+0.3, +2.1]" in out
    data = read(results, "ch2_1_restoration/01_denoising")
    assert data["notebook"] == "ch2_1_restoration/01_denoising"
    assert data["profile"] == "quick" and data["device"] in ("cpu", "cuda") and data["updated"]
    assert data["smoke"] is False and data["commit"]
    assert data["metrics"] == {"psnr": 31.5, "n": 3}
    c = data["claims"]["C-DN-b"]
    assert (c["status"], c["effect"], c["lo"], c["hi"], c["n"], c["unit"], c["evidence"]) == \
        ("reproduced", 1.2, 0.3, 2.1, 18, "dB", "18 held-out slices")
    assert report.load_results() == [data]


def test_merge_of_two_calls_and_default_notebook(results):
    report.set_notebook("ch1_foundations/01_data_tour")
    report.record({"a": 1, "b": {"x": 2.0}})
    report.record({"b": {"y": 3.0}, "c": [1.0, 2.0]}, profile="full")
    report.claim("C-DN-a", verdict("not reproduced"), "no texture gain")
    report.claim("C-SR-a", verdict("inconclusive"), "too few steps")
    data = read(results, "ch1_foundations/01_data_tour")
    assert data["metrics"] == {"a": 1, "b": {"y": 3.0}, "c": [1.0, 2.0]}
    assert data["claims"]["C-DN-a"]["status"] == "not reproduced"
    assert data["claims"]["C-SR-a"]["status"] == "inconclusive"
    assert data["seconds"] >= 0


def test_non_finite_metrics_become_null(results):
    report.record("nb", {"nan": float("nan"), "inf": np.float64(np.inf), "arr": np.array([1.0, np.nan])})
    text = (results / "nb.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert read(results, "nb")["metrics"] == {"nan": None, "inf": None, "arr": [1.0, None]}


def test_bad_inputs():
    with pytest.raises(ValueError, match="set_notebook"):
        report.record({"a": 1})
    with pytest.raises(ValueError, match="set_notebook"):
        report.claim("C-DN-a", verdict(), "x")
    report.set_notebook("ch/nb")
    for bad in ("C-DN-1", "C-dn-a", "DN1", "C-DNA-a", "O-OL-a"):
        with pytest.raises(ValueError, match="claim id"):
            report.claim(bad, verdict(), "x")
    with pytest.raises(ValueError, match="not in survey_map"):
        report.claim("C-XY-z", verdict(), "x")  # well-formed but not a claim of the survey
    with pytest.raises(TypeError, match="Verdict"):
        report.claim("C-DN-a", True, "x")
    with pytest.raises(ValueError, match="notebook name"):
        report.set_notebook("../escape")
    with pytest.raises(TypeError, match="dict"):
        report.record("ch/nb", [1, 2])


def test_claims_catalogue_parses_map_rows(tmp_path):
    path = tmp_path / "MAP.md"
    path.write_text(MAP_ROWS)
    catalogue = report.claims_catalogue(path)
    assert list(catalogue) == ["C-DN-a", "C-DN-b", "C-SR-a"]
    assert catalogue["C-DN-b"] == "RED-CNN's residual shortcuts beat a plain CNN-DAE"
    with pytest.raises(FileNotFoundError):
        report.claims_catalogue(tmp_path / "missing.md")


def test_scorecard_lists_every_catalogue_claim_with_quick_and_full(tmp_path, monkeypatch):
    path = tmp_path / "MAP.md"
    path.write_text(MAP_ROWS)
    report.set_notebook("ch2_1_restoration/01_denoising")
    report.record({"psnr": {"RED-CNN": 33.14159}})
    report.claim("C-DN-b", verdict(), "33.1 | 31.9 dB")
    quick = report.load_results()
    full = [dict(quick[0], profile="full", gpu="NVIDIA H200", updated="2026-12-01T10:00:00+00:00",
                 claims={"C-DN-b": dict(quick[0]["claims"]["C-DN-b"], status="not reproduced")})]
    smoke = [dict(quick[0], notebook="ch/smoked", smoke=True)]
    md = report.scorecard_markdown(quick + smoke, report.claims_catalogue(path), ledger=full)
    rows = {line.split("|")[1].strip(): line for line in md.splitlines() if line.startswith("| C-")}
    assert set(rows) == {"C-DN-a", "C-DN-b", "C-SR-a"}
    assert "… not yet measured" in rows["C-DN-a"] and "not yet run on a GPU" in rows["C-DN-a"]
    assert "✓ +1.2 dB [+0.3, +2.1]" in rows["C-DN-b"]
    assert "✗ +1.2 dB [+0.3, +2.1] (NVIDIA H200, 2026-12-01)" in rows["C-DN-b"]
    assert "smoked" not in md.split("## Metrics")[0]  # a smoke run decides nothing
    assert "33.1 | 31.9 dB" in md and "residual shortcuts" in md  # evidence and text in the fold
    assert md.count("### 2.1 Restoration") == 1
    assert "| psnr / RED-CNN | 33.14 |" in md

    out = report.write_scorecard(tmp_path / "gen" / "scorecard.md", map_path=path, title="Scorecard")
    assert out.read_text().startswith("# Scorecard")


def test_compare_rule_and_interval():
    rng = np.random.default_rng(0)
    b = rng.normal(30, 1, 40)
    better = report.compare(b + 1.0 + rng.normal(0, 0.1, 40), b, what="A − B", unit="dB")
    assert better.status == "reproduced" and 0.9 < better.lo < better.effect < better.hi < 1.1
    assert better.n == 40 and better.runs == 1
    assert report.compare(b - 1.0, b).status == "not reproduced"
    assert report.compare(b + rng.normal(0, 0.5, 40), b).status == "inconclusive"
    # the margin moves the bar; lower-is-better flips the sign so that positive favours A
    assert report.compare(b + 1.0, b, margin=2.0).status == "not reproduced"
    hd = report.compare(b - 1.0, b, higher_is_better=False)
    assert hd.status == "reproduced" and hd.effect == pytest.approx(1.0)
    # several runs: the effect is the mean over runs and cases
    two = report.compare(np.stack([b + 0.5, b + 1.5]), np.stack([b, b]))
    assert two.runs == 2 and two.effect == pytest.approx(1.0)
    # the interval is deterministic for fixed inputs (same seed)
    a = b + rng.normal(0, 1, 40)
    assert report.compare(a, b, seed=3) == report.compare(a.copy(), b.copy(), seed=3)


def test_decide_and_bad_comparisons():
    assert report.decide(0.1, 0.3) == "reproduced"
    assert report.decide(-0.3, -0.1) == "not reproduced"
    assert report.decide(-0.1, 0.3) == "inconclusive"
    assert report.decide(-0.9, -0.6, margin=-1.0) == "reproduced"  # "within 1 dB of"
    with pytest.raises(ValueError, match="reversed"):
        report.decide(0.3, 0.1)
    with pytest.raises(ValueError, match="finite"):
        report.decide(float("nan"), 0.1)
    with pytest.raises(ValueError, match="same cases"):
        report.compare([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="finite"):
        report.compare([1, np.nan, 3], [1, 2, 3])
    with pytest.raises(ValueError, match="at least 2"):
        report.compare([1.0], [0.0])
    with pytest.raises(ValueError, match="n_boot"):
        report.compare([1, 2, 3], [0, 1, 2], n_boot=0)


def test_compare_auc_matches_sklearn_and_all_of():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 120)
    good, noise = y + rng.normal(0, 0.5, 120), rng.normal(0, 1, 120)
    v = report.compare_auc(y, good, noise)
    assert v.effect == pytest.approx(roc_auc_score(y, good) - roc_auc_score(y, noise))
    assert v.status == "reproduced" and v.unit == "AUC"
    with pytest.raises(ValueError, match="one score per case"):
        report.compare_auc(y, np.c_[1 - good, good], noise)
    with pytest.raises(ValueError, match="both classes"):
        report.compare_auc(np.ones(10), np.arange(10), np.arange(10))
    both = report.all_of(inplane=v, throughplane=verdict("inconclusive"))
    assert both.status == "inconclusive" and set(both.parts) == {"inplane", "throughplane"}
    assert report.all_of(a=v, b=verdict("not reproduced")).status == "not reproduced"
    assert report.all_of(a=v, b=verdict()).status == "reproduced"
    with pytest.raises(TypeError, match="Verdict"):
        report.all_of(a=True)


def test_smoke_mode_records_instead_of_deciding(results, monkeypatch, capsys):
    report.set_notebook("ch/nb")
    with pytest.raises(AssertionError, match="must beat"):
        report.check(False, "RED-CNN must beat FBP")
    monkeypatch.setenv("CORELIB_SMOKE", "1")
    assert report.check(False, "RED-CNN must beat FBP") is False
    assert report.claim("C-DN-b", verdict(), "x")["status"] == "smoke"
    data = read(results, "ch/nb")
    assert data["smoke"] is True and data["checks"] == [{"message": "RED-CNN must beat FBP", "passed": False}]
    md = report.scorecard_markdown(report.load_results())
    assert "C-DN-b" not in md.split("## Metrics")[0]


def test_glue_records_plain_values(results):
    report.set_notebook("ch/nb")
    assert report.glue("gain_db", np.float32(1.5)) == np.float32(1.5)
    report.glue("best", "RED-CNN")
    assert read(results, "ch/nb")["glue"] == {"gain_db": 1.5, "best": "RED-CNN"}
    with pytest.raises(ValueError, match="identifier"):
        report.glue("gain db", 1.0)
    with pytest.raises(ValueError, match="finite"):
        report.glue("bad", float("nan"))


def test_stray_and_corrupt_files_in_the_results_folder(results):
    results.mkdir(parents=True)
    (results / "notes.txt").write_text("not json")
    assert report.load_results() == []
    (results / "bad.json").write_text("{")
    with pytest.raises(ValueError, match="bad.json"):
        report.load_results()
    (results / "bad.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="not a notebook"):
        report.load_results()


def test_cli(tmp_path, capsys):
    path = tmp_path / "MAP.md"
    path.write_text(MAP_ROWS)
    out = tmp_path / "scorecard.md"
    report.main(["--out", str(out), "--map", str(path)])
    assert "wrote" in capsys.readouterr().out
    assert out.read_text().count("… not yet measured") == 3


def test_headlines_for_the_chapter_openers(results, tmp_path):
    report.set_notebook("ch3_2_segmentation/01_fcn_unet_family")
    report.headline("3D U-Net, mean Dice", np.float64(0.851), published="nnU-Net 0.90")
    with pytest.raises(ValueError, match="finite number"):
        report.headline("bad", "high")
    quick = report.load_results()
    full = [dict(quick[0], profile="full", gpu="NVIDIA H200",
                 headlines={"3D U-Net, mean Dice": {"value": 0.893, "unit": "", "published": ""}})]
    md = report.headlines_markdown(quick, full, "ch3_2_segmentation")
    assert "| `01_fcn_unet_family` | 3D U-Net, mean Dice | 0.851 | 0.893 (NVIDIA H200) | nnU-Net 0.90 |" in md
    assert "No headline" in report.headlines_markdown(quick, None, "ch4_1_classification")
    paths = report.write_headlines(tmp_path / "gen")
    assert "headlines_ch3_2_segmentation.md" in [p.name for p in paths]
    assert "headlines_ch1_foundations.md" in [p.name for p in paths]  # every chapter folder gets one


def test_compare_with_several_runs_holds_the_run_to_run_spread():
    rng = np.random.default_rng(1)
    b = rng.normal(30, 1, 40)
    # every case gains about the same within a run, but the runs disagree in sign: each run alone
    # looks decided, the runs together must not
    runs = np.stack([b + g + rng.normal(0, 0.05, 40) for g in (0.6, -0.4, 0.5)])
    alone = [report.compare(r, b) for r in runs]
    assert {v.status for v in alone} == {"reproduced", "not reproduced"}
    together = report.compare(runs, np.stack([b] * 3))
    assert together.status == "inconclusive" and together.runs == 3
    assert together.lo < -0.3 and together.hi > 0.4  # wider than any one run's interval
    # runs that agree keep a decided verdict
    agree = np.stack([b + g + rng.normal(0, 0.05, 40) for g in (0.9, 1.0, 1.1)])
    assert report.compare(agree, np.stack([b] * 3)).status == "reproduced"


def test_glue_verdict_glues_effect_interval_and_status(monkeypatch):
    glued = {}
    monkeypatch.setattr(report, "glue", lambda name, value: glued.__setitem__(name, value))
    rng = np.random.default_rng(2)
    b = rng.normal(30, 1, 20)
    v = report.compare(b + 1.0, b)
    assert report.glue_verdict("v_x", v) is v
    assert glued == {"v_x_effect": v.effect, "v_x_lo": v.lo, "v_x_hi": v.hi, "v_x_status": v.status}
    with pytest.raises(TypeError, match="Verdict"):
        report.glue_verdict("v_x", 1.0)


def test_timings_table_for_the_course_page(tmp_path):
    quick = [dict(notebook="ch1_foundations/01_data_tour", profile="quick", seconds=11.9),
             dict(notebook="ch1_foundations/01_data_tour", profile="full", smoke=True, seconds=3.0)]
    full = [dict(notebook="ch1_foundations/01_data_tour", profile="full", seconds=42.4,
                 gpu="NVIDIA H200", updated="2026-12-02T10:00:00+00:00")]
    md = report.timings_markdown(quick, full, ["ch1_foundations/02_preprocessing"])
    assert "| ch1_foundations | `01_data_tour` | 12 s | 42 s (NVIDIA H200, 2026-12-02) |" in md
    assert "| ch1_foundations | `02_preprocessing` | not run yet | not yet |" in md
    assert report.timings_markdown([], None) == "No timings recorded yet.\n"
    out = report.write_timings(tmp_path / "timings.md", results=tmp_path / "none")
    assert "`01_data_tour` | not run yet" in out.read_text()  # every notebook of the book is listed
