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
# # 3.2b V-Net, the Dice loss and the Combo loss: segmentation under class imbalance
#
# *Survey §3.2 and Table 2* {cite}`wang2020survey`, {cite}`ref84`, {cite}`ref92`
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/corelib-book/medimg-dl-companion/blob/main/notebooks/ch3_2_segmentation/02_vnet_dice_and_losses.ipynb)
#
# A small structure in a large image makes voxel-wise cross-entropy dominated by the background:
# a network can score a low loss by predicting background almost everywhere. V-Net answered with
# a loss built on the Dice overlap itself, computed over the whole volume; the Combo loss adds a
# weighted cross-entropy back to the Dice term to control false positives against false negatives.
# This notebook trains a V-Net with the Dice loss on 3D crops and infers on whole volumes with a
# sliding window, then compares four losses on the same 2D network with everything else fixed.
#
# **What you will learn**
# - the V-Net: residual stages, strided convolutions instead of pooling, 3D throughout;
# - to train on random 3D crops and predict whole volumes with MONAI's `sliding_window_inference`;
# - cross-entropy, Dice, focal and Combo losses on a task with a small foreground share, and what
#   each does to Dice, HD95 and ASD.

# %% tags=["remove-cell"]
import subprocess
import sys

if "google.colab" in sys.modules:
    pkg = "corelib @ git+https://github.com/corelib-book/medimg-dl-companion"
    subprocess.run(f"pip install -q '{pkg}'", shell=True, check=True)
    subprocess.run("apt-get -qq update && apt-get -qq install -y --no-install-recommends "
                   "mricron-data invesalius-examples insighttoolkit5-examples",
                   shell=True, check=True)

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, TensorDataset

from corelib import report, runtime as rt, viz
from corelib import segmentation as seg
from corelib.train import fit

report.set_notebook("ch3_2_segmentation/02_vnet_dice_and_losses")
card = rt.run_card(seed=0, datasets=["msd_hippocampus"])

# %% [markdown]
# ## Sizes for this machine
# `quick`: a narrow V-Net (`vnet_width` channels at full resolution, `3^3` kernels) on small 3D
# crops, and a small 2D U-Net for the loss study, short trainings. `full` (one GPU): MONAI's
# full-size `VNet` (`5^3` kernels), larger crops and longer training. `dice_target` is the V-Net's
# quality target, checked in section 5.

# %%
cfg = rt.pick(
    quick=dict(vnet_width=8, vnet_steps=90, vnet_batch=4, crop=(32, 48, 32),
               n_crops=1200, steps=200, batch=8, lr=5e-3, width=(8, 16, 32, 64),
               dice_target=0.75, val_volumes=4),
    full=dict(vnet_width=None, vnet_steps=2000, vnet_batch=8, crop=(48, 64, 48),
              n_crops=8000, steps=3000, batch=64, lr=2e-3, width=(32, 64, 128, 256),
              dice_target=0.80, val_volumes=8),
    smoke=dict(vnet_batch=2, batch=2),  # a smoke run only executes the code path
)
AXIS, NAMES = 0, {1: "anterior", 2: "posterior"}
for key in ("vnet_steps", "steps", "dice_target"):
    report.glue(key, cfg[key])
report.glue("crop", " x ".join(map(str, cfg["crop"])))
report.glue("profile", rt.profile())
cfg

# %% [markdown]
# This run (`{glue:text}`profile``): the V-Net trains for {glue:text}`vnet_steps` steps on crops
# of {glue:text}`crop` voxels, each U-Net of the loss study for {glue:text}`steps` steps.
#
# ## 1. Data and its imbalance
# The same subject split as in the previous notebook (`seg.hippocampus_split`, seed `0`). For the
# loss study every slice is kept, also those without hippocampus, so the foreground is a small
# share of the voxels.

# %%
hip = seg.hippocampus_split()
split, by_id, targets, spacing = hip.split, hip.by_id, hip.targets, hip.spacing
train_v, val_v, test_v = hip.train, hip.val, hip.test
x_sl, y_sl = seg.slice_stack(train_v, axes=(AXIS,))
share = np.bincount(y_sl.numpy().ravel(), minlength=3) / y_sl.numel()
empty = float((y_sl.flatten(1).amax(1) == 0).float().mean())
report.glue("fg_share", 100 * share[1:].sum())
report.glue("empty_share", 100 * empty)
print(f"{len(x_sl)} training slices; voxel shares: background {share[0]:.3f}, "
      f"anterior {share[1]:.4f}, posterior {share[2]:.4f}; empty slices {empty:.0%}")

# %% [markdown]
# Hippocampus voxels are {glue:text}`fg_share:.1f` % of the training slices' voxels, and
# {glue:text}`empty_share:.0f` % of the slices hold none.

# %%
n_crops = len(rt.cases(range(cfg["n_crops"]), smoke_cases=64))   # a smoke run: a few
x_cr, y_cr = seg.random_crops(train_v, cfg["crop"], n_crops, seed=0, fg_fraction=0.5)
fig, axes = plt.subplots(1, 3, figsize=(10, 3.4), layout="constrained")
for j, ax in enumerate(axes):
    img, lab = x_cr[j, 0].numpy(), y_cr[j].numpy()
    k = int(np.argmax((lab > 0).sum(axis=(1, 2)))) if lab.any() else lab.shape[0] // 2
    viz.overlay_labels(img[k].T, lab[k].T, ax=ax, window=(-2.5, 2.5),
                       label_names=["bg", *NAMES.values()],
                       title=f"training crop {j} (slice {k})")
    ax.invert_yaxis()
plt.show()

# %% [markdown]
# ## 2. V-Net with the Dice loss (3D)
# The soft Dice loss of {cite}`ref84`, $1 - 2 \sum p g / (\sum p + \sum g)$, here MONAI's
# `DiceLoss` over the two foreground classes. Training sees random crops (half of them centred on
# a labelled voxel); the validation and test volumes are predicted whole with overlapping windows
# of the crop size (Gaussian-weighted blending). Model selection uses the mean Dice on validation
# volumes (`seg.val_dice`).

# %%
val_idx = rt.cases(list(range(min(cfg["val_volumes"], len(split["val"])))))


def predict_vnet(model, v, overlap=0.25):
    return seg.predict_3d(model, v, cfg["crop"], overlap=overlap)


def predict_2d(model, v):
    return seg.predict_2d(model, v, AXIS)


rt.seed_everything(0)
vnet = seg.vnet(1, 3, width=cfg["vnet_width"])
loader3d = DataLoader(TensorDataset(x_cr, y_cr), batch_size=cfg["vnet_batch"],
                      shuffle=True, drop_last=True,
                      generator=torch.Generator().manual_seed(0))
h_vnet = fit(vnet, loader3d, seg.make_loss("dice"), steps=cfg["vnet_steps"], lr=cfg["lr"],
             val_fn=seg.val_dice(predict_vnet, val_v, val_idx),
             val_every=max(1, cfg["vnet_steps"] // 4), monitor="dice", mode="max",
             desc="V-Net, Dice loss")

# %% [markdown]
# ## 3. Four losses, one network
# The same small 2D U-Net, data (all slices), optimiser, steps and seed; only the loss changes:
# cross-entropy, Dice (MONAI), focal (MONAI, `focal_gamma=2`) and Combo ({cite}`ref92`,
# `combo_alpha=0.5`, `combo_beta=0.7`, hand-written in `corelib.segmentation.losses`).


# %%
def train_unet(loss_key, x=x_sl, y=y_sl, **loss_kw):
    """The loss study's 2D U-Net trained with one loss; returns (model, history)."""
    rt.seed_everything(0)
    model = seg.unet(channels=cfg["width"])
    loader = DataLoader(TensorDataset(x, y), batch_size=cfg["batch"], shuffle=True,
                        drop_last=True, generator=torch.Generator().manual_seed(0))
    history = fit(model, loader, seg.make_loss(loss_key, **loss_kw), steps=cfg["steps"],
                  lr=cfg["lr"], val_fn=seg.val_dice(predict_2d, val_v, val_idx),
                  val_every=cfg["steps"] // 4, monitor="dice", mode="max",
                  desc=f"U-Net, {loss_key}")
    return model, history


losses = {"cross-entropy": "ce", "Dice": "dice", "focal": "focal", "Combo": "combo"}
models, histories = {}, {}
for name, key in losses.items():
    models[name], histories[name] = train_unet(key)

# %%
fig = viz.plot_histories({"V-Net, Dice loss": h_vnet,
                          **{f"U-Net, {n}": h for n, h in histories.items()}})
plt.show()

# %% [markdown]
# ## 4. Held-out test split
# One table, Table 2 in kind: every model on the same test volumes, whole-volume inference.

# %%
test_idx = rt.cases(list(range(len(split["test"]))))
test_ids = [split["test"][i] for i in test_idx]
test_targets = [targets[i] for i in test_idx]
per_case, rows, preds_all = {}, {}, {}
runs = {"V-Net (3D), Dice": (vnet, predict_vnet, h_vnet)}
runs.update({f"U-Net (2D), {n}": (models[n], predict_2d, histories[n]) for n in losses})
true_vox = sum(int((t > 0).sum()) for t in test_targets)
for name, (model, predict, h) in runs.items():
    preds_all[name] = seg.segment(lambda v: predict(model, v), test_v, test_idx)
    per_case[name] = seg.evaluate(preds_all[name], test_targets, spacing=spacing,
                                  ids=test_ids)
    vox = sum(int((p > 0).sum()) for p in preds_all[name])
    rows[name] = seg.summary_row(per_case[name], names=NAMES.values(),
                                 params=seg.count_parameters(model),
                                 train_s=round(h.seconds, 1),
                                 **{"volume ratio": vox / true_vox})
table = pd.DataFrame(rows).T
table.round(3)

# %% [markdown]
# The `volume ratio` column is predicted foreground volume over true volume: below `1` means the
# network under-segments (the typical failure of plain cross-entropy under imbalance), above `1`
# over-segments. Which loss under-segments most in this run?

# %%
i = int(per_case["V-Net (3D), Dice"][["dice_1", "dice_2"]].mean(axis=1).idxmin())
cid = test_ids[i]
img, lab = by_id[cid].image.array, by_id[cid].label.array
k = int(np.argmax((lab > 0).sum(axis=(1, 2))))
lo, hi = np.percentile(img, [1, 99])
show = ["V-Net (3D), Dice", "U-Net (2D), cross-entropy", "U-Net (2D), Combo"]
fig, axes = plt.subplots(1, 1 + len(show), figsize=(13, 3.6), layout="constrained")
viz.overlay_labels(img[k].T, lab[k].T, ax=axes[0], window=(lo, hi),
                   label_names=["bg", *NAMES.values()],
                   title=f"{cid} (hardest for V-Net): truth")
for ax, name in zip(axes[1:], show):
    d = per_case[name].loc[i, ["dice_1", "dice_2"]].mean()
    viz.overlay_labels(img[k].T, preds_all[name][i][k].T, ax=ax, window=(lo, hi),
                       label_names=["bg", *NAMES.values()], title=f"{name}\nDice {d:.2f}")
for ax in axes:
    ax.invert_yaxis()
plt.show()

# %% [markdown]
# ## 5. Reproduction check
# **C-SG-b** (Dice / Combo losses handle foreground-background imbalance better than plain
# cross-entropy): the Dice-loss U-Net and the Combo-loss U-Net each against the cross-entropy
# U-Net, mean Dice per test case (the two classes averaged), paired over the same test cases,
# margin `0` ("better"); the claim needs both (`report.all_of`). One training run per loss
# decides. The V-Net's quality target is a mean test Dice of at least {glue:text}`dice_target`
# (`dice_target` in `cfg`), checked with `report.check`.

# %%
def case_dice(name):
    """Mean Dice of the two classes for each test case."""
    return per_case[name][["dice_1", "dice_2"]].mean(axis=1).to_numpy()


ce_dice = case_dice("U-Net (2D), cross-entropy")
v = report.all_of(
    dice=report.compare(case_dice("U-Net (2D), Dice"), ce_dice, margin=0.0,
                        what="Dice loss minus CE, mean Dice"),
    combo=report.compare(case_dice("U-Net (2D), Combo"), ce_dice, margin=0.0,
                         what="Combo loss minus CE, mean Dice"))
report.claim("C-SG-b", v, evidence=(
    f"U-Net 2D, all slices (foreground {share[1:].sum():.1%} of voxels), {cfg['steps']} "
    f"steps, one run per loss, {len(test_ids)} held-out hippocampus cases; HD95 CE "
    f"{table.loc['U-Net (2D), cross-entropy', 'HD95 mm']:.2f} vs Combo "
    f"{table.loc['U-Net (2D), Combo', 'HD95 mm']:.2f} mm"))
for part, pv in v.parts.items():
    for field in ("effect", "lo", "hi", "status"):
        report.glue(f"{part}_{field}", getattr(pv, field))
report.glue("claim_status", v.status)
vnet_dice = table.loc["V-Net (3D), Dice", "Dice mean"]
report.glue("vnet_dice", vnet_dice)
report.headline("V-Net (3D, Dice loss), mean Dice, hippocampus test split", vnet_dice)
report.record({"table": table.round(4).to_dict(orient="index")})
report.check((table["Dice mean"] > 0.2).all(),
             "every model is far above an all-background segmentation (mean Dice > 0.2)")
report.check(vnet_dice >= cfg["dice_target"],
             f"V-Net mean test Dice {vnet_dice:.3f} >= target {cfg['dice_target']}")
print(v.summary())

# %% [markdown]
# Dice loss minus cross-entropy: {glue:text}`dice_effect:+.3f` [{glue:text}`dice_lo:+.3f`,
# {glue:text}`dice_hi:+.3f`] ({glue:text}`dice_status`); Combo minus cross-entropy:
# {glue:text}`combo_effect:+.3f` [{glue:text}`combo_lo:+.3f`, {glue:text}`combo_hi:+.3f`]
# ({glue:text}`combo_status`). C-SG-b is **{glue:text}`claim_status`** in this run. The V-Net
# reaches a mean test Dice of {glue:text}`vnet_dice:.3f` (target {glue:text}`dice_target`).

# %% [markdown]
# ## Exercises
# 1. Make the imbalance worse: pad the training slices to a larger plane
#    (`slice_stack(..., plane=(128, 128))`) and rerun the loss study. Which loss suffers first?
# 2. Change the Combo loss's `combo_beta` from `0.7` to `0.3`. What happens to the volume ratio,
#    and why?
# 3. Predict the V-Net's test volumes with `overlap=0` and with `overlap=0.5`. How much do Dice and
#    HD95 change, and what does each cost in time?
# 4. Train the V-Net with cross-entropy instead of Dice. Is the 3D network as sensitive to the loss
#    as the 2D one?

# %% tags=["solution", "hide-cell"]
# Solution 1
# More background per slice: the losses that do not measure overlap (CE, focal) lose most.
# It trains four networks, so it runs in the full profile only (CORELIB_PROFILE=full).
if rt.profile() == "full":
    x_big, y_big = seg.slice_stack(train_v, axes=(AXIS,), plane=(128, 128))
    big = {}
    for name, key in losses.items():
        m, _ = train_unet(key, x_big, y_big)
        p = seg.segment(lambda v: predict_2d(m, v), test_v, test_idx)
        scores = seg.evaluate(p, test_targets)[["dice_1", "dice_2"]]
        big[name] = scores.mean(axis=1).mean()
    print(pd.DataFrame({"64 x 48": table.loc[[f"U-Net (2D), {n}" for n in losses],
                                             "Dice mean"].to_numpy(),
                        "128 x 128": list(big.values())}, index=list(losses)))

# %% tags=["solution", "hide-cell"]
# Solution 2
# A smaller beta weights false positives more in ComboLoss's weighted CE:
# expect a smaller predicted volume (a lower volume ratio).
# It trains a network, so it runs in the full profile only.
if rt.profile() == "full":
    m, _ = train_unet("combo", combo_beta=0.3)
    p = seg.segment(lambda v: predict_2d(m, v), test_v, test_idx)
    ratio = sum(int((q > 0).sum()) for q in p) / true_vox
    print(f"volume ratio: beta 0.7 {table.loc['U-Net (2D), Combo', 'volume ratio']:.3f}, "
          f"beta 0.3 {ratio:.3f}")

# %% tags=["solution", "hide-cell"]
# Solution 3
# The padded volume is less than two crops long on every axis: any overlap up to 0.5 puts
# the same two windows on each axis; only a larger overlap adds windows (and time).
sub = test_idx[:4]
for overlap in (0.0, 0.5, 0.75):
    t0 = time.perf_counter()
    p = seg.segment(lambda v: predict_vnet(vnet, v, overlap), test_v, sub)
    dt = (time.perf_counter() - t0) / len(sub)
    e = seg.evaluate(p, [targets[i] for i in sub], spacing=spacing)
    print(f"overlap {overlap}: Dice {e[['dice_1', 'dice_2']].mean().mean():.3f}, "
          f"HD95 {e[['hd95_1', 'hd95_2']].mean().mean():.2f} mm, {dt:.2f} s per volume")

# %% tags=["solution", "hide-cell"]
# Solution 4
# Full profile only (it trains a 3D network).
if rt.profile() == "full":
    rt.seed_everything(0)
    vnet_ce = seg.vnet(1, 3, width=cfg["vnet_width"])
    fit(vnet_ce, loader3d, seg.make_loss("ce"), steps=cfg["vnet_steps"], lr=cfg["lr"],
        val_fn=seg.val_dice(predict_vnet, val_v, val_idx),
        val_every=max(1, cfg["vnet_steps"] // 4), monitor="dice", mode="max",
        desc="V-Net, cross-entropy")
    p = seg.segment(lambda v: predict_vnet(vnet_ce, v), test_v, test_idx)
    d = seg.evaluate(p, test_targets)[["dice_1", "dice_2"]].mean(axis=1).mean()
    print(f"V-Net mean Dice: Dice loss {vnet_dice:.3f}, cross-entropy {d:.3f}")

# %% [markdown]
# ## Summary
# The V-Net segments the hippocampus in 3D from crops, and sliding-window inference puts the crops
# back together over the whole volume. With the foreground a small share of the voxels, losses
# that measure overlap (Dice, Combo) and plain cross-entropy can end up at different places; the
# verdict above, the table and the volume ratio show how far apart they are on this data, at this
# training budget.
