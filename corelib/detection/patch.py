"""Patch-wise CNN detection (DT1): classify patches, scan the image, turn heat-map peaks into boxes.

The first deep detectors in medical imaging cut the image into small patches and asked a CNN
whether each patch belongs to the target (e.g. Ciresan D.C. et al., Mitosis detection in breast
cancer histology images with deep neural networks, MICCAI 2013; the survey's [111][112]). Here:

* **training patches** (:func:`sample_patches`): a patch centred (with a small jitter) on a
  ground-truth box centre is labelled with that box's class; background patches are centred
  anywhere at least ``bg_distance`` times the box's half-size away from every box centre;
* **the classifier** (:class:`PatchCNN`): a small CNN, ``patch x patch`` RGB -> background +
  ``n_classes`` logits;
* **scanning** (:func:`scan`): every ``stride`` pixels a patch is cut out (``Tensor.unfold``) and
  classified *as a patch*: the network is run once per patch, not as a fully convolutional
  network, which is what makes patch-wise detection slow (claim C-DT-a);
* **peaks -> boxes** (:func:`heatmap_to_detections`): local maxima of each class's probability
  map (``skimage.feature.peak_local_max``) become boxes of that class's median training size,
  scored by the probability, then non-maximum suppression.
"""
from __future__ import annotations

import time
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from skimage.feature import peak_local_max
from torch import nn

from corelib import runtime, train, validate
from corelib.detection.boxes import check_boxes, check_image, nms
from corelib.detection.retinanet import to_tensor

__all__ = ["PatchCNN", "sample_patches", "train_patch_cnn", "scan", "heatmap_to_detections",
           "PatchDetector"]


class PatchCNN(nn.Module):
    """Three conv-BN-ReLU-pool stages and a linear layer: a patch -> background + classes logits."""

    def __init__(self, n_classes: int = 3, in_channels: int = 3, width: int = 16):
        super().__init__()
        n_classes = validate.positive_int("n_classes", n_classes)
        w = validate.positive_int("width", width)
        layers, c = [], validate.positive_int("in_channels", in_channels)
        for out in (w, 2 * w, 4 * w):
            layers += [nn.Conv2d(c, out, 3, padding=1, bias=False), nn.BatchNorm2d(out),
                       nn.ReLU(inplace=True), nn.MaxPool2d(2)]
            c = out
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(c, n_classes + 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean((-2, -1)))


def _crop(xp: torch.Tensor, cy: float, cx: float, patch: int) -> torch.Tensor:
    """``patch x patch`` crop centred at (row, column) of a ``(3, H, W)`` image that was
    zero-padded by ``patch`` on every side (``xp``)."""
    r0, c0 = int(round(cy)) - patch // 2 + patch, int(round(cx)) - patch // 2 + patch
    return xp[:, r0:r0 + patch, c0:c0 + patch]


def sample_patches(images: Sequence[Any], boxes: Sequence[Any], labels: Sequence[Any],
                   patch: int = 24, bg_per_image: int = 40, jitter: int = 2,
                   bg_distance: float = 0.6, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Training patches ``(N, 3, patch, patch)`` and labels (0 background, ``1 + class``)."""
    validate.nonempty("images", images)
    validate.same_length(("images", "boxes"), images, boxes)
    validate.same_length(("images", "labels"), images, labels)
    patch = validate.integer("patch", patch, min=4)
    rng = np.random.default_rng(validate.integer("seed", seed, min=0))
    xs, ys = [], []
    for image, b, lab in zip(images, boxes, labels):
        a = check_image("image", image, 3)
        b = check_boxes("boxes", b, a.shape[:2])
        lab = np.asarray(lab, np.int64).reshape(-1)
        x = F.pad(to_tensor(a), (patch,) * 4)
        centres = np.stack([(b[:, 1] + b[:, 3]) / 2, (b[:, 0] + b[:, 2]) / 2], 1)
        half = np.maximum(np.minimum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]) / 2, 1.0)
        for (cy, cx), c in zip(centres, lab):
            dy, dx = rng.integers(-jitter, jitter + 1, 2) if jitter else (0, 0)
            xs.append(_crop(x, cy + dy, cx + dx, patch))
            ys.append(int(c) + 1)
        h, w = a.shape[:2]
        found, tries = 0, 0
        while found < bg_per_image and tries < 50 * bg_per_image:
            tries += 1
            cy, cx = rng.uniform(0, h), rng.uniform(0, w)
            if len(centres):
                d = np.hypot(centres[:, 0] - cy, centres[:, 1] - cx)
                if np.any(d < bg_distance * half):
                    continue
            xs.append(_crop(x, cy, cx, patch))
            ys.append(0)
            found += 1
    return torch.stack(xs), torch.as_tensor(ys)


class _PatchBatches:
    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, steps: int, seed: int):
        self.x, self.y, self.batch_size, self.steps = x, y, batch_size, steps
        self.g = torch.Generator().manual_seed(seed)
        # inverse-frequency sampling so that the rare classes are seen as often as the others
        counts = torch.bincount(y, minlength=int(y.max()) + 1).float()
        self.weights = (1.0 / counts.clamp(min=1))[y]

    def __len__(self) -> int:
        return self.steps

    def __iter__(self):
        for _ in range(self.steps):
            idx = torch.multinomial(self.weights, self.batch_size, True, generator=self.g)
            x = self.x[idx]
            flip = torch.rand(2, generator=self.g) < 0.5
            if flip[0]:
                x = x.flip(-1)
            if flip[1]:
                x = x.flip(-2)
            yield x, self.y[idx]


def train_patch_cnn(net: PatchCNN, x: torch.Tensor, y: torch.Tensor, steps: int = 300,
                    batch_size: int = 128, lr: float = 3e-3, seed: int = 0) -> train.History:
    """Cross-entropy training with class-balanced sampling and flips (``corelib.train.fit``)."""
    validate.tensor("x", x, ndim=4, channels=3)
    validate.same_length(("x", "y"), x, y)
    steps = validate.positive_int("steps", steps)
    opt = torch.optim.AdamW(net.parameters(), lr=validate.positive("lr", lr), weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=runtime.steps(steps),
                                                pct_start=0.15)
    batches = _PatchBatches(x, y, validate.positive_int("batch_size", batch_size), steps, seed)
    return train.fit(net, batches, nn.CrossEntropyLoss(), optimizer=opt, steps=steps,
                     scheduler=sched, desc="patch CNN", progress=False)


@torch.no_grad()
def scan(net: PatchCNN, image: Any, patch: int = 24, stride: int = 4,
         batch_size: int = 1024) -> np.ndarray:
    """Class probabilities ``(1 + classes, H // stride, W // stride)``: one patch per grid point.

    The patch of grid point ``(i, j)`` is centred at pixel ``(i * stride + stride / 2,
    j * stride + stride / 2)`` (rows, columns); the image is zero-padded at the border.
    """
    a = check_image("image", image, 3)
    patch = validate.integer("patch", patch, min=4)
    stride = validate.positive_int("stride", stride)
    net.eval()
    x = to_tensor(a)
    h, w = a.shape[:2]
    gh, gw = h // stride, w // stride
    off = stride // 2 - patch // 2
    pad = patch
    xp = F.pad(x, (pad, pad, pad, pad))
    start_r, start_c = off + pad, off + pad
    region = xp[:, start_r:start_r + (gh - 1) * stride + patch,
                start_c:start_c + (gw - 1) * stride + patch]
    patches = region.unfold(1, patch, stride).unfold(2, patch, stride)  # (3, gh, gw, p, p)
    patches = patches.permute(1, 2, 0, 3, 4).reshape(-1, 3, patch, patch)
    probs = torch.cat([net(patches[i:i + batch_size]).softmax(1)
                       for i in range(0, len(patches), batch_size)])
    return probs.T.reshape(-1, gh, gw).numpy()


def heatmap_to_detections(probs: np.ndarray, box_sizes: Sequence[Sequence[float]], stride: int,
                          image_size: Sequence[int], min_distance: Sequence[int] | int = 2,
                          threshold: float = 0.05, nms_iou: float = 0.3) -> dict[str, np.ndarray]:
    """Peaks of each class map (channels ``1..``) -> boxes ``(w, h) = box_sizes[class]`` centred there."""
    p = validate.array("probs", probs, ndim=3)
    if len(box_sizes) != p.shape[0] - 1:
        raise ValueError(f"box_sizes has {len(box_sizes)} entries for {p.shape[0] - 1} classes")
    h, w = validate.int_sizes("image_size", image_size, 2, min=1)
    mind = validate.int_sizes("min_distance", min_distance, len(box_sizes), min=1)
    boxes, scores, labels = [], [], []
    for c in range(p.shape[0] - 1):
        peaks = peak_local_max(p[c + 1], min_distance=mind[c], threshold_abs=threshold,
                               exclude_border=False)
        if len(peaks) == 0:
            continue
        cy = peaks[:, 0] * stride + stride / 2
        cx = peaks[:, 1] * stride + stride / 2
        bw, bh = box_sizes[c]
        b = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], 1)
        b[:, [0, 2]] = b[:, [0, 2]].clip(0, w)
        b[:, [1, 3]] = b[:, [1, 3]].clip(0, h)
        boxes.append(b)
        scores.append(p[c + 1][peaks[:, 0], peaks[:, 1]])
        labels.append(np.full(len(b), c))
    if not boxes:
        return {"boxes": np.zeros((0, 4), np.float32), "scores": np.zeros(0),
                "labels": np.zeros(0, np.int64)}
    b, s, lab = np.concatenate(boxes), np.concatenate(scores), np.concatenate(labels)
    keep = nms(b, s, nms_iou, lab)
    return {"boxes": b[keep].astype(np.float32), "scores": s[keep], "labels": lab[keep]}


class PatchDetector:
    """A trained :class:`PatchCNN` with its scanning and peak settings; ``predict`` as for RetinaNet."""

    def __init__(self, net: PatchCNN, box_sizes: Sequence[Sequence[float]], patch: int = 24,
                 stride: int = 4, min_distance: Sequence[int] | int = 2, threshold: float = 0.05):
        self.net, self.box_sizes, self.patch, self.stride = net, [tuple(s) for s in box_sizes], patch, stride
        self.min_distance, self.threshold = min_distance, threshold

    def heatmap(self, image: Any) -> np.ndarray:
        return scan(self.net, image, self.patch, self.stride)

    def predict(self, images: Sequence[Any]) -> tuple[list[dict[str, np.ndarray]], np.ndarray]:
        """Detections per image and the wall time per image in seconds (scan + peaks + NMS)."""
        validate.nonempty("images", images)
        out, times = [], []
        for image in images:
            t0 = time.perf_counter()
            probs = self.heatmap(image)
            out.append(heatmap_to_detections(probs, self.box_sizes, self.stride,
                                             np.asarray(image).shape[:2], self.min_distance,
                                             self.threshold))
            times.append(time.perf_counter() - t0)
        return out, np.array(times)
