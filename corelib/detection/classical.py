"""A classical blood-smear cell detector: what a microscopist's image-analysis script would do.

* **White cells and platelets** are stained purple (Giemsa/Wright): a *stain* image (blue minus
  green, in ``[0, 1]``) is thresholded, small holes and specks removed, and the connected
  components (``skimage.measure.label`` / ``regionprops``) become boxes. A component larger than
  ``wbc_min_area`` is a white-cell nucleus, whose box is enlarged by ``wbc_grow`` to cover the
  cytoplasm; smaller ones (above ``plt_min_area``) are platelets (box enlarged by ``plt_grow``). Score: white cells by area,
  platelets by mean stain.
* **Red cells** are pale discs: a circular Hough transform (``skimage.transform.hough_circle``)
  on Canny edges of the green channel, radii ``rbc_radii``; each accumulator peak
  (``hough_circle_peaks``) is a red cell scored by its accumulator value, except where a white
  cell was found.

All sizes are in pixels of the image given (scale them with the image). The stain threshold is the
one setting meant to be chosen on validation images (:func:`tune_stain_threshold`).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Sequence

import numpy as np
from scipy import ndimage
from skimage import feature, measure, morphology, transform

from corelib import validate
from corelib.detection.boxes import check_image, nms

__all__ = ["ClassicalDetector", "stain_image", "tune_stain_threshold"]


def stain_image(image: Any) -> np.ndarray:
    """Purple-stain strength in ``[0, 1]``: ``max(0, blue - green)`` of an RGB image."""
    a = check_image("image", image, 3).astype(np.float64)
    if np.asarray(image).dtype == np.uint8:
        a /= 255.0
    return np.clip(a[..., 2] - a[..., 1], 0, 1)


@dataclass
class ClassicalDetector:
    """Colour threshold + connected components (WBC, platelets) and circle Hough (RBC)."""

    stain_threshold: float = 0.25
    wbc_min_area: float = 150.0
    plt_min_area: float = 8.0
    wbc_grow: float = 1.25
    plt_grow: float = 1.25
    rbc_radii: tuple = (9, 10, 11, 12, 13, 14)
    rbc_min_distance: int = 14
    rbc_max_peaks: int = 40
    labels: tuple = (0, 1, 2)  # class indices for (RBC, WBC, platelets)

    def __post_init__(self):
        validate.in_range("stain_threshold", self.stain_threshold, 0.0, 1.0, lo_open=True)
        validate.positive("wbc_min_area", self.wbc_min_area)
        validate.positive("plt_min_area", self.plt_min_area)
        validate.positive("wbc_grow", self.wbc_grow)

    @classmethod
    def for_scale(cls, scale: float, **kw: Any) -> "ClassicalDetector":
        """Settings for BCCD images downscaled by ``scale`` (sizes measured on the 640x480 images)."""
        s = validate.in_range("scale", scale, 0.0, 1.0, lo_open=True)
        radii = tuple(sorted({max(2, int(round(r * s))) for r in range(36, 60, 4)}))
        return cls(wbc_min_area=2400 * s * s, plt_min_area=120 * s * s,
                   rbc_radii=radii, rbc_min_distance=max(2, int(round(56 * s))), **kw)

    def _stained(self, image: np.ndarray) -> list[tuple[str, np.ndarray, float]]:
        st = stain_image(image)
        mask = st > self.stain_threshold
        mask = ndimage.binary_opening(mask)
        # skimage >= 0.26: max_size removes objects (holes) of at most that many pixels
        mask = morphology.remove_small_objects(mask, max_size=max(1, int(self.plt_min_area)) - 1)
        mask = morphology.remove_small_holes(mask, max_size=int(self.wbc_min_area))
        out = []
        for r in measure.regionprops(measure.label(mask), intensity_image=st):
            r0, c0, r1, c1 = r.bbox
            box = np.array([c0, r0, c1, r1], float)
            if r.area >= self.wbc_min_area:
                cx, cy = (c0 + c1) / 2, (r0 + r1) / 2
                hw, hh = (c1 - c0) * self.wbc_grow / 2, (r1 - r0) * self.wbc_grow / 2
                out.append(("wbc", np.array([cx - hw, cy - hh, cx + hw, cy + hh]),
                            float(r.area / (r.area + self.wbc_min_area))))
            else:
                cx, cy = (c0 + c1) / 2, (r0 + r1) / 2
                hw, hh = (c1 - c0) * self.plt_grow / 2, (r1 - r0) * self.plt_grow / 2
                out.append(("plt", np.array([cx - hw, cy - hh, cx + hw, cy + hh]),
                            float(r.intensity_mean)))
        return out

    def predict_one(self, image: Any) -> dict[str, np.ndarray]:
        a = check_image("image", image, 3)
        h, w = a.shape[:2]
        boxes, scores, labels = [], [], []
        wbc_boxes = []
        for kind, box, score in self._stained(a):
            boxes.append(box)
            scores.append(score)
            labels.append(self.labels[1] if kind == "wbc" else self.labels[2])
            if kind == "wbc":
                wbc_boxes.append(box)
        green = a[..., 1].astype(float) / (255.0 if a.dtype == np.uint8 else 1.0)
        edges = feature.canny(green, sigma=1.5)
        radii = np.asarray(self.rbc_radii)
        acc = transform.hough_circle(edges, radii)
        acc_s, cx, cy, rad = transform.hough_circle_peaks(
            acc, radii, min_xdistance=self.rbc_min_distance, min_ydistance=self.rbc_min_distance,
            total_num_peaks=self.rbc_max_peaks)
        for s, x, y, r in zip(acc_s, cx, cy, rad):
            if any(b[0] <= x <= b[2] and b[1] <= y <= b[3] for b in wbc_boxes):
                continue
            boxes.append(np.array([x - r, y - r, x + r, y + r], float))
            scores.append(float(s))
            labels.append(self.labels[0])
        if not boxes:
            return {"boxes": np.zeros((0, 4), np.float32), "scores": np.zeros(0),
                    "labels": np.zeros(0, np.int64)}
        b = np.array(boxes)
        b[:, [0, 2]] = b[:, [0, 2]].clip(0, w)
        b[:, [1, 3]] = b[:, [1, 3]].clip(0, h)
        s, lab = np.array(scores), np.array(labels, np.int64)
        keep = nms(b, s, 0.5, lab)
        return {"boxes": b[keep].astype(np.float32), "scores": s[keep], "labels": lab[keep]}

    def _stained_only(self, image: Any) -> dict[str, np.ndarray]:
        """WBC and platelet detections only (no Hough): cheap, for tuning the stain threshold."""
        found = self._stained(check_image("image", image, 3))
        if not found:
            return {"boxes": np.zeros((0, 4)), "scores": np.zeros(0), "labels": np.zeros(0, np.int64)}
        h, w = np.asarray(image).shape[:2]
        b = np.array([f[1] for f in found])
        b[:, [0, 2]] = b[:, [0, 2]].clip(0, w)
        b[:, [1, 3]] = b[:, [1, 3]].clip(0, h)
        return {"boxes": b, "scores": np.array([f[2] for f in found]),
                "labels": np.array([self.labels[1] if f[0] == "wbc" else self.labels[2]
                                    for f in found], np.int64)}

    def predict(self, images: Sequence[Any]) -> tuple[list[dict[str, np.ndarray]], np.ndarray]:
        """Detections per image and the wall time per image in seconds."""
        import time

        validate.nonempty("images", images)
        out, times = [], []
        for image in images:
            t0 = time.perf_counter()
            out.append(self.predict_one(image))
            times.append(time.perf_counter() - t0)
        return out, np.array(times)


def tune_stain_threshold(detector: ClassicalDetector, images: Sequence[Any],
                         ground_truth: Sequence[dict], thresholds: Sequence[float],
                         classes: Sequence[int] = (1, 2)) -> tuple[ClassicalDetector, dict]:
    """The stain threshold with the best mean AP@0.5 over ``classes`` on (validation) images."""
    from corelib.detection.evaluate import Matches

    validate.nonempty("thresholds", thresholds)
    scores = {}
    for t in thresholds:
        d = replace(detector, stain_threshold=float(t))
        m = Matches.compute([d._stained_only(im) for im in images], ground_truth, 3)
        scores[float(t)] = m.mean_ap(classes)
    best = max(scores, key=scores.get)
    return replace(detector, stain_threshold=best), scores
