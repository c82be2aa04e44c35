"""Detection metrics: average precision at an IoU threshold (VOC style) and FROC.

Detections and ground truth are lists with one entry per image: a dict with ``boxes`` (``(N, 4)``,
the convention of :mod:`corelib.detection.boxes`), ``labels`` (``(N,)`` class indices) and, for
detections, ``scores``. :class:`Matches` matches them once per class (VOC rule: detections by
decreasing score; a detection is a true positive when its best-overlapping ground-truth box of the
same class has IoU >= the threshold and was not matched before, otherwise a false positive) and
then computes AP, FROC and per-image sensitivities on any subset of images, which makes paired
bootstrap intervals over images cheap.

* **AP** (Everingham et al., The PASCAL VOC challenge, IJCV 2010, from VOC 2010 on): the area under
  the precision-recall curve with precision made monotone (the maximum precision at any higher
  recall), summed at every recall step ("all points").
* **FROC** (Bandos et al. / the LUNA16 and CAMELYON16 convention): sensitivity as a function of the
  mean number of false positives per image; the score is the mean sensitivity at
  ``1/8, 1/4, 1/2, 1, 2, 4, 8`` false positives per image.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from corelib import validate
from corelib.detection.boxes import box_iou, check_boxes

__all__ = ["FROC_RATES", "Matches", "match_image", "average_precision", "ap_from_curve"]

FROC_RATES = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)


def _entry(name: str, d: Any, need_scores: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not isinstance(d, Mapping) or "boxes" not in d or "labels" not in d:
        raise validate.ArgumentTypeError(f"{name} must be a dict with 'boxes' and 'labels'"
                                         f"{' and scores' if need_scores else ''}, got "
                                         f"{validate.describe(d)}")
    boxes = check_boxes(f"{name}['boxes']", d["boxes"])
    labels = np.asarray(d["labels"], np.int64).reshape(-1)
    if len(labels) != len(boxes):
        raise ValueError(f"{name} has {len(labels)} labels for {len(boxes)} boxes")
    if need_scores:
        if "scores" not in d:
            raise ValueError(f"{name} needs 'scores' (one per box)")
        scores = np.asarray(d["scores"], np.float64).reshape(-1)
        if len(scores) != len(boxes):
            raise ValueError(f"{name} has {len(scores)} scores for {len(boxes)} boxes")
        if not np.all(np.isfinite(scores)):
            raise ValueError(f"{name}['scores'] has NaN or infinite values")
    else:
        scores = np.ones(len(boxes))
    return boxes, labels, scores


def match_image(pred_boxes: Any, pred_scores: Any, gt_boxes: Any,
                iou_threshold: float = 0.5) -> np.ndarray:
    """True-positive flags of one image's detections of one class (VOC greedy rule), in input order."""
    pb, gb = check_boxes("pred_boxes", pred_boxes), check_boxes("gt_boxes", gt_boxes)
    s = np.asarray(pred_scores, np.float64).reshape(-1)
    tp = np.zeros(len(pb), bool)
    if len(pb) == 0 or len(gb) == 0:
        return tp
    iou = box_iou(pb, gb)
    taken = np.zeros(len(gb), bool)
    for i in np.argsort(-s, kind="stable"):
        j = int(np.argmax(iou[i]))
        if iou[i, j] >= iou_threshold and not taken[j]:
            taken[j] = True
            tp[i] = True
    return tp


def ap_from_curve(scores: np.ndarray, tp: np.ndarray, n_gt: int) -> float:
    """All-point interpolated AP from pooled detections (``scores``, ``tp`` flags) and ``n_gt``."""
    if n_gt <= 0:
        return float("nan")
    if len(scores) == 0:
        return 0.0
    order = np.argsort(-scores, kind="stable")
    t = tp[order].astype(np.float64)
    ctp, cfp = np.cumsum(t), np.cumsum(1 - t)
    recall = ctp / n_gt
    precision = ctp / np.maximum(ctp + cfp, np.finfo(float).eps)
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mpre = np.concatenate([[0.0], precision, [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    steps = np.flatnonzero(mrec[1:] != mrec[:-1])
    return float(np.sum((mrec[steps + 1] - mrec[steps]) * mpre[steps + 1]))


@dataclass
class Matches:
    """Per-image, per-class matching of detections to ground truth; metrics on any image subset.

    Build with :meth:`Matches.compute`. ``scores[c][i]`` and ``tp[c][i]`` hold image ``i``'s
    detections of class ``c``; ``n_gt[c][i]`` its ground-truth boxes of class ``c``.
    """

    scores: list[list[np.ndarray]]
    tp: list[list[np.ndarray]]
    n_gt: np.ndarray  # (classes, images)
    iou_threshold: float = 0.5

    @classmethod
    def compute(cls, detections: Sequence[Mapping], ground_truth: Sequence[Mapping],
                n_classes: int, iou_threshold: float = 0.5) -> "Matches":
        if len(detections) != len(ground_truth):
            raise ValueError(f"detections has {len(detections)} images, ground_truth "
                             f"{len(ground_truth)}: give one entry per image for both")
        validate.nonempty("ground_truth", ground_truth)
        n_classes = validate.positive_int("n_classes", n_classes)
        validate.in_range("iou_threshold", iou_threshold, 0.0, 1.0, lo_open=True)
        scores = [[] for _ in range(n_classes)]
        tps = [[] for _ in range(n_classes)]
        n_gt = np.zeros((n_classes, len(ground_truth)), np.int64)
        for i, (det, gt) in enumerate(zip(detections, ground_truth)):
            pb, pl, ps = _entry(f"detections[{i}]", det, True)
            gb, gl, _ = _entry(f"ground_truth[{i}]", gt, False)
            for lab, nm in ((pl, "detections"), (gl, "ground_truth")):
                if len(lab) and (lab.min() < 0 or lab.max() >= n_classes):
                    raise ValueError(f"{nm}[{i}] has labels outside 0..{n_classes - 1}: "
                                     f"{sorted(set(lab.tolist()))}")
            for c in range(n_classes):
                p, g = pl == c, gl == c
                n_gt[c, i] = int(g.sum())
                scores[c].append(ps[p])
                tps[c].append(match_image(pb[p], ps[p], gb[g], iou_threshold))
        return cls(scores, tps, n_gt, float(iou_threshold))

    @property
    def n_images(self) -> int:
        return self.n_gt.shape[1]

    @property
    def n_classes(self) -> int:
        return self.n_gt.shape[0]

    def _pool(self, c: int, idx: Sequence[int] | None) -> tuple[np.ndarray, np.ndarray, int]:
        idx = range(self.n_images) if idx is None else idx
        s = np.concatenate([self.scores[c][i] for i in idx]) if len(idx) else np.zeros(0)
        t = np.concatenate([self.tp[c][i] for i in idx]) if len(idx) else np.zeros(0, bool)
        return s, t, int(self.n_gt[c, list(idx)].sum())

    def ap(self, c: int, idx: Sequence[int] | None = None) -> float:
        """AP of class ``c`` on the images ``idx`` (all by default; repeats count again)."""
        return ap_from_curve(*self._pool(c, idx))

    def mean_ap(self, classes: Sequence[int] | None = None, idx: Sequence[int] | None = None) -> float:
        classes = range(self.n_classes) if classes is None else classes
        return float(np.mean([self.ap(c, idx) for c in classes]))

    def froc(self, c: int, rates: Sequence[float] = FROC_RATES,
             idx: Sequence[int] | None = None) -> np.ndarray:
        """Sensitivity of class ``c`` at each mean false-positive rate per image in ``rates``."""
        s, t, n_gt = self._pool(c, idx)
        n_img = self.n_images if idx is None else len(idx)
        if n_gt == 0:
            return np.full(len(rates), np.nan)
        order = np.argsort(-s, kind="stable")
        t = t[order]
        sens = np.concatenate([[0.0], np.cumsum(t) / n_gt])
        fppi = np.concatenate([[0.0], np.cumsum(~t) / n_img])
        return np.array([sens[fppi <= r].max() for r in rates])

    def threshold_at(self, c: int, fp_rate: float) -> float:
        """The lowest score threshold at which class ``c`` makes at most ``fp_rate`` FP per image."""
        validate.positive("fp_rate", fp_rate)
        s, t, _ = self._pool(c, None)
        if len(s) == 0:
            return np.inf
        order = np.argsort(-s, kind="stable")
        s, t = s[order], t[order]
        fppi = np.cumsum(~t) / self.n_images
        ok = np.flatnonzero(fppi <= fp_rate)
        if len(ok) == 0:
            return np.inf
        last = ok[-1]
        # keep every detection down to `last`; ties at the same score are kept together only if allowed
        return float(s[last])

    def per_image_sensitivity(self, fp_rate: float, classes: Sequence[int] | None = None) -> np.ndarray:
        """Per image: found / true boxes (classes pooled) at each class's ``fp_rate`` threshold.

        Images without any true box of ``classes`` get NaN.
        """
        classes = list(range(self.n_classes)) if classes is None else list(classes)
        found = np.zeros(self.n_images)
        for c in classes:
            thr = self.threshold_at(c, fp_rate)
            for i in range(self.n_images):
                found[i] += np.sum(self.tp[c][i] & (self.scores[c][i] >= thr))
        total = self.n_gt[classes].sum(0).astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(total > 0, found / np.maximum(total, 1), np.nan)


def average_precision(detections: Sequence[Mapping], ground_truth: Sequence[Mapping],
                      n_classes: int, iou_threshold: float = 0.5) -> np.ndarray:
    """AP per class at ``iou_threshold`` over all images (NaN for a class with no true boxes)."""
    m = Matches.compute(detections, ground_truth, n_classes, iou_threshold)
    return np.array([m.ap(c) for c in range(n_classes)])
