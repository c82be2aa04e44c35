"""BCCD loader: VOC parsing (the zero-area boxes), the box convention, splits; offline on the mirror."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import corelib.data as data
from corelib.data import remote
from corelib.data.registry import MIRROR_ENV

SHARED = Path(os.environ.get(MIRROR_ENV, "").strip() or Path(__file__).resolve().parents[2] / "shared" / "data")
needs_bccd = pytest.mark.skipif(not (SHARED / "bccd" / "BCCD").is_dir(), reason="BCCD not in the offline mirror")


@pytest.fixture
def shared_mirror(monkeypatch):
    monkeypatch.setenv(MIRROR_ENV, str(SHARED))


def test_voc_to_boxes_convention_and_zero_area():
    objects = [("WBC", (260.0, 177.0, 491.0, 376.0), 0), ("RBC", (1.0, 333.0, 87.0, 437.0), 1),
               ("RBC", (504.0, 337.0, 504.0, 337.0), 0), ("Platelets", (600.0, 400.0, 660.0, 470.0), 0),
               ("Other", (1.0, 1.0, 5.0, 5.0), 0)]
    boxes, labels, dropped = remote.voc_to_boxes(objects, (640, 480))
    np.testing.assert_allclose(boxes[0], [259, 176, 491, 376])  # 1-based inclusive -> [x-1, x]
    np.testing.assert_allclose(boxes[1], [0, 332, 87, 437])
    np.testing.assert_allclose(boxes[2], [599, 399, 640, 470])  # clipped to the width
    assert labels.tolist() == [1, 0, 2]
    assert [d[2] for d in dropped] == ["zero area", "class not in ('RBC', 'WBC', 'Platelets')"]


def test_card():
    c = data.card("bccd")
    assert c.licence.startswith("MIT") and "4.2" in c.chapters and c.citation
    assert [s.kind for s in c.sources] == ["mirror", "cache"]


@needs_bccd
def test_bccd_from_mirror(shared_mirror):
    assert [len(data.bccd_ids(s)) for s in ("train", "val", "test")] == [205, 87, 72]
    ims = data.load_bccd("test")
    assert len(ims) == 72 and ims[0].image.shape == (480, 640, 3) and ims[0].image.dtype == np.uint8
    for im in ims:
        assert len(im.boxes) > 0
        assert im.boxes[:, [0, 2]].max() <= 640 and im.boxes[:, [1, 3]].max() <= 480
        assert np.all(im.boxes[:, 2] > im.boxes[:, 0]) and np.all(im.boxes[:, 3] > im.boxes[:, 1])
    first = data.load_bccd(ids=["BloodImage_00000"])[0]
    assert (first.labels == 1).sum() == 1  # one white cell
    np.testing.assert_allclose(first.boxes[first.labels == 1][0], [259, 176, 491, 376])


@needs_bccd
def test_bccd_zero_area_boxes_and_scale(shared_mirror):
    ims = data.load_bccd(ids=["BloodImage_00338", "BloodImage_00343"], scale=0.25)
    noise = data.bccd_label_noise(ims)
    assert [(n[0], n[1], n[3]) for n in noise] == [("BloodImage_00338", "RBC", "zero area"),
                                                   ("BloodImage_00343", "RBC", "zero area")]
    assert ims[0].image.shape == (120, 160, 3) and ims[0].scale == 0.25
    full = data.load_bccd(ids=["BloodImage_00338"])[0]
    np.testing.assert_allclose(ims[0].boxes, full.boxes * 0.25, atol=1e-4)


@needs_bccd
def test_bccd_bad_arguments(shared_mirror):
    with pytest.raises(ValueError, match="split"):
        data.bccd_ids("training")
    with pytest.raises(ValueError, match="scale"):
        data.load_bccd("test", scale=1.5)
    with pytest.raises(data.DataNotFoundError, match="BloodImage_99999"):
        data.load_bccd(ids=["BloodImage_99999"])
