"""Chapter 5 (outlook), few labels (OL1) and robustness (OL3): hippocampus crops of other brains, graded intensity shifts.

A hippocampus segmenter trained on MSD Task04 crops is tested, unchanged, on the hippocampi of
other real brains (:func:`real_hippocampi`: Colin27 with AAL, MNI152 with AAL carried by MNI
coordinates, SRI24 with LPBA40) cut out the way MSD cut its crops (:func:`hippocampus_crop`), and on
the MSD test crops under simulated acquisition changes of graded strength (:func:`shift`: Gaussian
noise, a bias field, a gamma curve and thick slices, MONAI transforms).

MSD Task04's arrays are in RAS axis order (axis 0 to the right, 1 anterior, 2 superior) and every
crop is oriented like a *left* hippocampus: every MSD case correlates better with the mean MSD crop
than with its mirror image, and so do the left hippocampi of Colin27, MNI152 and SRI24 as they are
and their right hippocampi mirrored along axis 0 (checked in ``tests/test_outlook.py`` and in the
OL3 notebook).

Few labels (OL1): :func:`pseudo_labels` and :func:`masked_dice_ce` are the two pieces of
pseudo-labelling (Lee 2013, "Pseudo-Label: the simple and efficient semi-supervised learning
method for deep neural networks", ICML workshop): a network trained on the labelled images labels
the unlabelled ones with its own confident predictions, and is trained further on both.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from corelib import validate

__all__ = ["IGNORE", "MSD_CROP", "SHIFTS", "RealCase", "hippocampus_crop", "masked_dice_ce",
           "pseudo_labels", "real_hippocampi", "shift", "whole_dice"]

#: Label value of a pixel without a (confident) label: left out of :func:`masked_dice_ce`.
IGNORE = -1

#: Field of view of the real-brain crops, voxels of 1 mm: the mean MSD Task04 crop (35 x 50 x 36).
MSD_CROP = (36, 50, 36)

#: Graded strengths of the simulated shifts (:func:`shift`), weakest first; strength 0 is no shift.
SHIFTS: dict[str, tuple[float, ...]] = {
    "noise": (0.03, 0.06, 0.12),    # Gaussian noise, std as a fraction of the intensity range
    "bias": (0.2, 0.4, 0.8),        # bias field (degree 3), largest coefficient
    "gamma": (1.5, 2.0, 3.0),       # gamma curve on intensities scaled to [0, 1]
    "thick": (2, 3, 5),             # slice thickness along axis 2, in voxels (mean, then linear back)
}


@dataclass
class RealCase:
    """One hippocampus of a real brain, cropped like MSD: ``image`` (float32, stored units) and its
    whole-hippocampus ``label`` (0/1), ``inside``: the share of the structure inside the crop."""

    case_id: str
    brain: str
    side: str
    image: np.ndarray
    label: np.ndarray
    inside: float
    meta: dict = field(default_factory=dict)


def hippocampus_crop(image: Any, mask: Any, shape: Sequence[int] = MSD_CROP, mirror: bool = False,
                     offset: Sequence[float] = (0.0, 0.0, 0.0)) -> tuple[np.ndarray, np.ndarray, float]:
    """Cut a box of ``shape`` voxels around the centroid of ``mask`` out of ``image`` (both on one
    1 mm RAS grid): ``(image crop, mask crop, share of the mask inside the box)``.

    The box centre is the mask's centroid minus ``offset`` (where MSD crops put the hippocampus's
    centroid relative to their centre, in voxels); parts of the box outside the volume are filled
    with the image's minimum (label 0). ``mirror`` flips axis 0 (a right hippocampus then looks like
    a left one, as in MSD).
    """
    img = np.asarray(getattr(image, "array", image), dtype=np.float32)
    m = np.asarray(getattr(mask, "array", mask)).astype(bool)
    if img.ndim != 3 or m.shape != img.shape:
        raise ValueError(f"image {img.shape} and mask {m.shape} must be 3D volumes of one shape")
    validate.int_sizes("shape", tuple(shape), 3, min=1)
    if len(offset) != 3 or not np.all(np.isfinite(np.asarray(offset, float))):
        raise ValueError(f"offset must be three finite numbers, got {offset!r}")
    if not m.any():
        raise ValueError("mask is empty: no structure to crop around")
    centre = np.argwhere(m).mean(0) - np.asarray(offset, float)
    lo = np.round(centre - (np.asarray(shape) - 1) / 2).astype(int)
    out_img = np.full(tuple(shape), float(img.min()), np.float32)
    out_lab = np.zeros(tuple(shape), np.uint8)
    src = tuple(slice(max(a, 0), min(a + s, n)) for a, s, n in zip(lo, shape, img.shape))
    dst = tuple(slice(s.start - a, s.stop - a) for s, a in zip(src, lo))
    out_img[dst] = img[src]
    out_lab[dst] = m[src]
    inside = float(out_lab.sum() / m.sum())
    if mirror:
        out_img, out_lab = out_img[::-1].copy(), out_lab[::-1].copy()
    return out_img, out_lab, inside


def _ras(vol: Any) -> tuple[np.ndarray, np.ndarray]:
    """A volume's array and affine reordered to RAS (nibabel's closest canonical orientation)."""
    import nibabel as nib

    img = nib.as_closest_canonical(nib.Nifti1Image(np.asarray(vol.array), np.asarray(vol.affine)))
    return np.asarray(img.dataobj), np.asarray(img.affine)


def real_hippocampi(shape: Sequence[int] = MSD_CROP,
                    offset: Sequence[float] = (0.0, 0.0, 0.0)) -> list[RealCase]:
    """Left and right hippocampus of three real brains, cropped as MSD (:func:`hippocampus_crop`):

    - **Colin27** (``ch2``, T1 with skull, 1 mm) with the AAL labels drawn on it (37 left, 38 right);
    - **MNI152** 2009a T1 (1 mm) with AAL carried to it by MNI coordinates (nearest neighbour):
      a silver standard, AAL was not drawn on this brain;
    - **SRI24** T1 (1 mm, reordered from LAS to RAS) with its LPBA40 labels (165 left, 166 right).

    Right hippocampi are mirrored along axis 0. Images keep their stored units.
    """
    from corelib import data
    from corelib.segmentation.atlas import resample_to_grid

    aal, colin = data.load_colin27("aal"), data.load_colin27("ch2")
    mni = data.load_mni152("t1", resolution=1)
    aal_on_mni = resample_to_grid(aal.array, aal.affine, mni.affine, mni.shape, order=0)
    sri_img, _ = _ras(data.load_sri24("t1"))
    sri_lab, _ = _ras(data.load_sri24("lpba40"))
    names = data.aal_labels()
    lpba = data.sri24_lpba40_labels()
    brains = [("Colin27", colin.array, aal.array, (37, 38), "AAL, drawn on Colin27", names),
              ("MNI152", mni.array, aal_on_mni, (37, 38), "AAL carried by MNI coordinates (silver)",
               names),
              ("SRI24", sri_img, sri_lab, (165, 166), "LPBA40 on SRI24", lpba)]
    cases = []
    for brain, img, lab, (left, right), source, table in brains:
        for side, value in (("left", left), ("right", right)):
            if "hippocampus" not in table[value].lower():
                raise ValueError(f"{brain}: label {value} is {table[value]!r}, not a hippocampus")
            im, lb, inside = hippocampus_crop(img, lab == value, shape, side == "right", offset)
            cases.append(RealCase(f"{brain} {side}", brain, side, im, lb, inside,
                                  {"labels": source, "label_value": value,
                                   "voxels": int((lab == value).sum())}))
    return cases


def shift(image: Any, kind: str, strength: float, seed: int = 0) -> np.ndarray:
    """``image`` under a simulated acquisition change of one ``kind`` and ``strength`` (MONAI).

    The image is scaled to [0, 1] for the change and back to its range afterwards, as in
    :func:`corelib.segmentation.atlas.augment_intensity`:
    ``noise``: Gaussian noise of std ``strength`` (``RandGaussianNoise``, seeded);
    ``bias``: a smooth multiplicative bias field, polynomial degree 3, coefficients drawn in
    [0, ``strength``] (``RandBiasField``, seeded);
    ``gamma``: intensities to the power ``strength`` (``AdjustContrast``);
    ``thick``: slices ``strength`` voxels thick along axis 2 (area-averaged by ``Resize``, then
    linearly interpolated back to the grid), as a thick-slice acquisition.
    ``strength`` 0 (or 1 for ``gamma`` and ``thick``) returns a copy of the image.
    """
    from monai.transforms import AdjustContrast, RandBiasField, RandGaussianNoise, Resize

    if kind not in SHIFTS:
        raise ValueError(f"unknown shift {kind!r}; choose one of {', '.join(SHIFTS)}")
    validate.nonnegative("strength", strength)
    validate.integer("seed", seed, min=0)
    img = np.asarray(getattr(image, "array", image), dtype=np.float32)
    if img.ndim != 3 or not np.isfinite(img).all():
        raise ValueError(f"image must be a finite 3D volume, got shape {img.shape}")
    identity = strength == 0 or (kind in ("gamma", "thick") and strength == 1)
    if identity:
        return img.copy()
    if kind == "gamma" and strength <= 0:
        raise ValueError(f"gamma must be > 0, got {strength}")
    if kind == "thick" and strength < 1:
        raise ValueError(f"slice thickness must be >= 1 voxel, got {strength}")
    lo, hi = float(img.min()), float(img.max())
    x = ((img - lo) / (hi - lo if hi > lo else 1.0))[None]
    rs = np.random.RandomState(int(seed))
    if kind == "noise":
        t = RandGaussianNoise(prob=1.0, std=float(strength))
        t.set_random_state(state=rs)
        y = t(x)
    elif kind == "bias":
        t = RandBiasField(degree=3, coeff_range=(0.0, float(strength)), prob=1.0)
        t.set_random_state(state=rs)
        y = t(x)
    elif kind == "gamma":
        y = AdjustContrast(gamma=float(strength))(x)
    else:
        n = img.shape[2]
        coarse = max(1, int(round(n / float(strength))))
        y = Resize((*img.shape[:2], coarse), mode="area")(x)
        y = Resize(img.shape, mode="trilinear", align_corners=False)(y)
    return np.asarray(y)[0].astype(np.float32) * (hi - lo) + lo


def whole_dice(prob: Any, truth: Any) -> float:
    """Whole-structure Dice of a class-probability map ``(C, ...)`` (background first) against a
    label map: the prediction is "hippocampus" where the classes other than background together
    have probability over 1/2; the truth where its label is not 0. Both empty: 1."""
    p = np.asarray(getattr(prob, "numpy", lambda: prob)())
    t = np.asarray(truth) > 0
    if p.ndim != t.ndim + 1 or p.shape[1:] != t.shape:
        raise ValueError(f"prob {p.shape} must be (classes, *{t.shape})")
    pred = p[1:].sum(0) > 0.5
    denom = pred.sum() + t.sum()
    return 1.0 if denom == 0 else float(2 * (pred & t).sum() / denom)


def pseudo_labels(prob: Any, threshold: float = 0.9) -> np.ndarray:
    """Hard pseudo-labels from class probabilities ``(C, ...)`` (Lee 2013, *Pseudo-Label*): the most
    probable class where its probability exceeds ``threshold``, :data:`IGNORE` (-1) elsewhere.

    Returns an int64 array of the spatial shape. ``threshold`` 0 keeps every pixel.
    """
    p = np.asarray(getattr(prob, "numpy", lambda: prob)(), dtype=np.float64)
    validate.in_range("threshold", threshold, 0, 1)
    if p.ndim < 2 or p.shape[0] < 2:
        raise ValueError(f"prob must be (classes >= 2, ...), got shape {p.shape}")
    if not np.isfinite(p).all():
        raise ValueError("prob must be finite")
    out = p.argmax(0).astype(np.int64)
    out[p.max(0) <= threshold] = IGNORE
    return out


def masked_dice_ce(logits: Any, target: Any, smooth: float = 1e-5) -> Any:
    """Dice + cross-entropy (as the book's ``seg.make_loss("dicece")``: MONAI ``DiceCELoss`` with
    softmax, one-hot targets, batch Dice, background left out of the Dice) that leaves
    out every pixel whose ``target`` is :data:`IGNORE`: the loss of a batch mixing true labels and
    thresholded pseudo-labels (:func:`pseudo_labels`).

    ``logits`` ``(N, C, ...)``, ``target`` ``(N, ...)`` int with values in ``0..C-1`` or -1. Dice is
    soft, per class over the whole batch (classes 1.., not background), averaged over classes; the
    cross-entropy is the mean over the kept pixels. A batch with no kept pixel gives a zero loss
    that still carries a gradient graph.
    """
    import torch
    import torch.nn.functional as F

    if logits.ndim != target.ndim + 1 or logits.shape[2:] != target.shape[1:] \
            or logits.shape[0] != target.shape[0]:
        raise ValueError(f"logits {tuple(logits.shape)} must be (N, C, *{tuple(target.shape[1:])})")
    n_classes = logits.shape[1]
    target = target.long()
    if ((target < IGNORE) | (target >= n_classes)).any():
        raise ValueError(f"target values must lie in {IGNORE}..{n_classes - 1}")
    keep = target != IGNORE
    if not keep.any():
        return logits.sum() * 0.0
    ce = F.cross_entropy(logits, target, ignore_index=IGNORE)
    prob = logits.softmax(1)
    onehot = F.one_hot(target.clamp(min=0), n_classes).movedim(-1, 1).to(prob.dtype)
    w = keep[:, None].to(prob.dtype)
    dims = [0, *range(2, logits.ndim)]
    inter = (prob * onehot * w).sum(dims)
    denom = (prob * w).sum(dims) + (onehot * w).sum(dims)
    dice = 1 - (2 * inter + smooth) / (denom + smooth)
    return dice[1:].mean() + ce
