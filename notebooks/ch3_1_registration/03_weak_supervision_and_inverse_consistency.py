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
# # 3.1c Weak supervision by labels, inverse consistency and anti-folding
#
# *Survey §3.1 and Table 1* {cite}`wang2020survey`; label-driven registration {cite}`ref63,ref70`;
# VoxelMorph with auxiliary segmentations {cite}`ref69`; ICNet {cite}`ref72`
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/corelib-book/medimg-dl-companion/blob/main/notebooks/ch3_1_registration/03_weak_supervision_and_inverse_consistency.ipynb)
#
# Image similarity is only a proxy for what registration is for: bringing the *same structures*
# into correspondence. Hu et al. {cite}`ref63` trained a registration network with the overlap of
# warped labels only (weak supervision: labels instead of true fields), and VoxelMorph
# {cite}`ref69` added the Dice of warped segmentations as an auxiliary loss. The labels are
# needed only for training: at test time the network still sees two images. ICNet
# {cite}`ref72` attacked the other weakness of unsupervised fields: it registers both directions
# and asks the two fields to be inverses of each other, with a penalty on negative Jacobians.
#
# **What you will learn**
# - to add a differentiable Dice of warped one-hot labels to the VoxelMorph loss (RG5);
# - whether the labels raise the Dice on held-out pairs, and what they do to the image match
#   (claim C-RG-c);
# - inverse-consistency and anti-folding terms (RG10), measured by folding and by how far the
#   forward and backward fields are from inverse.

# %% tags=["remove-cell"]
import subprocess
import sys

if "google.colab" in sys.modules:
    subprocess.run("pip install -q 'corelib @ git+https://github.com/corelib-book/medimg-dl-companion'",
                   shell=True, check=True)

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

import corelib.registration as reg
from corelib import report, runtime as rt, train, viz
from corelib.registration.plots import deformation_grid, jacobian_map

report.set_notebook("ch3_1_registration/03_weak_supervision_and_inverse_consistency")
card = rt.run_card(seed=0, datasets=["msd_hippocampus"])
cfg = rt.pick(
    quick=dict(dim=2, shape=(56, 40), channels=(16, 32, 32, 32), small=(8, 16, 16, 32), steps=300,
               small_steps=150, batch=16, n_test=40, n_val=16, dice_weight=1.0),
    full=dict(dim=3, shape=(40, 56, 40), channels=(16, 32, 32, 32), small=(16, 32, 32, 32), steps=1200,
              small_steps=600, batch=8, n_test=40, n_val=16, dice_weight=1.0))
cfg

# %% [markdown]
# ## 1. Data: the same inter-subject hippocampus pairs as in 3.1b
# Same preprocessing, subject split and test pairs as the previous notebook (2D slices through
# the hippocampus in the quick profile, 3D volumes in the full one; the previous notebook
# explains why). The labels of the *training* subjects are now used in the loss.

# %%
rt.seed_everything(0)
d = reg.hippocampus_experiment(dim=cfg["dim"], shape=cfg["shape"], n_test=cfg["n_test"], n_val=cfg["n_val"])
images, labels, ids, index = d["images"], d["labels"], d["ids"], d["index"]
test_pairs, val_pairs = d["test_pairs"], d["val_pairs"]
show = (lambda a: a) if cfg["dim"] == 2 else (lambda a: a[a.shape[0] // 2])  # noqa: E731
x_all = torch.from_numpy(images)[:, None]
y_all = torch.from_numpy(labels.astype(np.int64))[:, None]
print({s: len(v) for s, v in index.items()}, f"images {images.shape}")

# %%
m, f = test_pairs[0]
fig = viz.show_grid([show(images[m]), show(images[f])], titles=["moving (outlines: labels 1 + 2, label 2)", "fixed"],
                    window=(0, 1), colorbar=True)
for ax, k in zip(fig.axes[:2], (m, f)):
    ax.contour(show(labels[k]), levels=[0.5, 1.5], colors=["C1", "C2"], linewidths=0.8)
plt.show()

# %% [markdown]
# ## 2. The affine baseline on the same pairs
# The learned methods must at least beat an affine registration (the classical deformable
# baseline and its timing are in notebook 3.1b).

# %%
aff = [reg.affine_register(images[f], images[m], kind="affine") for m, f in test_pairs]
rows = {"identity": reg.evaluate_fields([np.zeros((cfg["dim"], *cfg["shape"]))] * len(test_pairs), labels, test_pairs),
        "affine (SimpleITK)": reg.evaluate_fields([r.displacement for r in aff], labels, test_pairs)}
pd.DataFrame(rows).T.round(3)

# %% [markdown]
# ## 3. Weak supervision: Dice of warped labels in the loss (RG5)
# Two diffeomorphic VoxelMorph networks with the same architecture, data, seed and budget: one
# trained with NCC + smoothness, the other with the Dice loss of the warped one-hot labels added
# (weight 1). The one-hot labels are warped with the same field as the image (linear
# interpolation keeps the loss differentiable).

# %%
def val_dice(model) -> dict[str, float]:
    fields, _ = reg.predict_fields(model, images, val_pairs, device=next(model.parameters()).device)
    model.train()
    return {"val_dice": reg.evaluate_fields(fields, labels, val_pairs)["Dice mean"]}


def batch(**weights):
    def batch_fn(model, step, device):
        p = reg.make_pairs(index["train"], cfg["batch"], seed=int(step))
        m, f = p[:, 0], p[:, 1]
        return reg.registration_loss(model, x_all[m].to(device), x_all[f].to(device),
                                     y_all[m].to(device), y_all[f].to(device), **weights)
    return batch_fn


nets, hists = {}, {}
for name, w in [("VoxelMorph (images only)", dict(smooth=1.0)),
                ("VoxelMorph + label Dice (RG5)", dict(smooth=1.0, dice=cfg["dice_weight"]))]:
    rt.seed_everything(0)
    nets[name] = reg.RegNet(cfg["dim"], cfg["channels"], field_factor=2, diffeomorphic=True)
    hists[name] = train.fit(nets[name], range(cfg["steps"]), None, batch_fn=batch(**w), steps=cfg["steps"], lr=2e-3,
                            val_fn=val_dice, monitor="val_dice", mode="max", desc=name)

# %% [markdown]
# ## 4. Inverse consistency and anti-folding (RG10)
# ICNet {cite}`ref72` runs the network on (A, B) and on (B, A) and penalises
# `|u_AB(x) + u_BA(x + u_AB(x))|^2` (zero when the two maps are inverses), together with
# `relu(-det J)` (negative Jacobians, i.e. folds). To see what the two terms do on their own,
# both networks here are plain (full-resolution displacement, no integration) with a weak
# smoothness weight of 0.1: one without, one with the ICNet terms.

# %%
for name, w in [("plain, weak smoothness", dict(smooth=0.1)),
                ("plain + inverse consistency + anti-folding (RG10)", dict(smooth=0.1, inverse=1.0, fold=10.0))]:
    rt.seed_everything(0)
    nets[name] = reg.RegNet(cfg["dim"], cfg["small"])
    hists[name] = train.fit(nets[name], range(cfg["small_steps"]), None, batch_fn=batch(**w),
                            steps=cfg["small_steps"], lr=2e-3, val_fn=val_dice, monitor="val_dice", mode="max",
                            desc=name[:30])

# %%
fig, axes = plt.subplots(1, 4, figsize=(18, 3.6))
for ax, (name, h) in zip(axes, hists.items()):
    viz.plot_history(h, ax=ax, logy=False)
    ax.set_title(name, fontsize=9)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 5. Evaluation on the held-out pairs
# Dice and HD95 of the warped labels, folding, the inverse-consistency error (pixels: how far
# `x -> x + u_AB -> back with u_BA` lands from `x`, mean over the image), and the image match
# (mean absolute difference of warped moving and fixed). Labels are never given at test time.

# %%
dev = rt.device()
rev_pairs = test_pairs[:, ::-1].copy()
for name, net in nets.items():
    u, sec = reg.predict_fields(net, images, test_pairs, device=dev)
    v, _ = reg.predict_fields(net, images, rev_pairs, device=dev)
    ut, vt = torch.from_numpy(u), torch.from_numpy(v)
    ic = float(reg.inverse_consistency(ut, vt).sqrt())  # root mean square, pixels
    mad = float(np.mean([np.abs(reg.warp(images[m], uu) - images[f]).mean() for uu, (m, f) in zip(u, test_pairs)]))
    rows[name] = {**reg.evaluate_fields(u, labels, test_pairs), "inverse error (px)": ic,
                  "image MAD": mad, "time per pair (s)": sec}
    if name == "VoxelMorph (images only)":
        fields_unsup = u
    if name == "VoxelMorph + label Dice (RG5)":
        fields_weak = u
rows["identity"]["image MAD"] = float(np.mean([np.abs(images[m] - images[f]).mean() for m, f in test_pairs]))
for r, name in zip([aff], ["affine (SimpleITK)"]):
    rows[name]["image MAD"] = float(np.mean([np.abs(x.warped - images[f]).mean() for x, (m, f) in zip(r, test_pairs)]))
    rows[name]["time per pair (s)"] = float(np.mean([x.seconds for x in r]))
table = pd.DataFrame(rows).T[["Dice 1", "Dice 2", "Dice mean", "HD95 (px)", "folding (%)", "inverse error (px)",
                              "image MAD", "time per pair (s)"]]
table.round(4)

# %% [markdown]
# The comparison figure: one test pair warped by the two VoxelMorph variants, with the warped
# labels (outlines) on the fixed image, and the Jacobian maps of the plain network with and
# without the ICNet terms.

# %%
k = 1
m, f = test_pairs[k]
fig, axes = plt.subplots(1, 4, figsize=(16, 4.6))
panels = [("fixed + its labels", images[f], labels[f]),
          ("moving + its labels", images[m], labels[m]),
          ("images only: warped", reg.warp(images[m], fields_unsup[k]), reg.warp(labels[m], fields_unsup[k], order=0)),
          ("+ label Dice: warped", reg.warp(images[m], fields_weak[k]), reg.warp(labels[m], fields_weak[k], order=0))]
for ax, (title, img, lab) in zip(axes, panels):
    im = ax.imshow(show(img), cmap="gray", vmin=0, vmax=1)
    ax.contour(show(lab), levels=[0.5, 1.5], colors=["C1", "C2"], linewidths=1.0)
    ax.contour(show(labels[f]), levels=[0.5], colors=["w"], linewidths=0.6, linestyles="--")
    ax.set(title=title, xlabel="column (pixel)", ylabel="row (pixel)")
fig.colorbar(im, ax=axes, fraction=0.02, label="normalised intensity")
fig.suptitle("orange / green: outlines of labels 1 + 2 / label 2 (warped in the right panels); "
             "white dashed: fixed hippocampus")
plt.show()

# %%
def in_plane(u: np.ndarray) -> np.ndarray:
    return u if cfg["dim"] == 2 else u[1:, u.shape[1] // 2]


fig, axes = plt.subplots(1, 4, figsize=(16, 4.5))
for i, name in enumerate(["plain, weak smoothness", "plain + inverse consistency + anti-folding (RG10)"]):
    u, _ = reg.predict_fields(nets[name], images, test_pairs[k:k + 1], device=dev)
    axes[2 * i].imshow(show(images[f]), cmap="gray", vmin=0, vmax=1)
    deformation_grid(axes[2 * i], in_plane(u[0]), step=2, title=name.replace(" + inverse", "\n+ inverse"))
    im = jacobian_map(axes[2 * i + 1], in_plane(u[0]))
    fig.colorbar(im, ax=axes[2 * i + 1], label="det J")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 6. Reproduction check
# **C-RG-c** (label supervision raises Dice): the held-out mean Dice of the weakly supervised
# network above the images-only one by at least 0.01. The anti-folding half of C-RG-b is checked
# in notebook 3.1b for the smoothness term; here the folding and inverse error with and without
# the ICNet terms are recorded as numbers.

# %%
unsup, weak = table.loc["VoxelMorph (images only)"], table.loc["VoxelMorph + label Dice (RG5)"]
gain = weak["Dice mean"] - unsup["Dice mean"]
report.claim("C-RG-c", bool(gain >= 0.01),
             f"{rt.profile()} profile, {cfg['dim']}D hippocampus, {len(test_pairs)} held-out pairs: Dice "
             f"{weak['Dice mean']:.3f} with the label Dice loss vs {unsup['Dice mean']:.3f} without "
             f"(gain {gain:+.3f}, needs >= +0.01); image MAD {weak['image MAD']:.4f} vs {unsup['image MAD']:.4f}")
p0, p1 = table.loc["plain, weak smoothness"], table.loc["plain + inverse consistency + anti-folding (RG10)"]
print(f"ICNet terms: folding {p0['folding (%)']:.3f}% -> {p1['folding (%)']:.3f}%, "
      f"inverse error {p0['inverse error (px)']:.3f} -> {p1['inverse error (px)']:.3f} px, "
      f"Dice {p0['Dice mean']:.3f} -> {p1['Dice mean']:.3f}")
report.record({"table": table.to_dict(orient="index"), "label dice gain": gain,
               "icnet folding reduction": bool(p1["folding (%)"] < p0["folding (%)"]),
               "icnet inverse error reduction": bool(p1["inverse error (px)"] < p0["inverse error (px)"])})
assert weak["Dice mean"] > table.loc["affine (SimpleITK)", "Dice mean"], "weak supervision should beat affine"

# %% [markdown]
# **Reading the table.** Labels in the loss move the warped structures onto the fixed ones
# better than the intensity match alone; the image difference barely changes, because Dice and
# NCC reward different things inside the hippocampus, whose intensity is nearly uniform. The
# ICNet terms trade a little image match for fields that fold less and that invert each other.
#
# ## Exercises
# 1. Train with the label Dice only (`smooth=1, dice=1` and the NCC term removed by editing
#    `reg.registration_loss`). What does the warped *image* look like?
# 2. Use the labels of only 10 training subjects (weak supervision with few labels). How much of
#    the Dice gain remains?
# 3. Raise the `fold` weight to 100. What happens to Dice and folding?
# 4. Check the inverse error of the diffeomorphic VoxelMorph: is it inverse-consistent by design?
#
# ## Summary
# Labels at training time, never at test time, buy Dice on held-out pairs; inverse-consistency
# and a negative-Jacobian penalty buy fields that are closer to invertible. Together with
# notebooks 3.1a and 3.1b they fill in the survey's Table 1: classical, supervised, weakly
# supervised and unsupervised registration, each measured on the same kind of pairs.
