# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %%

# %% [markdown]
# # 2.2 MR super-resolution: SRCNN, residual and sub-pixel networks, in-plane and through-plane
#
# *Survey §2.1.2* {cite}`wang2020survey`, methods {cite}`ref10,ref11,ref15`
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/corelib-book/medimg-dl-companion/blob/main/notebooks/ch2_1_restoration/03_mr_superresolution.ipynb)
#
# Super-resolution (SR) recovers a high-resolution (HR) image from a low-resolution (LR) one. In
# MRI, resolution is bought with scan time, and clinical scans often have thick slices. Learned SR
# is trained on pairs made by degrading HR images artificially, which raises the survey's caveat:
# a network learns *the degradation it was trained on*. Here the HR image is the real 0.5 mm
# Colin27 T1 (`ch2better`); we train three SR networks of the survey and test them on held-out
# slices, on a second degradation and on another brain (MNI152).
#
# **What you will learn**
# - two ways to make LR images (blur + downsample; k-space truncation, as a shorter MR readout) and
#   thick slices for through-plane SR;
# - SRCNN, deep residual SR with global residual learning, and the sub-pixel (pixel-shuffle) CNN;
# - bicubic and linear slice interpolation as the baselines to beat;
# - what happens when the test degradation is not the training one.

# %% tags=["remove-cell"]
import subprocess
import sys

if "google.colab" in sys.modules:
    subprocess.run("pip install -q 'corelib @ git+https://github.com/corelib-book/medimg-dl-companion'",
                   shell=True, check=True)
    subprocess.run("apt-get -qq update && apt-get -qq install -y --no-install-recommends "
                   "mricron-data invesalius-examples insighttoolkit5-examples", shell=True, check=True)

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

import corelib.data as data
from corelib import metrics, report, runtime as rt, viz
from corelib.restoration import superres as sr
from corelib.train import fit

t_start = time.perf_counter()
report.set_notebook("ch2_1_restoration/03_mr_superresolution")
card = rt.run_card(seed=0, datasets=["colin27", "mni152"])
dev = rt.device()

# %% [markdown]
# All sizes come from one cell. `quick` (2-core CPU, about two minutes) trains small networks for a
# few hundred steps on 48x48 patches; `full` (one GPU, untested on the machine that wrote this)
# trains wider networks for longer on bigger patches.

# %%
cfg = rt.pick(
    quick=dict(scale=2, thick=4, patch=48, batch=8, width=32, depth=6, steps=250, tp_steps=250, lr=1e-3,
               train_z=range(150, 220, 2), val_z=range(228, 236, 4), test_z=range(244, 276, 4)),
    full=dict(scale=2, thick=4, patch=96, batch=32, width=64, depth=12, steps=4000, tp_steps=3000, lr=5e-4,
              train_z=range(60, 220), val_z=range(228, 236), test_z=range(244, 280, 2)),
)
cfg

# %% [markdown]
# ## 1. Data: the 0.5 mm Colin27 T1 as high resolution
# Intensities are scaled to [0, 1] by the 99.9th percentile of the head. For in-plane SR the axial
# slices are split by **slab** (train low in the brain, validation and test higher up, with gaps);
# for through-plane SR (below) the split is by hemisphere.
#
# The two in-plane degradations (factor 2):
# - **blur + downsample**: Gaussian blur (σ = 1 HR pixel) then 2x2 block averaging, the usual
#   artificial LR image;
# - **k-space truncation**: keep only the central half of k-space in each direction (what a shorter
#   readout and fewer phase encodes measure), which leaves Gibbs ringing, then the same LR grid.

# %%
hr_vol = data.load_colin27("ch2better")
vol = hr_vol.array / np.percentile(hr_vol.array, 99.9)
vol = np.clip(vol, 0, 1.2).astype(np.float32)
s = cfg["scale"]
crop = lambda a: a[6:294, 20:356]  # noqa: E731  (288 x 336, divisible by 2 and 4)
axial = lambda zs: np.stack([crop(vol[:, :, z]) for z in zs])  # noqa: E731
hr = {split: axial(cfg[f"{split}_z"]) for split in ("train", "val", "test")}
degrade = {"blur+downsample": lambda x: np.stack([sr.blur_downsample(i, s) for i in x]),
           "k-space truncation": lambda x: np.stack([sr.kspace_truncate(i, s) for i in x])}
lr = {deg: {split: f(hr[split]) for split in hr} for deg, f in degrade.items()}
print(f"HR volume {hr_vol.shape} at {hr_vol.spacing} mm; axial slices {hr['train'].shape[1:]}; "
      f"train/val/test slices {len(hr['train'])}/{len(hr['val'])}/{len(hr['test'])}")

# %%
k = len(hr["test"]) // 2
panels = {"HR 0.5 mm": hr["test"][k], **{f"LR: {d}": lr[d]["test"][k] for d in degrade}}
fig, axes = plt.subplots(1, 3, figsize=(11, 4.2), layout="constrained")
for ax, (name, img) in zip(axes, panels.items()):
    im = ax.imshow(img.T, cmap="gray", vmin=0, vmax=1, origin="lower")
    ax.set(title=f"{name}\n{img.shape[0]}x{img.shape[1]} px", xlabel="x (px)", ylabel="y (px)")
fig.colorbar(im, ax=axes, shrink=0.8, label="intensity (scaled)")
plt.show()

# %% [markdown]
# ## 2. Baseline: bicubic interpolation
# Metrics: PSNR and SSIM per test slice against the HR slice, data range 1.0 (the scaled intensity),
# averaged over slices.

# %%
DR = 1.0


def scores(pred: np.ndarray, ref: np.ndarray) -> dict[str, float]:
    return {"PSNR (dB)": float(np.mean(metrics.psnr(ref, np.clip(pred, 0, 1.2), DR, per_slice=True))),
            "SSIM": float(np.mean(metrics.ssim(ref, np.clip(pred, 0, 1.2), DR, per_slice=True)))}


bicubic = {d: sr.interpolate(lr[d]["test"], s, "bicubic") for d in degrade}
for d in degrade:
    print(f"bicubic on {d}: {scores(bicubic[d], hr['test'])}")

# %% [markdown]
# ## 3. Three SR networks, trained on blur + downsample
# - **SRCNN** {cite}`ref11`: three convolutions (9, 5, 5) on the bicubic-upsampled image.
# - **Residual SR** {cite}`ref10`: a deeper 3x3 stack that predicts only the difference to the
#   bicubic image (global residual learning); it starts as bicubic.
# - **Sub-pixel CNN** {cite}`ref15`: convolutions at LR, then a convolution to `s²` channels that a
#   pixel shuffle rearranges onto the HR grid, added to the bicubic image. It is the cheapest,
#   since all convolutions run at low resolution.
#
# Patches of `patch`x`patch` HR pixels (and the matching LR patch) are drawn at random from the
# training slab; validation PSNR on the validation slices keeps the best weights.

# %%
class SRPatches(torch.utils.data.IterableDataset):
    """Endless random (input, HR) patch pairs; the input is the LR patch or its bicubic upsampling."""

    def __init__(self, low: np.ndarray, high: np.ndarray, patch: int, scale: int, upsample: bool,
                 seed: int = 0) -> None:
        self.low, self.high = torch.as_tensor(low)[:, None], torch.as_tensor(high)[:, None]
        self.up = torch.as_tensor(sr.interpolate(low, scale, "bicubic"))[:, None] if upsample else None
        self.patch, self.scale, self.seed = patch, scale, seed

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed)
        n, _, h, w = self.low.shape
        p = self.patch // self.scale
        while True:
            i = int(torch.randint(n, (1,), generator=g))
            r, c = (int(torch.randint(d - p + 1, (1,), generator=g)) for d in (h, w))
            R, C, P = r * self.scale, c * self.scale, self.patch
            target = self.high[i, :, R:R + P, C:C + P]
            x = self.up[i, :, R:R + P, C:C + P] if self.up is not None else self.low[i, :, r:r + p, c:c + p]
            yield x, target


def predict(model: torch.nn.Module, low: np.ndarray, upsample: bool) -> np.ndarray:
    model.eval()
    x = sr.interpolate(low, s, "bicubic") if upsample else low
    with torch.no_grad():
        return np.concatenate([model(torch.as_tensor(x[i:i + 4])[:, None].to(dev)).float().cpu().numpy()[:, 0]
                               for i in range(0, len(x), 4)])


nets = {"SRCNN": (lambda: sr.SRCNN(2, (cfg["width"], cfg["width"] // 2)), True),
        "Residual SR": (lambda: sr.ResidualSR(2, cfg["width"], cfg["depth"]), True),
        "Sub-pixel CNN": (lambda: sr.SubPixelSR(s, 2, cfg["width"], cfg["depth"] - 2), False)}
train_deg = "blur+downsample"
models, histories = {}, {}
for name, (make, upsample) in nets.items():
    rt.seed_everything(0)
    models[name] = make()
    loader = torch.utils.data.DataLoader(SRPatches(lr[train_deg]["train"], hr["train"], cfg["patch"], s,
                                                   upsample, seed=1), batch_size=cfg["batch"])
    def val_fn(m: torch.nn.Module, up: bool = upsample) -> dict[str, float]:
        return {"psnr": scores(predict(m, lr[train_deg]["val"], up), hr["val"])["PSNR (dB)"]}

    histories[name] = fit(models[name], loader, torch.nn.functional.l1_loss, steps=cfg["steps"], lr=cfg["lr"],
                          val_fn=val_fn, val_every=max(1, cfg["steps"] // 5), monitor="psnr", mode="max", desc=name)

# %%
fig, axes = plt.subplots(1, len(histories), figsize=(4.2 * len(histories), 3.2), layout="constrained")
for ax, (name, h) in zip(axes, histories.items()):
    viz.plot_history(h, ax=ax)
    ax.set_title(name)
plt.show()

# %% [markdown]
# ## 4. Through-plane SR: thick slices to thin
# A thick-slice acquisition averages `thick` = 4 thin slices (2 mm from 0.5 mm) along the axial
# direction. Baseline: linear interpolation between slice centres. The network is the residual SR
# applied to **sagittal** slices (which contain the thick axis) of the linearly interpolated
# volume, so it learns to sharpen along z. Split: left hemisphere for training, right for testing,
# with validation slices in the gap between them (no training slice within 3.5 mm of a test slice).

# %%
t = cfg["thick"]
sub = vol[20:280, 40:328, 64:288]  # (x, y, z) 260 x 288 x 224, z divisible by thick
tp_lr = sr.thick_slices(sub, t, axis=2)
tp_lin = sr.interpolate(tp_lr, t, "linear", axes=(2,))
mid = sub.shape[0] // 2


class SagittalPatches(torch.utils.data.IterableDataset):
    """Endless random patches of sagittal slices (y, z): (linearly interpolated, HR)."""

    def __init__(self, low: np.ndarray, high: np.ndarray, patch: int, seed: int = 0) -> None:
        self.low, self.high, self.patch, self.seed = torch.as_tensor(low), torch.as_tensor(high), patch, seed

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed)
        n, h, w = self.low.shape
        while True:
            i = int(torch.randint(n, (1,), generator=g))
            r, c = (int(torch.randint(d - self.patch + 1, (1,), generator=g)) for d in (h, w))
            sl = (i, slice(r, r + self.patch), slice(c, c + self.patch))
            yield self.low[sl][None], self.high[sl][None]


def predict_tp(model: torch.nn.Module, low: np.ndarray) -> np.ndarray:
    """Apply a 2D network to each sagittal slice of ``low`` (x, y, z)."""
    model.eval()
    with torch.no_grad():
        return np.concatenate([model(torch.as_tensor(low[i:i + 4])[:, None].to(dev)).float().cpu().numpy()[:, 0]
                               for i in range(0, len(low), 4)])


tp_split = {"train": slice(0, mid - 15, 2), "val": slice(mid - 8, mid + 2, 5), "test": slice(mid + 10, None, 6)}
tp = {k_: (tp_lin[v_], sub[v_]) for k_, v_ in tp_split.items()}
rt.seed_everything(0)
tp_model = sr.ResidualSR(2, cfg["width"], cfg["depth"])
tp_hist = fit(tp_model, torch.utils.data.DataLoader(SagittalPatches(*tp["train"], cfg["patch"], seed=3),
                                                    batch_size=cfg["batch"]),
              torch.nn.functional.l1_loss, steps=cfg["tp_steps"], lr=cfg["lr"], monitor="psnr", mode="max",
              val_fn=lambda m: {"psnr": scores(predict_tp(m, tp["val"][0]), tp["val"][1])["PSNR (dB)"]},
              val_every=max(1, cfg["tp_steps"] // 5), desc="through-plane residual SR")
viz.plot_history(tp_hist)
plt.show()
# %% [markdown]
# ## 5. Evaluation on held-out data
# A caution before the numbers: `ch2better` is an average of 27 scans, brain-extracted, so it is
# smooth inside and has a sharp brain/background edge. Much of the learned networks' gain is at
# that edge (see the error maps), which bicubic blurs and a network learns to restore; on real
# scans with noise and a skull the margins are smaller (compare the MNI152 rows).
# One table. In-plane rows: the test slab, LR made by the **training** degradation (blur +
# downsample), by the **other** degradation (k-space truncation, never seen in training), and the
# MNI152 template (another brain, 1 mm, blur + downsample). Through-plane rows: the right
# hemisphere's sagittal slices, thick slices to thin.

# %%
mni = data.load_mni152("t1", 1).array
mni = np.clip(mni / np.percentile(mni, 99.9), 0, 1.2).astype(np.float32)
mni_hr = np.stack([mni[4:196, 8:232, z] for z in range(70, 120, 10)])  # 192 x 224 axial slices
mni_lr = np.stack([sr.blur_downsample(i, s) for i in mni_hr])
cases = {"test slab, blur+downsample (as trained)": (lr["blur+downsample"]["test"], hr["test"]),
         "test slab, k-space truncation (unseen)": (lr["k-space truncation"]["test"], hr["test"]),
         "MNI152 (another brain), blur+downsample": (mni_lr, mni_hr)}
rows, outputs = [], {}
for case, (low, high) in cases.items():
    outs = {"bicubic": sr.interpolate(low, s, "bicubic"),
            **{name: predict(m, low, nets[name][1]) for name, m in models.items()}}
    outputs[case] = outs
    rows += [{"task": f"in-plane x{s}: {case}", "method": name, **scores(o, high)} for name, o in outs.items()]
tp_out = {"linear slice interpolation": tp["test"][0], "residual SR (sagittal)": predict_tp(tp_model, tp["test"][0])}
rows += [{"task": f"through-plane x{t}: thick slices, right hemisphere", "method": name, **scores(o, tp["test"][1])}
         for name, o in tp_out.items()]
table = pd.DataFrame(rows).set_index(["task", "method"]).round(3)
table

# %%
case0 = "test slab, blur+downsample (as trained)"
zoom = (110, 174, 110, 174)  # rows, columns of the displayed (rotated) slice
fig = viz.compare_with_errors(np.rot90(hr["test"][k]), {n: np.rot90(o[k]) for n, o in outputs[case0].items()},
                              window=(0.0, 1.0),
                              zoom=zoom, reference_title="HR 0.5 mm",
                              suptitle=f"in-plane x{s}, held-out axial slice z={cfg['test_z'][k]} (blur + downsample)")
plt.show()
j = len(tp["test"][1]) // 2
fig = viz.compare_with_errors(np.rot90(tp["test"][1][j]), {n: np.rot90(o[j]) for n, o in tp_out.items()},
                              window=(0.0, 1.0), zoom=(60, 124, 100, 164), reference_title="thin slices (HR)",
                              suptitle=f"through-plane x{t}: a held-out sagittal slice (z vertical)")
plt.show()

# %% [markdown]
# ## 6. Reproduction check
# - **C-SR-a**: learned SR beats interpolation in-plane (best network vs bicubic on the held-out
#   slab, training degradation) and through-plane (residual SR vs linear slice interpolation).
# - **C-SR-b**: a network trained on artificially downsampled pairs loses on a different
#   degradation: its gain over bicubic on k-space-truncated input is smaller than on the training
#   degradation (passed when the gain shrinks by more than half, or becomes a loss).
# - Book target: learned 2x SR above bicubic in quick, ≥ 1.5 dB above it in full.

# %%
P = table["PSNR (dB)"]
t_in, t_k = (f"in-plane x{s}: {c}" for c in list(cases)[:2])
t_tp = f"through-plane x{t}: thick slices, right hemisphere"
best = max(models, key=lambda n: P[(t_in, n)])
gain_in = P[(t_in, best)] - P[(t_in, "bicubic")]
gain_tp = P[(t_tp, "residual SR (sagittal)")] - P[(t_tp, "linear slice interpolation")]
report.claim("C-SR-a", bool(gain_in > 0 and gain_tp > 0),
             f"in-plane x{s}: {best} {P[(t_in, best)]:.2f} dB vs bicubic {P[(t_in, 'bicubic')]:.2f} dB "
             f"({gain_in:+.2f} dB); through-plane x{t}: residual SR {gain_tp:+.2f} dB over linear "
             f"interpolation; profile {rt.profile()}")
gain_k = P[(t_k, best)] - P[(t_k, "bicubic")]
report.claim("C-SR-b", bool(gain_k < 0.5 * gain_in),
             f"{best} trained on blur+downsample: {gain_in:+.2f} dB over bicubic on that degradation, "
             f"{gain_k:+.2f} dB on k-space truncation (unseen)")
report.record({"table": table.reset_index().to_dict("records"), "best_in_plane": best,
               "gain_in_plane_db": gain_in, "gain_through_plane_db": gain_tp, "gain_unseen_degradation_db": gain_k,
               "seconds": time.perf_counter() - t_start})
print(f"best in-plane network: {best}, {gain_in:+.2f} dB over bicubic (target: > 0 quick, >= 1.5 dB full)")
assert gain_in > 0, "the learned SR must beat bicubic on the held-out slab"

# %% [markdown]
# ## Exercises
# 1. Train the residual SR on k-space-truncated pairs instead and test on blur + downsample. Is the
#    loss of quality symmetric? Then train on a 50/50 mix of both degradations.
# 2. Replace the 2D through-plane network by `sr.SRCNN(dims=3)` on 3D patches of the linearly
#    interpolated volume. What does the third dimension buy, and what does it cost in time?
# 3. Add Rician noise (magnitude of complex Gaussian noise) to the LR images. Which network breaks
#    first, and does bicubic suffer as much?
# 4. Compare the sub-pixel CNN's cost (multiply-adds) with SRCNN's at the same depth: why does
#    working at low resolution save a factor close to `scale²`?

# %% [markdown]
# ## Summary
# From the real 0.5 mm Colin27 T1 we made LR images by blur + downsample, by k-space truncation
# and by thick-slice averaging, and trained SRCNN, a residual SR network and a sub-pixel CNN. On
# held-out slices the table compares each with bicubic and linear slice interpolation. The test on
# an unseen degradation shows the survey's caution: an SR network learns the degradation it was
# trained on, so the pairs used for training should match the scanner's real acquisition. The
# claims' verdicts for this run are in the reproduction check and on the book's scorecard.
