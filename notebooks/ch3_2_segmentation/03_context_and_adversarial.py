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

# %% [markdown]
# # 3.2c Context and adversarial training: 2D, 2.5D, 3D, slice sequences and SegAN
#
# *Survey §3.2 and Table 2* {cite}`wang2020survey`, {cite}`ref77`, {cite}`ref87`, {cite}`ref88`, {cite}`ref89`
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/corelib-book/medimg-dl-companion/blob/main/notebooks/ch3_2_segmentation/03_context_and_adversarial.ipynb)
#
# A 2D network sees one slice; the anatomy is 3D. The survey lists three answers: 2.5D networks
# that look at orthogonal planes, fully 3D networks, and recurrent networks over the slice
# sequence. A different idea changes the loss rather than the input: in SegAN a critic network
# compares image features masked by the prediction and by the ground truth at several scales,
# and the segmentor learns to make the two indistinguishable.
#
# **What you will learn**
# - 2.5D as used here: **one** 2D U-Net trained on slices of all three orthogonal planes, whose
#   three per-plane predictions are averaged voxel by voxel (tri-planar, after {cite}`ref77`);
# - a 3D U-Net on crops with sliding-window inference, against the same U-Net in 2D;
# - a slice-sequence model: a 2D U-Net whose bottleneck features flow along the stack of slices
#   through a bidirectional convolutional LSTM (after {cite}`ref88` and {cite}`ref87`);
# - SegAN's multi-scale L1 critic loss and how to add it to a supervised loss.

# %% tags=["remove-cell"]
import subprocess
import sys

if "google.colab" in sys.modules:
    subprocess.run("pip install -q 'corelib @ git+https://github.com/corelib-book/medimg-dl-companion'",
                   shell=True, check=True)
    subprocess.run("apt-get -qq update && apt-get -qq install -y --no-install-recommends "
                   "mricron-data invesalius-examples insighttoolkit5-examples", shell=True, check=True)

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, TensorDataset

import corelib.data as data
from corelib import report, runtime as rt, viz
from corelib import segmentation as seg
from corelib.train import fit

report.set_notebook("ch3_2_segmentation/03_context_and_adversarial")
card = rt.run_card(seed=0, datasets=["msd_hippocampus"])

# %%
cfg = rt.pick(
    quick=dict(steps=250, batch=16, lr=5e-3, width=(8, 16, 32, 64), crop=(32, 48, 32), batch3d=4,
               n_crops=1000, slab=4, adv_weight=1.0),
    full=dict(steps=3000, batch=64, lr=2e-3, width=(32, 64, 128, 256), crop=(48, 64, 48), batch3d=8,
              n_crops=8000, slab=8, adv_weight=1.0),
)
PAD, AXIS, PLANE, NAMES = (48, 64, 48), 0, (64, 64), {1: "anterior", 2: "posterior"}
cfg

# %% [markdown]
# ## 1. Data
# Same subject split (seed 0) as the other notebooks of this chapter.

# %%
cases = data.load_hippocampus()
by_id = {c.case_id: c for c in cases}
split = data.split_by_subject(list(by_id), (0.7, 0.15, 0.15), seed=0)


def padded(ids):
    return seg.pad_volumes([by_id[i].image.array for i in ids], [by_id[i].label.array for i in ids], PAD, ids)


train_v, val_v, test_v = padded(split["train"]), padded(split["val"]), padded(split["test"])
targets = [by_id[i].label.array for i in split["test"]]
spacing = by_id[split["test"][0]].image.spacing
x2d, y2d = seg.slice_stack(train_v, axes=(AXIS,), drop_empty=0.7, seed=0)
x25, y25 = seg.slice_stack(train_v, axes=(0, 1, 2), plane=PLANE, drop_empty=0.7, seed=0)
x3d, y3d = seg.random_crops(train_v, cfg["crop"], cfg["n_crops"], seed=0)
# stacks of `slab` adjacent whole slices along AXIS (crops that span the full plane), 90 % of them
# centred on a hippocampus voxel: the 2D loader drops most empty slices for the same reason
slab_size = (cfg["slab"], *(s for a, s in enumerate(PAD) if a != AXIS))
xsq, ysq = seg.random_crops(train_v, slab_size, cfg["n_crops"] // 2, seed=0, fg_fraction=0.9)
print(f"2D slices {tuple(x2d.shape)}, tri-planar slices {tuple(x25.shape)}, 3D crops {tuple(x3d.shape)}, "
      f"slice stacks {tuple(xsq.shape)}")

# %%
c0 = by_id[split["test"][0]]
centre = [int(round(m)) for m in np.argwhere(c0.label.array > 0).mean(0)]
fig = viz.three_plane(c0.image.array, spacing=c0.image.spacing, index=centre, labels=c0.label.array,
                      label_names=["bg", *NAMES.values()], title=f"{c0.case_id}: the three planes 2.5D uses")
plt.show()

# %% [markdown]
# ## 2. Baseline and context models
# Four networks with the same widths, loss (Dice + CE), optimiser and number of steps: a 2D U-Net
# on one plane, the same U-Net on three planes (2.5D), a 3D U-Net on crops, and the slice-sequence
# U-Net on stacks of adjacent slices. A 3D step sees more voxels (4 crops of 32 x 48 x 32 against
# 16 slices of 64 x 48); a sequence step sees 4 stacks of 4 adjacent slices, as many slices as a
# 2D step. (Stacks of 4, mostly centred on the hippocampus, were chosen on the validation split over
# stacks of 8 and over half-empty stacks.) The table reports the training time each needed.
#
# The slice-sequence model (`corelib.segmentation.SliceSequenceUNet`) runs one 2D encoder on every
# slice of the stack. At the bottleneck a convolutional LSTM walks along the stack, one cell from
# the first slice to the last and one back, so each slice's deepest features carry information
# from all the others; the 2D decoder then works slice by slice with the usual U-Net skips. At test
# time the whole volume is one sequence (`seg.predict_sequence`).

# %%
val_idx = list(range(min(8, len(split["val"]))))
val_targets = [val_v.original(i, val_v.labels[i]) for i in val_idx]
predictors = {
    "U-Net 2D": lambda m, v: seg.predict_2d(m, v, AXIS),
    "U-Net 2.5D (tri-planar)": lambda m, v: seg.predict_triplanar(m, v, plane=PLANE),
    "U-Net 3D": lambda m, v: seg.predict_3d(m, v, cfg["crop"], overlap=0.25),
    "Bi-ConvLSTM U-Net (slices)": lambda m, v: seg.predict_sequence(m, v, AXIS),
    "SegAN (U-Net 2D + critic)": lambda m, v: seg.predict_2d(m, v, AXIS),
}


def val_dice(predict):
    def fn(model):
        preds = seg.segment(lambda v: predict(model, v), val_v, val_idx)
        return {"dice": float(seg.evaluate(preds, val_targets)[["dice_1", "dice_2"]].mean().mean())}
    return fn


def loader(x, y, batch):
    return DataLoader(TensorDataset(x, y), batch_size=batch, shuffle=True, drop_last=True,
                      generator=torch.Generator().manual_seed(0))


setups = {
    "U-Net 2D": (lambda: seg.unet(2, channels=cfg["width"]), loader(x2d, y2d, cfg["batch"])),
    "U-Net 2.5D (tri-planar)": (lambda: seg.unet(2, channels=cfg["width"]), loader(x25, y25, cfg["batch"])),
    "U-Net 3D": (lambda: seg.unet(3, channels=cfg["width"]), loader(x3d, y3d, cfg["batch3d"])),
    "Bi-ConvLSTM U-Net (slices)": (lambda: seg.biconvlstm_unet(features=cfg["width"]),
                                   loader(xsq, ysq, cfg["batch"] // cfg["slab"])),
}
models, histories = {}, {}
loss = seg.make_loss("dicece")
for name, (make_model, dl) in setups.items():
    rt.seed_everything(0)
    models[name] = make_model()
    histories[name] = fit(models[name], dl, loss, steps=cfg["steps"], lr=cfg["lr"],
                          val_fn=val_dice(predictors[name]), val_every=cfg["steps"] // 5,
                          monitor="dice", mode="max", desc=name)

# %% [markdown]
# ## 3. SegAN: a critic with a multi-scale L1 loss
# The critic (three strided convolution stages, `corelib.segmentation.SegANCritic`) gets the image
# multiplied by each foreground probability map, or by the true masks. Its features at every scale
# (the input itself included) are compared with an L1 distance, averaged over scales {cite}`ref89`.
# The critic is updated to make the distance large (weights clipped to ±0.05), the segmentor to make
# it small, here together with the same Dice + CE loss as the baseline 2D U-Net, so the only change
# is the adversarial term.

# %%
rt.seed_everything(0)
segan = seg.unet(2, channels=cfg["width"])
critic = seg.SegANCritic(2, 3, features=(16, 32, 64))
step = seg.SegANStep(critic, seg.make_loss("dicece"), weight=cfg["adv_weight"])
name = "SegAN (U-Net 2D + critic)"
histories[name] = fit(segan, loader(x2d, y2d, cfg["batch"]), None, batch_fn=step, steps=cfg["steps"],
                      lr=cfg["lr"], val_fn=val_dice(predictors[name]), val_every=cfg["steps"] // 5,
                      monitor="dice", mode="max", desc=name)
models[name] = segan

# %%
fig, axes = plt.subplots(2, 3, figsize=(15, 6.5), layout="constrained")
axes = axes.ravel()
for ax, (name, h) in zip(axes, histories.items()):
    viz.plot_history(h, ax=ax)
    ax.set_title(name, fontsize=9)
axes[-1].plot(np.convolve(step.critic_loss, np.ones(10) / 10, mode="valid"))
axes[-1].set(title="SegAN critic: multi-scale L1", xlabel="step", ylabel="L1 (moving mean of 10)")
plt.show()

# %% [markdown]
# ## 4. Held-out test split

# %%
per_case, rows, preds_all = {}, {}, {}
for name, model in models.items():
    preds_all[name] = seg.segment(lambda v: predictors[name](model, v), test_v)
    per_case[name] = seg.evaluate(preds_all[name], targets, spacing=spacing, ids=split["test"])
    rows[name] = seg.summary_row(per_case[name], names=NAMES.values(), params=seg.count_parameters(model),
                                 train_s=round(histories[name].seconds, 1))
table = pd.DataFrame(rows).T
table.round(3)

# %% [markdown]
# A 2D network predicts each slice on its own, so its label maps can be ragged across slices. The
# figure shows the hardest test case for the 2D U-Net in the plane **across** its slices, where
# this shows, with each model's prediction.

# %%
i = int(per_case["U-Net 2D"][["dice_1", "dice_2"]].mean(axis=1).idxmin())
cid = split["test"][i]
img, lab = by_id[cid].image.array, by_id[cid].label.array
k = int(np.argmax((lab > 0).sum(axis=(0, 1))))   # an axis-2 slice: crosses the 2D network's slices
lo, hi = np.percentile(img, [1, 99])
fig, axes = plt.subplots(2, 3, figsize=(11, 7.5), layout="constrained")
axes = axes.ravel()
viz.overlay_labels(img[:, :, k].T, lab[:, :, k].T, ax=axes[0], window=(lo, hi),
                   label_names=["bg", *NAMES.values()], title=f"{cid} truth\n(axis-2 slice {k})")
for ax, name in zip(axes[1:], models):
    d = per_case[name].loc[i, ["dice_1", "dice_2"]].mean()
    viz.overlay_labels(img[:, :, k].T, preds_all[name][i][:, :, k].T, ax=ax, window=(lo, hi),
                       label_names=["bg", *NAMES.values()], title=f"{name}\nDice {d:.2f}")
for ax in axes:
    ax.invert_yaxis()
plt.show()

# %% [markdown]
# ## 5. Reproduction check
# **C-SG-c** (3D context, from 2.5D, 3D or slice RNNs, beats single 2D slices): reproduced when
# every context model (2.5D, 3D and the Bi-ConvLSTM slice sequence) beats the 2D U-Net in mean
# test Dice by at least 0.01 and none has a worse HD95; not reproduced when the 2D U-Net is at
# least as good as all of them in Dice; inconclusive otherwise. The SegAN result is
# recorded in the table (no claim of the catalogue covers it). The assert checks only what holds
# with margin: every model reaches a mean Dice above 0.5.

# %%
context = {"2.5D tri-planar": "U-Net 2.5D (tri-planar)", "3D": "U-Net 3D", "Bi-ConvLSTM": "Bi-ConvLSTM U-Net (slices)"}
d2, h2 = table.loc["U-Net 2D", "Dice mean"], table.loc["U-Net 2D", "HD95 mm"]
dc = {k: table.loc[n, "Dice mean"] for k, n in context.items()}
hc = {k: table.loc[n, "HD95 mm"] for k, n in context.items()}
ok = all(d - d2 >= 0.01 for d in dc.values()) and all(h <= h2 for h in hc.values())
passed = True if ok else (False if all(d2 >= d for d in dc.values()) else None)
evidence = (f"{cfg['steps']} steps each, {len(targets)} test cases: mean Dice 2D U-Net {d2:.3f}, "
            + ", ".join(f"{k} {d:.3f} ({d - d2:+.3f})" for k, d in dc.items())
            + f"; HD95 2D {h2:.2f}, " + ", ".join(f"{k} {h:.2f}" for k, h in hc.items())
            + f" mm (margin 0.01 Dice, HD95 not worse); SegAN {table.loc['SegAN (U-Net 2D + critic)', 'Dice mean']:.3f}")
print(evidence)
report.claim("C-SG-c", passed, evidence)
report.record("ch3_2_segmentation/03_context_and_adversarial", {"table": table.round(4).to_dict(orient="index")})
assert (table["Dice mean"] > 0.5).all()

# %% [markdown]
# ## Exercises
# 1. 2.5D the other way: stack 3 adjacent slices as input channels (`in_channels=3`) of a 2D U-Net.
#    How does it compare with the tri-planar average at the same cost?
# 2. Average the 2D and 3D U-Nets' probabilities. Is the ensemble better than either?
# 3. Set SegAN's `adv_weight` to 0 and to 10. Which numbers in the table move?
# 4. Replace the crop size of the 3D U-Net by the whole padded volume (48 x 64 x 48). What changes in
#    time per step and in Dice?
# 5. Train the Bi-ConvLSTM U-Net on stacks of 2 slices instead of 4 (`slab=2`). Does it still beat
#    the 2D U-Net? Then predict the test volumes one slice at a time (a sequence of length 1): how
#    much of its accuracy came from the LSTM?
# 6. A model can win in Dice and lose in HD95 when it leaves small islands far from the
#    hippocampus. Clean every model's test predictions with `seg.keep_largest_components(p, n=1)`
#    (one piece per class) and recompute the table: which ranking changes?
#
# ## Summary
# Looking beyond one slice, with three planes, with 3D kernels or with a recurrent path along the
# slice stack, is the survey's answer to ragged
# slice-wise segmentations; the table shows how much it buys on small hippocampus crops and what it
# costs. SegAN changes only the loss: a learned, multi-scale comparison of masked images added to the
# supervised loss.
