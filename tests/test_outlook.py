"""Chapter 5 robustness helpers (corelib.outlook), report.compare_unpaired and the O-OL ids."""
import numpy as np
import pytest

from corelib import outlook as ol
from corelib import report


@pytest.fixture(autouse=True)
def results(tmp_path, monkeypatch):
    monkeypatch.setenv("CORELIB_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("CORELIB_PROFILE", "quick")
    monkeypatch.delenv("CORELIB_SMOKE", raising=False)
    monkeypatch.setattr(report, "_notebook", None)


def blob(shape=(60, 70, 60), centre=(30, 35, 30), radius=(5, 12, 6)):
    grid = np.indices(shape)
    r = sum(((g - c) / s) ** 2 for g, c, s in zip(grid, centre, radius))
    return r <= 1


# ----------------------------------------------------------------------------- crops
def test_crop_is_centred_on_the_structure_and_mirrors():
    mask = blob()
    img = np.arange(mask.size, dtype=np.float32).reshape(mask.shape)
    crop, lab, inside = ol.hippocampus_crop(img, mask, shape=(36, 50, 36))
    assert crop.shape == lab.shape == (36, 50, 36) and inside == 1.0
    assert np.allclose(np.argwhere(lab).mean(0), (np.array(lab.shape) - 1) / 2, atol=0.6)
    assert lab.sum() == mask.sum()
    m_crop, m_lab, _ = ol.hippocampus_crop(img, mask, shape=(36, 50, 36), mirror=True)
    assert np.array_equal(m_crop, crop[::-1]) and np.array_equal(m_lab, lab[::-1])
    # an offset moves the box: the structure's centroid lands off centre by the offset
    _, lab2, _ = ol.hippocampus_crop(img, mask, shape=(36, 50, 36), offset=(-2, 1, -2))
    shift = np.argwhere(lab2).mean(0) - (np.array(lab2.shape) - 1) / 2
    assert np.allclose(shift, (-2, 1, -2), atol=0.6)


def test_crop_near_the_border_pads_and_reports_the_share_inside():
    mask = blob(centre=(3, 35, 30))
    img = np.ones(mask.shape, np.float32) * 7
    img[0, 0, 0] = 2
    crop, lab, inside = ol.hippocampus_crop(img, mask, shape=(36, 50, 36))
    assert 0 < inside <= 1 and crop.min() == 2            # outside the volume: the image minimum
    with pytest.raises(ValueError, match="empty"):
        ol.hippocampus_crop(img, np.zeros_like(mask))
    with pytest.raises(ValueError, match="shape"):
        ol.hippocampus_crop(img, mask[:-1])


# ----------------------------------------------------------------------------- shifts
@pytest.mark.parametrize("kind", list(ol.SHIFTS))
def test_each_shift_changes_the_image_more_as_it_grows(kind):
    rng = np.random.default_rng(0)
    img = (rng.random((24, 30, 24)) * 100 + 50).astype(np.float32)
    img[8:16, 10:20, 8:16] += 80
    changes = [float(np.abs(ol.shift(img, kind, s, seed=3) - img).mean()) for s in ol.SHIFTS[kind]]
    assert all(c > 0 for c in changes)
    assert changes[-1] > changes[0], (kind, changes)
    assert np.array_equal(ol.shift(img, kind, ol.SHIFTS[kind][1], seed=3),
                          ol.shift(img, kind, ol.SHIFTS[kind][1], seed=3)), "seeded"
    identity = 1 if kind in ("gamma", "thick") else 0
    assert np.array_equal(ol.shift(img, kind, identity), img)


def test_shift_rejects_bad_input():
    img = np.ones((8, 8, 8), np.float32)
    with pytest.raises(ValueError, match="unknown shift"):
        ol.shift(img, "contrast", 1.0)
    with pytest.raises(ValueError):
        ol.shift(img, "noise", -0.1)
    with pytest.raises(ValueError, match="thickness"):
        ol.shift(img, "thick", 0.5)


def test_whole_dice_merges_the_classes():
    truth = np.zeros((4, 4, 4), int)
    truth[:2] = 1
    truth[2:3] = 2
    prob = np.zeros((3, 4, 4, 4))
    prob[0] = 1
    prob[:, :3] = 0
    prob[1, :3] = 0.3
    prob[2, :3] = 0.3                       # neither class wins alone, together they do
    assert ol.whole_dice(prob, truth) == 1.0
    prob[1, 2], prob[2, 2], prob[0, 2] = 0.2, 0.2, 0.6
    assert ol.whole_dice(prob, truth) == pytest.approx(2 * 2 / (2 + 3))
    with pytest.raises(ValueError, match="classes"):
        ol.whole_dice(prob[0], truth)


def test_real_crops_are_oriented_like_msd():
    """Colin27, MNI152 and SRI24 crops, right ones mirrored, match the mean MSD crop's orientation."""
    pytest.importorskip("nilearn")
    from corelib import data

    try:
        msd = data.load_hippocampus(40)
        real = ol.real_hippocampi()
    except Exception as err:  # data not installed here
        pytest.skip(f"data not available: {err}")

    def centred(img, lab, half=(16, 24, 16)):
        c = np.round(np.argwhere(lab > 0).mean(0)).astype(int) + np.array(half)
        a = np.pad(np.asarray(img, float), [(h, h) for h in half], mode="edge")
        a = a[tuple(slice(ci - h, ci + h) for ci, h in zip(c, half))]
        return ((a - a.mean()) / a.std()).ravel()

    mean = np.mean([centred(c.image.array, c.label.array) for c in msd], 0).reshape(32, 48, 32)
    assert [c.case_id for c in real] == ["Colin27 left", "Colin27 right", "MNI152 left",
                                         "MNI152 right", "SRI24 left", "SRI24 right"]
    for c in real:
        z = centred(c.image, c.label)
        as_is, mirrored = np.corrcoef(z, mean.ravel())[0, 1], np.corrcoef(z, mean[::-1].ravel())[0, 1]
        assert as_is > mirrored + 0.2, (c.case_id, as_is, mirrored)
        assert c.image.shape == c.label.shape == ol.MSD_CROP and c.inside > 0.9


# ----------------------------------------------------------------------------- unpaired verdicts
def test_compare_unpaired_follows_the_rule():
    rng = np.random.default_rng(1)
    a, b = 0.85 + 0.02 * rng.standard_normal(39), 0.4 + 0.1 * rng.standard_normal(6)
    v = report.compare_unpaired(a, b, what="in-domain - shifted")
    assert v.status == "reproduced" and v.effect == pytest.approx(a.mean() - b.mean())
    assert v.lo < v.effect < v.hi and v.n == 6 and v.runs == 1
    assert report.compare_unpaired(b, a).status == "not reproduced"
    assert report.compare_unpaired(a, b, higher_is_better=False).status == "not reproduced"
    same = report.compare_unpaired(a[:20], a[20:])
    assert same.status == "inconclusive"
    assert report.compare_unpaired(a, b, margin=0.6).status == "not reproduced"


def test_compare_unpaired_with_runs_widens_for_run_noise():
    rng = np.random.default_rng(2)
    base = 0.02 * rng.standard_normal(30)
    a = np.stack([0.8 + base, 0.6 + base])            # two runs far apart
    b = np.stack([0.7 + base[:10], 0.7 + base[:10]])
    v = report.compare_unpaired(a, b)
    assert v.runs == 2 and v.status == "inconclusive"
    with pytest.raises(ValueError, match="same runs"):
        report.compare_unpaired(a, b[:1])
    with pytest.raises(ValueError, match="at least 2"):
        report.compare_unpaired(a[:, :1], b)
    with pytest.raises(ValueError, match="finite"):
        report.compare_unpaired([0.1, np.nan], [0.2, 0.3])
    with pytest.raises(ValueError, match="cases"):
        report.compare_unpaired(np.zeros((2, 2, 2)), np.zeros((2, 2)))


# ----------------------------------------------------------------------------- O-OL ids on the scorecard
MAP = """\
| C-DN-a | claim: MSE-trained denoisers over-smooth | [4][5] | |
## Ch.5 Outlook (survey §5)
| id | topic | note |
|---|---|---|
| OL3 | robustness | run in 5a |
| O-OL3-a | statement: augmentation for simulated shifts helps on them | run in 5a |
| O-OL3-b | statement: it helps on a real shift | run in 5a |
"""


def test_outlook_statements_are_claims_on_the_scorecard(tmp_path, monkeypatch):
    path = tmp_path / "survey_map.md"
    path.write_text(MAP)
    monkeypatch.setattr(report, "MAP_PATH", path)
    catalogue = report.claims_catalogue(path)
    assert catalogue["O-OL3-a"] == "augmentation for simulated shifts helps on them"
    assert list(catalogue) == ["C-DN-a", "O-OL3-a", "O-OL3-b"]
    report.set_notebook("ch5_outlook/01_robustness_domain_shift")
    v = report.compare([0.8, 0.7, 0.9, 0.75], [0.6, 0.5, 0.7, 0.55])
    report.claim("O-OL3-a", v, evidence="4 cases")
    with pytest.raises(ValueError, match="not in survey_map"):
        report.claim("O-OL3-z", v)
    md = report.scorecard_markdown(report.load_results(), catalogue)
    section = md.split("### 5 Outlook")[1].split("###")[0]
    rows = {line.split("|")[1].strip(): line for line in section.splitlines() if line.startswith("| O-")}
    assert set(rows) == {"O-OL3-a", "O-OL3-b"}
    assert "✓" in rows["O-OL3-a"] and "01_robustness_domain_shift" in rows["O-OL3-a"]
    assert "not yet measured" in rows["O-OL3-b"]


def test_the_book_map_lists_the_ol3_statements():
    catalogue = report.claims_catalogue(report.MAP_PATH)
    assert {"O-OL3-a", "O-OL3-b", "O-OL3-c"} <= set(catalogue)


def test_pseudo_labels_keep_only_confident_pixels():
    p = np.zeros((3, 2, 2))
    p[:, 0, 0] = (0.95, 0.03, 0.02)   # confident background
    p[:, 0, 1] = (0.05, 0.91, 0.04)   # confident class 1
    p[:, 1, 0] = (0.30, 0.30, 0.40)   # unsure
    p[:, 1, 1] = (0.05, 0.05, 0.90)   # exactly at the threshold: left out
    out = ol.pseudo_labels(p, threshold=0.9)
    assert out.tolist() == [[0, 1], [ol.IGNORE, ol.IGNORE]]
    assert ol.pseudo_labels(p, threshold=0.0).tolist() == [[0, 1], [2, 2]]
    with pytest.raises(ValueError):
        ol.pseudo_labels(p[:1])
    with pytest.raises(ValueError):
        ol.pseudo_labels(p, threshold=1.5)


def test_masked_dice_ce_matches_dicece_and_ignores_pixels():
    import torch

    from corelib import segmentation as seg

    g = torch.Generator().manual_seed(0)
    logits = torch.randn(4, 3, 8, 6, generator=g)
    y = torch.randint(0, 3, (4, 8, 6), generator=g)
    ref = seg.make_loss("dicece")(logits, y)
    assert torch.allclose(ol.masked_dice_ce(logits, y), ref, atol=1e-5)
    # ignored pixels do not count, whatever the logits there
    y2 = y.clone()
    y2[:, :4] = ol.IGNORE
    other = logits.clone()
    other[:, :, :4] = torch.randn(4, 3, 4, 6, generator=g) * 10
    assert torch.allclose(ol.masked_dice_ce(logits, y2), ol.masked_dice_ce(other, y2))
    assert not torch.allclose(ol.masked_dice_ce(logits, y2), ol.masked_dice_ce(logits, y))
    # the ignored half gets no gradient
    lg = logits.clone().requires_grad_(True)
    ol.masked_dice_ce(lg, y2).backward()
    assert lg.grad[:, :, :4].abs().max() == 0 and lg.grad[:, :, 4:].abs().max() > 0
    everything_ignored = torch.full_like(y, ol.IGNORE)
    assert float(ol.masked_dice_ce(logits, everything_ignored)) == 0.0
    with pytest.raises(ValueError):
        ol.masked_dice_ce(logits, y + 5)
