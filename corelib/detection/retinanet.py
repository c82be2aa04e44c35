"""A narrow RetinaNet (one-stage, feature pyramid, focal loss) on MONAI's detection module.

Lin et al., Focal loss for dense object detection, ICCV 2017. Built from
``monai.apps.detection``: ``RetinaNet`` (classification and box-regression heads shared over the
pyramid levels), ``RetinaNetDetector`` (anchors, ATSS matching, box coding, NMS) and MONAI's
``BackboneWithFPN`` over a small MONAI ``ResNet``.

Why MONAI rather than ``torchvision.models.detection.retinanet_resnet50_fpn``: the classification
loss is a setting (``set_cls_loss``), so focal loss and plain cross-entropy (claim C-DT-b) run with
the same matcher, sampler, anchors and heads and differ only in the loss; the matcher (ATSS) and
hard-negative sampler are swappable the same way; it is the medical-imaging library the book
uses elsewhere and handles 3D too; and it does not resize inputs (torchvision's transform scales
every image to 800 px by default). Its default ``resnet_fpn_feature_extractor`` builds a
256-channel pyramid (about 13 s per training step at batch 4 on 240x320 on the book's 2-core
CPU), so :func:`build_retinanet` builds a narrow one: ``fpn_channels`` (32 by default) and a ResNet
whose stages have ``widths`` channels.

Box order: MONAI's 2D boxes are ``(r_min, c_min, r_max, c_max)`` (first image axis first); the
functions here take and return boxes in the book's ``(x_min, y_min, x_max, y_max)``
(:mod:`corelib.detection.boxes`) and convert at the boundary.
"""
from __future__ import annotations

import time
from typing import Any, Iterator, Sequence

import numpy as np
import torch
from monai.apps.detection.networks.retinanet_detector import RetinaNetDetector
from monai.apps.detection.networks.retinanet_network import RetinaNet
from monai.apps.detection.utils.anchor_utils import AnchorGeneratorWithAnchorShape
from monai.networks.blocks.backbone_fpn_utils import BackboneWithFPN
from monai.networks.nets import resnet
from torch import nn

from corelib import runtime, train, validate
from corelib.detection.boxes import check_boxes, check_image, from_monai, to_monai
from corelib.detection.losses import FocalLoss

__all__ = ["build_retinanet", "to_tensor", "DetectionBatches", "train_detector", "predict",
           "n_parameters"]


def build_retinanet(num_classes: int = 3, in_channels: int = 3,
                    widths: Sequence[int] = (16, 32, 64), fpn_channels: int = 32,
                    anchor_size: float = 8.0, levels: int | None = None,
                    cls_loss: nn.Module | None = None, score_thresh: float = 0.02,
                    nms_thresh: float = 0.4, detections_per_img: int = 100) -> RetinaNetDetector:
    """A RetinaNet detector with a small ResNet + narrow FPN, ATSS matching and no sampler.

    The ResNet stem (7x7 convolution, stride 2, max-pooling) is followed by one basic block per
    entry of ``widths``; the pyramid takes all of them (strides 4, 8, 16, ...) plus one
    max-pooled level on top, with ``fpn_channels`` channels each. One square anchor per location,
    ``anchor_size * 2**level`` pixels (8, 16, 32, 64 by default). ``levels=1`` keeps only the
    finest stage and no pooled level, with all those anchor sizes at every location of that one
    map (a single-level variant, for the feature-pyramid comparison, DT8).
    ``cls_loss`` defaults to :class:`~corelib.detection.losses.FocalLoss` (gamma 2, alpha 0.25).
    Every anchor counts in the classification loss (no hard-negative sampler), as in the paper.
    """
    num_classes = validate.positive_int("num_classes", num_classes)
    in_channels = validate.positive_int("in_channels", in_channels)
    widths = tuple(validate.positive_int("widths", w) for w in widths)
    if not 1 <= len(widths) <= 4:
        raise ValueError(f"widths must list 1 to 4 stage widths, got {widths}")
    fpn_channels = validate.positive_int("fpn_channels", fpn_channels)
    validate.positive("anchor_size", anchor_size)
    n_levels = len(widths) if levels is None else validate.integer("levels", levels, min=1,
                                                                    max=len(widths))
    inplanes = list(widths) + [widths[-1]] * (4 - len(widths))
    backbone = resnet.ResNet(block="basic", layers=[1, 1, 1, 1], block_inplanes=inplanes,
                             spatial_dims=2, n_input_channels=in_channels, conv1_t_size=7,
                             conv1_t_stride=2, feed_forward=False)
    used = list(range(n_levels))
    fpn = BackboneWithFPN(backbone, return_layers={f"layer{i + 1}": str(i) for i in used},
                          in_channels_list=[widths[i] for i in used], out_channels=fpn_channels,
                          spatial_dims=2)
    if n_levels == 1:  # one feature map carrying every anchor size
        fpn.fpn.extra_blocks = None
        n_maps, scales = 1, (1,)
        shapes = tuple((anchor_size * 2 ** i,) * 2 for i in range(len(widths) + 1))
    else:
        n_maps = n_levels + 1  # + the max-pooled level
        scales = tuple(2 ** i for i in range(n_maps))
        shapes = ((anchor_size, anchor_size),)
    net = RetinaNet(spatial_dims=2, num_classes=num_classes, num_anchors=len(shapes),
                    feature_extractor=fpn, size_divisible=2 ** (len(widths) + 2))
    anchors = AnchorGeneratorWithAnchorShape(feature_map_scales=scales, base_anchor_shapes=shapes)
    det = RetinaNetDetector(network=net, anchor_generator=anchors)
    det.set_atss_matcher(num_candidates=4, center_in_gt=False)
    det.set_cls_loss(FocalLoss() if cls_loss is None else cls_loss)
    det.set_box_selector_parameters(score_thresh=score_thresh, topk_candidates_per_level=1000,
                                    nms_thresh=nms_thresh, detections_per_img=detections_per_img)
    return det


def n_parameters(model: nn.Module) -> int:
    """Trainable parameters."""
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))


def to_tensor(image: Any) -> torch.Tensor:
    """``(H, W, 3)`` uint8 RGB -> float ``(3, H, W)`` in ``[0, 1]``."""
    a = check_image("image", image, 3)
    t = torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1).float()
    return t / 255.0 if a.dtype == np.uint8 else t


def _target(boxes: Any, labels: Any, size: tuple[int, int]) -> dict[str, torch.Tensor]:
    b = check_boxes("boxes", boxes, size, allow_empty=False)
    lab = np.asarray(labels, np.int64).reshape(-1)
    if len(lab) != len(b):
        raise ValueError(f"{len(lab)} labels for {len(b)} boxes")
    return {"boxes": torch.as_tensor(to_monai(b), dtype=torch.float32),
            "labels": torch.as_tensor(lab)}


class DetectionBatches:
    """Random training batches ``(images (B, 3, H, W), MONAI targets)`` with flips, for ``fit``.

    ``images``: equal-size ``(H, W, 3)`` arrays; ``boxes``/``labels``: per image, in the book's box
    convention. Each batch draws ``batch_size`` images and flips each horizontally and vertically
    at random (boxes flipped with it). An image with no boxes raises (RetinaNet's matcher needs at
    least one).
    """

    def __init__(self, images: Sequence[Any], boxes: Sequence[Any], labels: Sequence[Any],
                 batch_size: int = 8, steps: int = 100, seed: int = 0):
        validate.nonempty("images", images)
        validate.same_length(("images", "boxes"), images, boxes)
        validate.same_length(("images", "labels"), images, labels)
        self.x = torch.stack([to_tensor(im) for im in images])
        size = tuple(self.x.shape[-2:])
        self.targets = [_target(b, l, size) for b, l in zip(boxes, labels)]
        self.batch_size = validate.positive_int("batch_size", batch_size)
        self.steps = validate.positive_int("steps", steps)
        self.generator = torch.Generator().manual_seed(validate.integer("seed", seed, min=0))

    def __len__(self) -> int:
        return self.steps

    def __iter__(self) -> Iterator[tuple[torch.Tensor, list[dict[str, torch.Tensor]]]]:
        h, w = self.x.shape[-2:]
        for _ in range(self.steps):
            idx = torch.randint(len(self.x), (self.batch_size,), generator=self.generator)
            flips = torch.rand(self.batch_size, 2, generator=self.generator) < 0.5
            xs, ts = [], []
            for i, (fr, fc) in zip(idx.tolist(), flips.tolist()):
                x, b = self.x[i], self.targets[i]["boxes"].clone()  # MONAI order (r, c)
                if fr:
                    x = x.flip(-2)
                    b[:, [0, 2]] = h - b[:, [2, 0]]
                if fc:
                    x = x.flip(-1)
                    b[:, [1, 3]] = w - b[:, [3, 1]]
                xs.append(x)
                ts.append({"boxes": b, "labels": self.targets[i]["labels"]})
            yield torch.stack(xs), ts


def _batch_fn(model: nn.Module, batch: Any, device: Any) -> torch.Tensor:
    x, targets = batch
    targets = [{k: v.to(device) for k, v in t.items()} for t in targets]
    losses = model(x.to(device), targets)
    return losses["classification"] + losses["box_regression"]


def train_detector(detector: RetinaNetDetector, batches: DetectionBatches, steps: int,
                   lr: float = 2e-3, desc: str = "RetinaNet") -> train.History:
    """Train with :func:`corelib.train.fit` (AdamW, one-cycle, gradient clipping at 10)."""
    steps = validate.positive_int("steps", steps)
    opt = torch.optim.AdamW(detector.parameters(), lr=validate.positive("lr", lr),
                            weight_decay=1e-4)
    n = runtime.steps(steps)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=n, pct_start=0.15)
    detector.train()
    return train.fit(detector, batches, None, optimizer=opt, steps=steps, batch_fn=_batch_fn,
                     scheduler=sched, grad_clip=10.0, desc=desc, progress=False)


@torch.no_grad()
def predict(detector: RetinaNetDetector, images: Sequence[Any],
            device: Any = None) -> tuple[list[dict[str, np.ndarray]], np.ndarray]:
    """Detections per image (book box order) and the wall time per image in seconds (batch 1)."""
    validate.nonempty("images", images)
    device = runtime.device() if device is None else device
    detector.eval().to(device)
    out, times = [], []
    for image in images:
        x = to_tensor(image).to(device)[None]
        t0 = time.perf_counter()
        d = detector(x)[0]
        times.append(time.perf_counter() - t0)
        out.append({"boxes": from_monai(d["boxes"].cpu().numpy()).astype(np.float32),
                    "scores": d["labels_scores"].cpu().numpy(),
                    "labels": d["labels"].cpu().numpy().astype(np.int64)})
    return out, np.array(times)
