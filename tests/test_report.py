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


def test_record_and_claim_round_trip(results, capsys):
    report.record("02_restoration/01_denoising", {"psnr": np.float32(31.5), "n": np.int64(3)})
    entry = report.claim("C-DN-b", np.bool_(True), "RED-CNN 33.1 dB vs CNN-DAE 31.9 dB",
                         notebook="02_restoration/01_denoising")
    assert entry["status"] == "reproduced"
    assert "C-DN-b" in capsys.readouterr().out
    data = read(results, "02_restoration/01_denoising")
    assert data["notebook"] == "02_restoration/01_denoising"
    assert data["profile"] == "quick" and data["device"] in ("cpu", "cuda") and data["updated"]
    assert data["metrics"] == {"psnr": 31.5, "n": 3}
    assert data["claims"]["C-DN-b"] == {"status": "reproduced", "evidence": "RED-CNN 33.1 dB vs CNN-DAE 31.9 dB"}
    assert report.load_results() == [data]


def test_merge_of_two_calls_and_default_notebook(results):
    report.set_notebook("01_foundations/01_data_tour")
    report.record({"a": 1, "b": {"x": 2.0}})
    report.record({"b": {"y": 3.0}, "c": [1.0, 2.0]}, profile="full")
    report.claim("C-DN-a", False, "no texture gain")
    report.claim("C-SR-a", None, "too few steps")
    data = read(results, "01_foundations/01_data_tour")
    assert data["metrics"] == {"a": 1, "b": {"y": 3.0}, "c": [1.0, 2.0]}
    assert data["claims"]["C-DN-a"]["status"] == "not reproduced"
    assert data["claims"]["C-SR-a"]["status"] == "inconclusive"  # passed=None


def test_non_finite_metrics_become_null(results):
    report.record("nb", {"nan": float("nan"), "inf": np.float64(np.inf), "arr": np.array([1.0, np.nan])})
    text = (results / "nb.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert read(results, "nb")["metrics"] == {"nan": None, "inf": None, "arr": [1.0, None]}


def test_bad_inputs():
    with pytest.raises(ValueError, match="set_notebook"):
        report.record({"a": 1})
    with pytest.raises(ValueError, match="set_notebook"):
        report.claim("C-DN-a", True, "x")
    report.set_notebook("ch/nb")
    for bad in ("C-DN-1", "C-dn-a", "DN1", "C-DNA-a"):
        with pytest.raises(ValueError, match="claim id"):
            report.claim(bad, True, "x")
    with pytest.raises(TypeError, match="True, False or None"):
        report.claim("C-DN-a", 0.7, "x")
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


def test_scorecard_lists_every_catalogue_claim(tmp_path):
    path = tmp_path / "MAP.md"
    path.write_text(MAP_ROWS)
    report.set_notebook("02_restoration/01_denoising")
    report.record({"psnr": {"RED-CNN": 33.14159}})
    report.claim("C-DN-b", True, "33.1 | 31.9 dB")
    report.claim("C-XY-z", None, "outside the catalogue")
    md = report.scorecard_markdown(claims_catalogue=report.claims_catalogue(path))
    rows = {line.split("|")[1].strip(): line for line in md.splitlines() if line.startswith("| C-")}
    assert set(rows) == {"C-DN-a", "C-DN-b", "C-SR-a", "C-XY-z"}
    assert "… not yet measured" in rows["C-DN-a"] and "… not yet measured" in rows["C-SR-a"]
    assert "✓ reproduced" in rows["C-DN-b"] and "residual shortcuts" in rows["C-DN-b"]
    assert "33.1 \\| 31.9 dB" in rows["C-DN-b"] and "quick" in rows["C-DN-b"]
    assert "~ inconclusive" in rows["C-XY-z"]
    assert "| psnr / RED-CNN | 33.14 |" in md

    out = report.write_scorecard(tmp_path / "gen" / "scorecard.md", map_path=path, title="Scorecard")
    assert out.read_text().startswith("# Scorecard")


def test_cli(tmp_path, capsys):
    path = tmp_path / "MAP.md"
    path.write_text(MAP_ROWS)
    out = tmp_path / "scorecard.md"
    report.main(["--out", str(out), "--map", str(path)])
    assert "wrote" in capsys.readouterr().out
    assert out.read_text().count("| … not yet measured |") == 3
