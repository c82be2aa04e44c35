"""corelib.detection: box convention and MONAI order, IoU, NMS, AP, FROC, focal loss, bad inputs."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from corelib import detection as dt


# ------------------------------------------------------------------------------ boxes and axes
def test_conversions_round_trip_and_hand_cases():
    b = np.array([[10.0, 20.0, 30.0, 60.0]])  # x 10..30 (columns), y 20..60 (rows)
    np.testing.assert_allclose(dt.xyxy_to_cxcywh(b), [[20.0, 40.0, 20.0, 40.0]])
    np.testing.assert_allclose(dt.cxcywh_to_xyxy(dt.xyxy_to_cxcywh(b)), b)
    np.testing.assert_allclose(dt.to_monai(b), [[20.0, 10.0, 60.0, 30.0]])
    np.testing.assert_allclose(dt.from_monai(dt.to_monai(b)), b)
    np.testing.assert_allclose(dt.box_sizes(b), [[20.0, 40.0]])


def test_monai_box_order_puts_rows_first():
    """MONAI's own box-to-mask fills rows y_min..y_max and columns x_min..x_max after to_monai."""
    from monai.apps.detection.transforms.box_ops import convert_box_to_mask

    box = np.array([[2.0, 5.0, 4.0, 9.0]])  # x 2..4, y 5..9 in an image of H=12 rows, W=8 cols
    mask = convert_box_to_mask(dt.to_monai(box), np.array([1]), (12, 8), bg_label=0)[0]
    rows, cols = np.nonzero(mask)
    assert mask.shape == (12, 8)
    assert rows.min() == 5 and rows.max() in (8, 9) and cols.min() == 2 and cols.max() in (3, 4)


def test_retinanet_predicts_in_the_book_order():
    """A detector's output boxes come back as (x, y, x, y) for a non-square image."""
    det = dt.build_retinanet(num_classes=1, widths=(8, 8), fpn_channels=8, anchor_size=8,
                             score_thresh=0.0)
    d, t = dt.predict(det, [np.zeros((32, 64, 3), np.uint8)])
    assert len(t) == 1 and t[0] > 0
    b = d[0]["boxes"]
    assert b.shape[1] == 4 and len(b)
    assert b[:, 2].max() <= 64 + 1e-3 and b[:, 3].max() <= 32 + 1e-3
    assert b[:, 2].max() > 32  # x reaches beyond the image height: x runs along the width


def test_iou_hand_cases():
    a = np.array([[0.0, 0.0, 2.0, 2.0]])
    b = np.array([[1.0, 1.0, 3.0, 3.0], [0.0, 0.0, 2.0, 2.0], [5.0, 5.0, 6.0, 6.0]])
    np.testing.assert_allclose(dt.box_iou(a, b), [[1 / 7, 1.0, 0.0]])
    assert dt.box_iou(a, np.zeros((0, 4))).shape == (1, 0)


def test_nms_keeps_the_best_of_overlaps_per_class():
    b = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [1, 1, 11, 11]], float)
    s = np.array([0.9, 0.8, 0.7, 0.6])
    assert sorted(dt.nms(b, s, 0.5).tolist()) == [0, 2]
    assert sorted(dt.nms(b, s, 0.5, labels=[0, 0, 0, 1]).tolist()) == [0, 2, 3]
    assert len(dt.nms(np.zeros((0, 4)), np.zeros(0))) == 0


# --------------------------------------------------------------------------------- bad inputs
def test_bad_boxes_raise_clear_errors():
    with pytest.raises(ValueError, match="negative sizes"):
        dt.check_boxes("boxes", [[10, 10, 5, 20]])
    with pytest.raises(ValueError, match="outside the image"):
        dt.check_boxes("boxes", [[0, 0, 50, 10]], image_size=(40, 30))  # x_max 50 > W 30
    dt.check_boxes("boxes", [[0, 0, 30, 40]], image_size=(40, 30))
    with pytest.raises(ValueError, match=r"shape \(N, 4\)"):
        dt.check_boxes("boxes", [[1, 2, 3]])
    with pytest.raises(ValueError, match="no boxes"):
        dt.check_boxes("boxes", np.zeros((0, 4)), allow_empty=False)
    with pytest.raises(ValueError, match="NaN"):
        dt.check_boxes("boxes", [[0, 0, np.nan, 1]])


def test_wrong_channel_count_and_empty_training_images():
    with pytest.raises(ValueError, match="3 channels"):
        dt.check_image("image", np.zeros((10, 10)))
    with pytest.raises(ValueError, match="3 channels"):
        dt.to_tensor(np.zeros((10, 10, 4), np.uint8))
    with pytest.raises(ValueError, match="no boxes"):
        dt.DetectionBatches([np.zeros((16, 16, 3), np.uint8)], [np.zeros((0, 4))],
                            [np.zeros(0, int)])
    with pytest.raises(ValueError, match="outside the image"):
        dt.DetectionBatches([np.zeros((16, 16, 3), np.uint8)], [[[0, 0, 20, 8]]], [[0]])


# ------------------------------------------------------------------------------------ metrics
def test_ap_hand_computed():
    """Two true boxes; detections 0.9 TP, 0.8 FP, 0.7 TP: AP = 0.5 * 1 + 0.5 * 2/3."""
    gt = [{"boxes": [[0, 0, 10, 10], [20, 20, 30, 30]], "labels": [0, 0]}]
    det = [{"boxes": [[0, 0, 10, 10], [50, 50, 60, 60], [21, 21, 31, 31]],
            "scores": [0.9, 0.8, 0.7], "labels": [0, 0, 0]}]
    ap = dt.average_precision(det, gt, n_classes=1)
    assert ap[0] == pytest.approx(0.5 + 0.5 * 2 / 3)


def test_ap_duplicates_and_wrong_class_count_as_false_positives():
    gt = [{"boxes": [[0, 0, 10, 10]], "labels": [0]}]
    det = [{"boxes": [[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10]],
            "scores": [0.9, 0.8, 0.95], "labels": [0, 0, 1]}]
    m = dt.Matches.compute(det, gt, n_classes=2)
    assert m.ap(0) == pytest.approx(1.0)  # the duplicate ranks below the match
    assert np.isnan(m.ap(1))  # no true box of class 1
    assert m.tp[0][0].tolist() == [True, False]


def test_ap_of_a_perfect_and_of_an_empty_detector():
    gt = [{"boxes": [[0, 0, 10, 10]], "labels": [0]}, {"boxes": [[5, 5, 9, 9]], "labels": [0]}]
    perfect = [dict(g, scores=[1.0]) for g in gt]
    empty = [{"boxes": np.zeros((0, 4)), "scores": [], "labels": []}] * 2
    assert dt.average_precision(perfect, gt, 1)[0] == 1.0
    assert dt.average_precision(empty, gt, 1)[0] == 0.0


def test_froc_and_per_image_sensitivity():
    gt = [{"boxes": [[0, 0, 10, 10]], "labels": [0]}, {"boxes": [[0, 0, 10, 10]], "labels": [0]}]
    det = [{"boxes": [[0, 0, 10, 10], [40, 40, 50, 50]], "scores": [0.9, 0.95], "labels": [0, 0]},
           {"boxes": [[0, 0, 10, 10]], "scores": [0.5], "labels": [0]}]
    m = dt.Matches.compute(det, gt, 1)
    # ranking: FP 0.95, TP 0.9, TP 0.5 -> at 1/2 FP per image both true boxes are found
    froc = m.froc(0)
    assert froc[list(dt.FROC_RATES).index(0.25)] == 0.0
    assert froc[list(dt.FROC_RATES).index(0.5)] == 1.0
    np.testing.assert_allclose(m.per_image_sensitivity(0.5), [1.0, 1.0])
    np.testing.assert_allclose(m.per_image_sensitivity(0.25), [0.0, 0.0])


def test_matches_reject_mismatched_inputs():
    gt = [{"boxes": [[0, 0, 1, 1]], "labels": [0]}]
    with pytest.raises(ValueError, match="one entry per image"):
        dt.Matches.compute([], gt, 1)
    with pytest.raises(ValueError, match="scores"):
        dt.Matches.compute([{"boxes": [[0, 0, 1, 1]], "labels": [0]}], gt, 1)
    with pytest.raises(ValueError, match="labels outside"):
        dt.Matches.compute([{"boxes": [[0, 0, 1, 1]], "labels": [3], "scores": [1]}], gt, 1)


# --------------------------------------------------------------------------------- focal loss
def test_focal_loss_is_cross_entropy_at_gamma_zero():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(50, 3, generator=g)
    targets = (torch.rand(50, 3, generator=g) < 0.1).float()
    ce = torch.nn.functional.binary_cross_entropy_with_logits(logits, targets, reduction="sum")
    ce = ce / targets.sum().clamp(min=1)
    assert dt.FocalLoss(gamma=0.0, alpha=None)(logits, targets).item() == pytest.approx(ce.item())
    mean = dt.FocalLoss(gamma=0.0, alpha=None, normalize="mean")(logits, targets)
    assert mean.item() == pytest.approx(
        torch.nn.functional.binary_cross_entropy_with_logits(logits, targets).item())


def test_focal_loss_down_weights_easy_examples():
    logits = torch.tensor([[-6.0], [0.0]])  # an easy and a hard negative
    targets = torch.zeros(2, 1)
    per = [dt.FocalLoss(gamma=2.0, alpha=None, normalize="mean")(logits[i:i + 1], targets[i:i + 1])
           for i in range(2)]
    ce = [dt.FocalLoss(gamma=0.0, alpha=None, normalize="mean")(logits[i:i + 1], targets[i:i + 1])
          for i in range(2)]
    assert per[0] / ce[0] < 1e-4 and per[1] / ce[1] == pytest.approx(0.25)
    with pytest.raises(ValueError, match="gamma"):
        dt.FocalLoss(gamma=-1.0)
    with pytest.raises(ValueError, match="same shape"):
        dt.FocalLoss()(torch.zeros(2, 3), torch.zeros(2, 2))


# ------------------------------------------------------------------------ anchors, box coding
def test_box_coder_round_trip():
    from monai.apps.detection.utils.box_coder import BoxCoder

    coder = BoxCoder(weights=(1.0, 1.0, 1.0, 1.0))
    anchors = torch.tensor([[0.0, 0.0, 8.0, 8.0], [4.0, 8.0, 20.0, 16.0]])
    boxes = torch.tensor([[1.0, 2.0, 9.0, 7.0], [2.0, 10.0, 25.0, 18.0]])
    codes = coder.encode_single(boxes, anchors)
    torch.testing.assert_close(coder.decode_single(codes, anchors), boxes, atol=1e-4, rtol=1e-4)


def test_detector_anchors_follow_the_pyramid():
    det = dt.build_retinanet(num_classes=3, widths=(8, 8, 8), fpn_channels=8, anchor_size=8)
    feats = [torch.zeros(1, 1, 16 // 2 ** i, 32 // 2 ** i) for i in range(4)]
    anchors = det.anchor_generator(torch.zeros(1, 3, 64, 128), feats)[0]
    assert anchors.shape == (sum(f[0, 0].numel() for f in feats), 4)
    sizes = (anchors[:, 2] - anchors[:, 0]).unique().tolist()
    assert sorted(round(s) for s in sizes) == [8, 16, 32, 64]


def test_retinanet_trains_a_step_and_the_single_level_variant_builds():
    det = dt.build_retinanet(num_classes=3, widths=(8, 8), fpn_channels=8, anchor_size=8)
    batches = dt.DetectionBatches([np.zeros((32, 32, 3), np.uint8)] * 2,
                                  [[[2, 2, 12, 12]], [[10, 4, 30, 20]]], [[0], [2]],
                                  batch_size=2, steps=2)
    hist = dt.train_detector(det, batches, 2, lr=1e-3)
    assert hist.steps == 2 and all(np.isfinite(hist.train_loss))
    single = dt.build_retinanet(widths=(8, 8), fpn_channels=8, anchor_size=8, levels=1)
    assert dt.n_parameters(single) < dt.n_parameters(det)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # MONAI warns when no anchor matches a true box
        single.train()
        losses = single(batches.x, batches.targets)  # large and small boxes both match
    assert set(losses) == {"classification", "box_regression"}


# ------------------------------------------------------------------------ patch and classical
def test_patch_scan_grid_and_peaks_to_boxes():
    net = dt.PatchCNN(n_classes=2, width=4)
    probs = dt.scan(net, np.zeros((20, 28, 3), np.uint8), patch=8, stride=4)
    assert probs.shape == (3, 5, 7)
    np.testing.assert_allclose(probs.sum(0), 1.0, atol=1e-5)
    p = np.zeros((3, 5, 7))
    p[2, 1, 3] = 0.9  # class 1 at grid (row 1, column 3) -> centre (y 6, x 14)
    d = dt.heatmap_to_detections(p, [(4, 4), (6, 8)], stride=4, image_size=(20, 28))
    assert d["labels"].tolist() == [1]
    np.testing.assert_allclose(d["boxes"][0], [11, 2, 17, 10])


def test_sample_patches_labels_and_centres():
    img = np.zeros((40, 40, 3), np.uint8)
    img[10:20, 10:20] = 255  # the one box, class 1
    x, y = dt.sample_patches([img], [[[10, 10, 20, 20]]], [[1]], patch=6, bg_per_image=5,
                             jitter=0)
    assert x.shape[1:] == (3, 6, 6) and y.tolist().count(2) == 1 and y.tolist().count(0) == 5
    assert x[y == 2].min() == 1.0  # the positive patch is inside the white box


def test_classical_detector_finds_a_stained_blob():
    img = np.full((60, 80, 3), 220, np.uint8)
    img[20:40, 30:50] = (120, 40, 160)  # a purple (blue > green) nucleus of 400 px
    det = dt.ClassicalDetector(stain_threshold=0.2, wbc_min_area=200, plt_min_area=5,
                               wbc_grow=1.0)
    d = det.predict_one(img)
    wbc = d["boxes"][d["labels"] == 1]
    assert len(wbc) == 1
    np.testing.assert_allclose(wbc[0], [30, 20, 50, 40], atol=1.5)
    with pytest.raises(ValueError, match="3 channels"):
        det.predict_one(img[..., 0])


def test_ap_agrees_with_monai_coco_metric():
    """VOC all-point AP against MONAI's COCOMetric (101-point interpolation) at IoU 0.5."""
    from monai.apps.detection.metrics.coco import COCOMetric
    from monai.apps.detection.metrics.matching import matching_batch
    from monai.data.box_utils import box_iou as monai_iou

    rng = np.random.default_rng(0)
    gts, dets = [], []
    for _ in range(6):
        n = rng.integers(2, 6)
        xy, wh = rng.uniform(0, 80, (n, 2)), rng.uniform(8, 20, (n, 2))
        g, gl = np.concatenate([xy, xy + wh], 1), rng.integers(0, 2, n)
        keep = rng.random(n) < 0.8
        d = g[keep] + rng.normal(0, 2, (keep.sum(), 4))
        d[:, 2:] = np.maximum(d[:, 2:], d[:, :2] + 1)
        fp_xy = rng.uniform(0, 80, (2, 2))
        db = np.concatenate([d, np.concatenate([fp_xy, fp_xy + 10], 1)])
        dl = np.concatenate([gl[keep], rng.integers(0, 2, 2)])
        gts.append({"boxes": g, "labels": gl})
        dets.append({"boxes": db, "labels": dl, "scores": rng.random(len(db))})
    mine = dt.average_precision(dets, gts, 2)
    metric = COCOMetric(classes=["a", "b"], iou_list=[0.5], iou_range=(0.5, 0.5, 0.05),
                        max_detection=[100], verbose=False)
    matched = matching_batch(monai_iou, [0.5], [d["boxes"] for d in dets],
                             [d["labels"] for d in dets], [d["scores"] for d in dets],
                             [g["boxes"] for g in gts], [g["labels"] for g in gts],
                             max_detections=100)
    coco = metric(matched)[0]
    for c, name in enumerate(("a", "b")):
        assert mine[c] == pytest.approx(coco[f"{name}_AP_IoU_0.50_MaxDet_100"], abs=0.01)
