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

REPO = "git+https://github.com/corelib-book/medimg-dl-companion"
if "google.colab" in sys.modules:
    subprocess.run(f"pip install -q 'corelib @ {REPO}'", shell=True, check=True)

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

import corelib.registration as reg
from corelib import report, runtime as rt, train, viz
from corelib.registration.plots import deformation_figure, mid_slice

report.set_notebook("ch3_1_registration/03_weak_supervision_and_inverse_consistency")
card = rt.run_card(seed=0, datasets=["msd_hippocampus"])
cfg = rt.pick(
    quick=dict(dim=2, shape=(56, 40), channels=(16, 32, 32, 32), small=(8, 16, 16, 32),
               steps=300, small_steps=150, batch=16, n_test=40, n_val=16,
               dice_weight=1.0),
    full=dict(dim=3, shape=(40, 56, 40), channels=(16, 32, 32, 32),
              small=(16, 32, 32, 32), steps=1200, small_steps=600, batch=8, n_test=40,
              n_val=16, dice_weight=1.0),
    smoke=dict(batch=2))  # a smoke run only executes the code path
for key in ("dim", "steps", "small_steps", "dice_weight"):
    report.glue(f"cfg_{key}", cfg[key])
cfg

# %% [markdown]
# ## 1. Data: the same inter-subject hippocampus pairs as in the previous notebook
# Same preprocessing, subject split and test pairs as the previous notebook (2D slices through
# the hippocampus in the quick profile, 3D volumes in the full one; the previous notebook
# explains why). The labels of the *training* subjects are now used in the loss.

# %%
rt.seed_everything(0)
d = reg.hippocampus_experiment(dim=cfg["dim"], shape=cfg["shape"], n_test=cfg["n_test"],
                               n_val=cfg["n_val"])
images, labels, ids, index = d["images"], d["labels"], d["ids"], d["index"]
test_pairs, val_pairs = rt.cases(d["test_pairs"]), rt.cases(d["val_pairs"])
x_all = torch.from_numpy(images)[:, None]
y_all = torch.from_numpy(labels.astype(np.int64))[:, None]
report.glue("n_test_pairs", len(test_pairs))
print({s: len(v) for s, v in index.items()}, f"images {images.shape}")

# %%
m, f = test_pairs[0]
fig = viz.show_grid([mid_slice(images[m]), mid_slice(images[f])],
                    titles=["moving (outlines: labels 1 + 2, label 2)", "fixed"],
                    window=(0, 1), colorbar=True)
for ax, k in zip(fig.axes[:2], (m, f)):
    ax.contour(mid_slice(labels[k]), levels=[0.5, 1.5], colors=["C1", "C2"],
               linewidths=0.8)
plt.show()

# %% [markdown]
# ## 2. The affine baseline on the same pairs
# The learned methods are compared with an affine registration (the classical deformable
# baseline and its timing are in the previous notebook, `02_voxelmorph`).

# %%
aff = [reg.affine_register(images[f], images[m], kind="affine") for m, f in test_pairs]
zero = np.zeros((cfg["dim"], *cfg["shape"]), np.float32)
fields = {"identity": [zero] * len(test_pairs),
          "affine (SimpleITK)": [r.displacement for r in aff]}
rows = {name: reg.evaluate_fields(u, labels, test_pairs) for name, u in fields.items()}
pd.DataFrame(rows).T.round(3)

# %% [markdown]
# ## 3. Weak supervision: Dice of warped labels in the loss (RG5)
# Two diffeomorphic VoxelMorph networks with the same architecture, data, seed and budget: one
# trained with NCC + smoothness, the other with the Dice loss of the warped one-hot labels added
# (weight {glue:text}`cfg_dice_weight`). The one-hot labels are warped with the same field as
# the image (linear interpolation keeps the loss differentiable).

# %%
val_dice = reg.dice_validation(images, labels, val_pairs)


def batch(subjects=None, **weights):
    """Batches of random pairs of training subjects, with the loss weights of
    ``reg.registration_loss``."""
    subjects = index["train"] if subjects is None else subjects

    def batch_fn(model, step, device):
        p = reg.make_pairs(subjects, cfg["batch"], seed=int(step))
        m, f = p[:, 0], p[:, 1]
        return reg.registration_loss(model, x_all[m].to(device), x_all[f].to(device),
                                     y_all[m].to(device), y_all[f].to(device), **weights)
    return batch_fn


def fit(net, batch_fn, steps, desc):
    return train.fit(net, range(steps), None, batch_fn=batch_fn, steps=steps, lr=2e-3,
                     val_fn=val_dice, monitor="val_dice", mode="max", desc=desc)


def diffeo():
    rt.seed_everything(0)
    return reg.RegNet(cfg["dim"], cfg["channels"], field_factor=2, diffeomorphic=True)


UNSUP, WEAK = "VoxelMorph (images only)", "VoxelMorph + label Dice (RG5)"
nets, hists = {}, {}
for name, w in [(UNSUP, dict(smooth=1.0)),
                (WEAK, dict(smooth=1.0, dice=cfg["dice_weight"]))]:
    nets[name] = diffeo()
    hists[name] = fit(nets[name], batch(**w), cfg["steps"], name)

# %% [markdown]
# ## 4. Inverse consistency and anti-folding (RG10)
# ICNet {cite}`ref72` runs the network on (A, B) and on (B, A) and penalises
# `|u_AB(x) + u_BA(x + u_AB(x))|^2` (zero when the two maps are inverses), together with
# `relu(-det J)` (negative Jacobians, i.e. folds). To see what the two terms do on their own,
# both networks here are plain (full-resolution displacement, no integration) with a weak
# smoothness weight (`smooth=0.1`): one without, one with the ICNet terms (`inverse=1`,
# `fold=10`).

# %%
PLAIN = "plain, weak smoothness"
ICNET = "plain + inverse consistency + anti-folding (RG10)"
for name, w in [(PLAIN, dict(smooth=0.1)),
                (ICNET, dict(smooth=0.1, inverse=1.0, fold=10.0))]:
    rt.seed_everything(0)
    nets[name] = reg.RegNet(cfg["dim"], cfg["small"])
    hists[name] = fit(nets[name], batch(**w), cfg["small_steps"], name[:30])

# %%
fig = viz.plot_histories(hists, ncols=2, logy=False)
plt.show()

# %% [markdown]
# ## 5. Evaluation on the held-out pairs
# Dice and HD95 of the warped labels, folding, the inverse error (pixels: the root mean square
# distance between `x` and its round trip `x -> x + u_AB(x) -> + u_BA(...)`, over the image),
# and the image match (mean absolute difference of warped moving and fixed). Labels are never
# given at test time.

# %%
dev = rt.device()
rev_pairs = test_pairs[:, ::-1].copy()
scores, inv, mad = {}, {}, {}


def image_mad(u_list) -> np.ndarray:
    return np.array([np.abs(reg.warp(images[m], u) - images[f]).mean()
                     for u, (m, f) in zip(u_list, test_pairs)])


for name, net in nets.items():
    u, sec = reg.predict_fields(net, images, test_pairs, device=dev)
    v, _ = reg.predict_fields(net, images, rev_pairs, device=dev)
    fields[name] = list(u)
    inv[name] = reg.inverse_errors(u, v)
    mad[name] = image_mad(u)
    rows[name] = {**reg.evaluate_fields(u, labels, test_pairs),
                  "inverse error (px)": inv[name].mean(), "image MAD": mad[name].mean(),
                  "time per pair (s)": sec}
for name in ("identity", "affine (SimpleITK)"):
    rows[name]["image MAD"] = image_mad(fields[name]).mean()
rows["affine (SimpleITK)"]["time per pair (s)"] = float(np.mean([r.seconds for r in aff]))
scores = {name: reg.pair_scores(u, labels, test_pairs) for name, u in fields.items()}
table = pd.DataFrame(rows).T[["Dice 1", "Dice 2", "Dice mean", "HD95 (px)", "folding (%)",
                              "inverse error (px)", "image MAD", "time per pair (s)"]]
table.round(4)

# %% [markdown]
# The comparison figure: one test pair warped by the two VoxelMorph variants, with the warped
# labels (outlines) on the fixed image; then the deformation grids and Jacobian maps of the
# plain network with and without the ICNet terms.

# %%
k = 1
m, f = test_pairs[k % len(test_pairs)]
k = k % len(test_pairs)
fig, axes = plt.subplots(2, 2, figsize=(9, 9), layout="constrained")
panels = [("fixed + its labels", images[f], labels[f]),
          ("moving + its labels", images[m], labels[m])]
for title, name in [("images only: warped", UNSUP), ("+ label Dice: warped", WEAK)]:
    u = fields[name][k]
    panels.append((title, reg.warp(images[m], u), reg.warp(labels[m], u, order=0)))
for ax, (title, img, lab) in zip(axes.flat, panels):
    im = ax.imshow(mid_slice(img), cmap="gray", vmin=0, vmax=1)
    ax.contour(mid_slice(lab), levels=[0.5, 1.5], colors=["C1", "C2"], linewidths=1.0)
    ax.contour(mid_slice(labels[f]), levels=[0.5], colors=["w"], linewidths=0.6,
               linestyles="--")
    ax.set(title=title, xlabel="column (pixel)", ylabel="row (pixel)")
fig.colorbar(im, ax=axes, fraction=0.03, label="normalised intensity")
fig.suptitle("orange / green: outlines of labels 1 + 2 / label 2 (warped below);\n"
             "white dashed: fixed hippocampus")
plt.show()

# %%
fig = deformation_figure(images[f], {"plain": fields[PLAIN][k],
                                     "plain + ICNet": fields[ICNET][k]})
plt.show()

# %% [markdown]
# ## 6. Reproduction check
# **C-RG-c** (label supervision raises Dice): per held-out pair, the mean Dice of the weakly
# supervised network minus that of the images-only one, margin `0` (chosen before the run: the
# claim is that labels raise the Dice, by any amount the interval confirms). One training run
# per network decides. The smoothness half of C-RG-b is checked in `02_voxelmorph`; here the
# folding and inverse error with and without the ICNet terms are measured and shown.

# %%
v_c = report.compare(scores[WEAK]["Dice mean"], scores[UNSUP]["Dice mean"], margin=0.0,
                     what="with − without the label Dice loss, mean Dice", unit="Dice")
report.claim("C-RG-c", v_c,
             evidence=f"{rt.profile()} profile, {cfg['dim']}D hippocampus, "
                      f"{len(test_pairs)} held-out pairs, diffeomorphic VoxelMorph with "
                      "and without the label Dice loss (same seed and budget)")
report.glue("c_effect", v_c.effect)
report.glue("c_lo", v_c.lo)
report.glue("c_hi", v_c.hi)
report.glue("c_status", v_c.status)
report.check(table.loc[WEAK, "Dice mean"] > table.loc["affine (SimpleITK)", "Dice mean"],
             "weak supervision beats affine registration (mean Dice)")
fold_d = scores[PLAIN]["folding (%)"] - scores[ICNET]["folding (%)"]
inv_d = inv[PLAIN] - inv[ICNET]
glued = {"weak_dice": table.loc[WEAK, "Dice mean"],
         "unsup_dice": table.loc[UNSUP, "Dice mean"],
         "aff_dice": table.loc["affine (SimpleITK)", "Dice mean"],
         "weak_mad": mad[WEAK].mean(), "unsup_mad": mad[UNSUP].mean(),
         "p_fold": table.loc[PLAIN, "folding (%)"],
         "i_fold": table.loc[ICNET, "folding (%)"],
         "p_inv": inv[PLAIN].mean(), "i_inv": inv[ICNET].mean(),
         "p_dice": table.loc[PLAIN, "Dice mean"], "i_dice": table.loc[ICNET, "Dice mean"],
         "p_mad": mad[PLAIN].mean(), "i_mad": mad[ICNET].mean(),
         "n_fold_less": int(np.sum(fold_d > 0)), "n_inv_less": int(np.sum(inv_d > 0)),
         "unsup_inv": inv[UNSUP].mean(), "weak_inv": inv[WEAK].mean()}
for key, value in glued.items():
    report.glue(key, value)
report.headline("VoxelMorph + label Dice, mean Dice", glued["weak_dice"])
report.headline("label Dice gain over images only", v_c.effect, unit="Dice")
report.record({"table": table.to_dict(orient="index"), "label dice gain": v_c.effect})
print(f"ICNet terms: folding {glued['p_fold']:.3f}% -> {glued['i_fold']:.3f}% (less on "
      f"{glued['n_fold_less']} of {len(test_pairs)} pairs), inverse error "
      f"{glued['p_inv']:.3f} -> {glued['i_inv']:.3f} px (less on {glued['n_inv_less']})")

# %% [markdown]
# **C-RG-c: {glue:text}`c_status`.** With the label Dice loss the mean Dice changes by
# {glue:text}`c_effect:+.3f` [{glue:text}`c_lo:+.3f`, {glue:text}`c_hi:+.3f`]
# ({glue:text}`weak_dice:.3f` against {glue:text}`unsup_dice:.3f`; affine
# {glue:text}`aff_dice:.3f`). The image difference goes from {glue:text}`unsup_mad:.4f` to
# {glue:text}`weak_mad:.4f`. Dice and NCC reward different things inside the hippocampus,
# whose intensity is nearly uniform, so a better overlap of the labels need not show in the
# image match.
#
# **The ICNet terms.** Folding goes from {glue:text}`p_fold:.3f` % to {glue:text}`i_fold:.3f` %
# (less on {glue:text}`n_fold_less` of {glue:text}`n_test_pairs` pairs), the inverse error from
# {glue:text}`p_inv:.3f` to {glue:text}`i_inv:.3f` pixels (less on {glue:text}`n_inv_less`
# pairs), the Dice from {glue:text}`p_dice:.3f` to {glue:text}`i_dice:.3f` and the image
# difference from {glue:text}`p_mad:.4f` to {glue:text}`i_mad:.4f`. Is that a trade of image
# match for fields that fold less and invert each other, in this run?
#
# ## Exercises
# 1. Train with the label Dice only (smoothness and the Dice of warped labels, no NCC term).
#    What does the warped *image* look like?
# 2. Use the labels of only `10` training subjects (weak supervision with few labels). How much of
#    the Dice gain remains?
# 3. Raise the `fold` weight to `100`. What happens to Dice and folding?
# 4. Check the inverse error of the diffeomorphic VoxelMorph: is it inverse-consistent by design?

# %% tags=["solution", "hide-cell"]
# Solution 1: a loss without the image term, written from corelib's parts. Nothing ties
# the intensities outside the labels: the warped image can be implausible where the labels
# are empty, while the structures overlap. Full profile only (one more training).
if rt.profile() == "full":
    def labels_only(model, step, device):
        p = reg.make_pairs(index["train"], cfg["batch"], seed=int(step))
        mv, fx = x_all[p[:, 0]].to(device), x_all[p[:, 1]].to(device)
        _, u = model(mv, fx)
        warped_oh = reg.warp_tensor(reg.one_hot(y_all[p[:, 0]].to(device), 3), u)
        dice = reg.label_dice_loss(warped_oh, reg.one_hot(y_all[p[:, 1]].to(device), 3))
        return dice + reg.gradient_smoothness(u)

    net = diffeo()
    fit(net, labels_only, cfg["steps"], "labels only")
    u, _ = reg.predict_fields(net, images, test_pairs, device=dev)
    dice = reg.evaluate_fields(u, labels, test_pairs)["Dice mean"]
    print(f"labels only: Dice {dice:.3f}, image MAD {image_mad(u).mean():.4f} "
          f"(with NCC: {glued['weak_mad']:.4f})")
    fig = viz.show_grid([mid_slice(images[f]), mid_slice(reg.warp(images[m], u[k]))],
                        titles=["fixed", "warped, labels-only loss"], window=(0, 1))
    plt.show()

# %% tags=["solution", "hide-cell"]
# Solution 2: the Dice term on pairs of the first 10 training subjects only, the image
# term on all pairs. Full profile only (one more training).
if rt.profile() == "full":
    few = index["train"][:10]
    with_labels, images_only = batch(few, smooth=1.0, dice=cfg["dice_weight"]), batch()

    def few_labels(model, step, device):
        return with_labels(model, step, device) + images_only(model, step + 10**6, device)

    net = diffeo()
    fit(net, few_labels, cfg["steps"], "10 labelled subjects")
    u, _ = reg.predict_fields(net, images, test_pairs, device=dev)
    gain = reg.evaluate_fields(u, labels, test_pairs)["Dice mean"] - glued["unsup_dice"]
    print(f"Dice gain with 10 labelled subjects {gain:+.3f}, with all {v_c.effect:+.3f}")

# %% tags=["solution", "hide-cell"]
# Solution 3: a heavy anti-folding weight. Full profile only (one more training).
if rt.profile() == "full":
    rt.seed_everything(0)
    net = reg.RegNet(cfg["dim"], cfg["small"])
    fit(net, batch(smooth=0.1, inverse=1.0, fold=100.0), cfg["small_steps"], "fold=100")
    u, _ = reg.predict_fields(net, images, test_pairs, device=dev)
    r = reg.evaluate_fields(u, labels, test_pairs)
    print(f"fold=100: Dice {r['Dice mean']:.3f}, folding {r['folding (%)']:.3f} % "
          f"(fold=10: {glued['i_dice']:.3f}, {glued['i_fold']:.3f} %)")

# %% tags=["solution", "hide-cell"]
# Solution 4: the table has it. Each direction is a separate prediction of the network:
# the integration makes each field invertible, not the two fields each other's inverse.
print(f"diffeomorphic VoxelMorph: inverse error {glued['unsup_inv']:.3f} px "
      f"(images only), {glued['weak_inv']:.3f} px (+ label Dice); "
      f"plain + ICNet {glued['i_inv']:.3f} px, plain {glued['p_inv']:.3f} px")

# %% [markdown]
# ## Summary
# Labels at training time, never at test time, are meant to buy Dice on held-out pairs (the
# verdict above says whether they did here); inverse-consistency and a negative-Jacobian
# penalty aim at fields that are closer to invertible. Together with the two previous notebooks
# they fill in the survey's Table 1: classical, supervised, weakly supervised and unsupervised
# registration, each measured on the same kind of pairs.
