"""The GPU runner: what a notebook needs, the plan order, bundle parts, and a run into the ledger."""
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import gpu_run  # noqa: E402

FAKE = '''\
# %%
from corelib import report, runtime as rt

report.set_notebook("chx/fake")
cfg = rt.pick(quick=dict(steps=5), full=dict(steps=50))
report.record({"steps": rt.steps(cfg["steps"]), "profile": rt.profile()})
report.check(True, "always")
'''


def test_needs_follow_corelib_imports_and_datasets(tmp_path):
    nb = tmp_path / "ch" / "nb.py"
    nb.parent.mkdir()
    nb.write_text("import SimpleITK\nfrom corelib import report, runtime as rt\n"
                  "card = rt.run_card(seed=0, datasets=['medmnist'])\n")
    assert "SimpleITK" in gpu_run.third_party_modules(nb)
    assert "datasets" not in gpu_run.third_party_modules(nb)  # corelib's own lazy imports are not followed
    dists = gpu_run.distributions(gpu_run.third_party_modules(nb), gpu_run.ALWAYS)
    assert {"simpleitk", "monai", "nibabel", "ipython"} <= set(dists)
    assert not set(dists) & {"torch", "numpy", "scipy", "matplotlib"}  # already on the GPU machine
    assert gpu_run.datasets(nb) == ["medmnist"]


def test_plan_puts_missing_then_oldest_first(tmp_path, monkeypatch):
    a, b, c = (tmp_path / "ch" / f"{n}.py" for n in "abc")
    monkeypatch.setattr(gpu_run, "notebooks", lambda: [a, b, c])
    for name, date in (("a", "2026-11-02"), ("b", "2026-10-01")):
        entry = tmp_path / "ledger" / "ch" / f"{name}.json"
        entry.parent.mkdir(parents=True, exist_ok=True)
        entry.write_text(json.dumps({"updated": date, "runner": {"wall_s": 100}}))
    assert gpu_run.plan(ledger=tmp_path / "ledger") == [c, b, a]
    assert gpu_run.plan(budget_s=450, ledger=tmp_path / "ledger") == [c, b]  # 300 s (never run) + 100 s


def test_split_keeps_every_part_under_the_limit(tmp_path):
    out = tmp_path / "bundle"
    for i, mb in enumerate((3, 2, 2, 1)):
        f = out / "data" / f"f{i}.bin"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(b"0" * (mb * 2**20))
    (out / "manifest.json").write_text("{}")
    parts = gpu_run.split(out, part_mb=4.5)
    sizes = [sum(p.stat().st_size for p in part.rglob("*.bin")) / 2**20 for part in parts]
    assert len(parts) == 2 and max(sizes) <= 4.5 and sum(sizes) == 8
    with pytest.raises(SystemExit, match="alone"):
        gpu_run.split(out / "part1", part_mb=1.0)


@pytest.mark.timeout(120)
def test_smoke_run_writes_a_ledger_entry(tmp_path):
    nb = tmp_path / "chx" / "fake.py"
    nb.parent.mkdir()
    nb.write_text(FAKE)
    rows = gpu_run.run([nb], smoke=True, limit_s=60, ledger=tmp_path / "ledger", out=tmp_path / "out",
                       results=tmp_path / "results", site=tmp_path / "none", data=tmp_path / "none")
    assert rows[0]["runner"]["exit"] == 0, (tmp_path / "out" / "gpu_run.log").read_text()
    entry = json.loads((tmp_path / "ledger" / "chx" / "fake.json").read_text())
    assert entry["profile"] == "full" and entry["smoke"] is True
    assert entry["metrics"] == {"steps": 2, "profile": "full"}  # the full config, cut short
    assert entry["runner"]["wall_s"] > 0 and entry["commit"] and entry["checks"][0]["passed"]
    assert (tmp_path / "out" / "ledger.tar.gz").is_file()


@pytest.mark.skipif(not (Path(__import__("os").environ.get("CORELIB_DATA_MIRROR", "/nonexistent"))
                         / "bccd").is_dir(), reason="needs the offline mirror with BCCD")
def test_bundle_carries_every_image_and_annotation_of_bccd():
    """BCCD's card names only its split lists; the loader reads every image and VOC file."""
    need = gpu_run.needs(ROOT / "notebooks" / "ch4_2_detection" / "01_patch_vs_retinanet.py")
    rel = [r for _, r in need["files"]]
    assert sum(r.endswith(".jpg") for r in rel) == 364
    assert sum(r.endswith(".xml") for r in rel) == 364
    assert "bccd/BCCD/ImageSets/Main/test.txt" in rel
