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
# # 3.2d Brain structures from one labelled atlas: U-Net against atlas-based segmentation
#
# *Survey §3.2 and Table 2* {cite}`wang2020survey`, {cite}`ronneberger2015unet`, {cite}`ref80`, {cite}`ref84`;
# data {cite}`holmes1998colin27`, {cite}`tzourio2002aal`, {cite}`fonov2009mni`
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/corelib-book/medimg-dl-companion/blob/main/notebooks/ch3_2_segmentation/04_brain_structures_one_atlas.ipynb)
#
# The hippocampus notebooks had 260 labelled cases. Here the task has a different structure: six
# deep grey-matter structures (caudate, putamen, pallidum, thalamus, hippocampus, amygdala), and
# only **one** labelled brain. That is what ships offline: Colin27 with the AAL parcellation. The
# realistic question is then "one labelled atlas, segment a different brain", which is exactly the
# setting of classical atlas-based segmentation: register the atlas to the new image and carry its
# labels along. A CNN trained on that single atlas (made into many by random deformations and
# intensity changes) has to beat this baseline to be worth it. The different brain is the MNI152
# template: an average of 152 brains, blurrier and with another contrast, in the same MNI space.
# Two structures (pallidum, amygdala) are small, so this is also a class-imbalance case with very
# little training data, the setting Focal FCN {cite}`ref80` was designed for.
#
# **What you will learn**
# - to carry labels between images through world (MNI) coordinates, and why such labels are a
#   silver standard, not ground truth;
# - to make a training set from one labelled image with random affine + elastic deformations and
#   MR-like intensity changes (MONAI transforms);
# - atlas-based segmentation with affine (and, in `full`, demons) registration as the classical baseline;
# - to compare it honestly with U-Nets trained with cross-entropy and with Dice + cross-entropy.

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

import matplotlib
import matplotlib.pyplot as plt
import nibabel as nib
import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, TensorDataset

import corelib.data as data
from corelib import metrics, report, runtime as rt, viz
from corelib import segmentation as seg
from corelib.train import fit

report.set_notebook("ch3_2_segmentation/04_brain_structures_one_atlas")
card = rt.run_card(seed=0, datasets=["colin27", "mni152"])

# %% [markdown]
# ## Sizes for this machine
# `quick`: 32 deformed copies of the atlas for training, 4 for validation, 8 deformed test brains,
# a narrow 2D U-Net for 1500 steps per loss, affine registration only. `full` (one GPU): 96 training
# copies, 12 test brains, a wider U-Net, 4000 steps, and affine + demons registration as a third baseline.

# %%
cfg = rt.pick(
    quick=dict(n_train=32, n_val=4, n_test=8, steps=1500, batch=16, lr=5e-3, width=(8, 16, 32, 64), demons=False),
    full=dict(n_train=96, n_val=8, n_test=12, steps=4000, batch=64, lr=2e-3, width=(32, 64, 128, 256),
              demons=True),
)
STRUCTURES = seg.DEEP_GREY            # {name: [AAL left, AAL right]}
NAMES = list(STRUCTURES)
LABELS = list(range(1, len(NAMES) + 1))
AXIS = 2                              # 2D networks see axial slices
cfg

# %% [markdown]
# ## 1. Data: one labelled atlas, one different brain
# Colin27 (`ch2bet`, 1 mm, brain only) with AAL, and the MNI152 2009a T1 template at 2 mm. Both
# files carry an affine from voxel indices to MNI millimetres; we check that both are RAS (x to the
# right, y anterior, z superior) before trusting them.

# %%
colin27 = data.load_colin27("ch2bet")
aal = data.load_colin27("aal")
mni = data.load_mni152("t1", resolution=2)
for name, v in [("Colin27 ch2bet", colin27), ("AAL", aal), ("MNI152 T1 2 mm", mni)]:
    print(f"{name:15s} shape {v.shape}, spacing {v.spacing}, axes {''.join(nib.aff2axcodes(v.affine))}, "
          f"origin {v.affine[:3, 3]} mm, intensities {v.array.min():.2f}..{v.array.max():.2f}")
aal_names = data.aal_labels()
print({name: [aal_names[v] for v in values] for name, values in STRUCTURES.items()})

# %% [markdown]
# Both are RAS in MNI millimetres, so one grid can hold them all: we resample Colin27 (linear, with
# Gaussian anti-aliasing) and AAL (nearest neighbour, labels stay labels) onto the 2 mm MNI152 grid
# through the two affines, merge left and right into classes 1..6, and cut one box around the six
# structures (8 voxels margin, sides multiples of 8 so that 2D slices need no padding).
#
# **The labels on MNI152 are a silver standard.** AAL was drawn on Colin27; on MNI152 it is only
# carried by coordinates (which is how SPM users apply AAL to any normalised brain). Where the two
# anatomies differ, the "truth" is wrong, so no method can reach Dice 1 on MNI152, and small
# disagreements are not all errors.

# %%
grid = (mni.affine, mni.shape)
colin = seg.resample_to_grid(colin27.array, colin27.affine, *grid, order=1)
labels = seg.merge_labels(seg.resample_to_grid(aal.array, aal.affine, *grid, order=0), STRUCTURES,
                          known=aal_names)
box = seg.structure_box(labels > 0, margin=8, multiple=8)
MARGIN = 12                           # extra context deformed with the box and cut away afterwards
context = tuple(slice(s.start - MARGIN, s.stop + MARGIN) for s in box)
inner = tuple(slice(MARGIN, MARGIN + s.stop - s.start) for s in box)
SHAPE = tuple(s.stop - s.start for s in box)
counts = np.bincount(labels[box].ravel(), minlength=len(NAMES) + 1)
print(f"box {SHAPE} voxels of 2 mm; voxels per class:", dict(zip(["background", *NAMES], counts.tolist())))
print("class shares in the box (%):", np.round(100 * counts / counts.sum(), 2).tolist())

# %% [markdown]
# A small helper draws a slice the way a viewer shows it (anterior up, array transposed), with one
# legend per figure instead of one per panel; each structure keeps its colour (`viz.label_color`)
# in every figure.

# %%
COLOURS = matplotlib.colors.ListedColormap([viz.label_color(c) for c in LABELS])


def overlay(ax, img, lab, title, window=None, legend=False):
    """A 2D slice (array axes: horizontal, vertical) with the six structures in fixed colours."""
    lo, hi = window if window is not None else np.percentile(img, [1, 99.5])
    ax.imshow(img.T, cmap="gray", vmin=lo, vmax=hi, origin="lower")
    ax.imshow(np.ma.masked_equal(lab.T, 0), cmap=COLOURS, vmin=0.5, vmax=len(NAMES) + 0.5, alpha=0.45,
              origin="lower", interpolation="nearest")
    ax.set_title(title, fontsize="medium")
    ax.set_axis_off()
    if legend:
        ax.legend(handles=[matplotlib.patches.Patch(color=COLOURS(i), label=n) for i, n in enumerate(NAMES)],
                  loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize="small")


centre = tuple(int(np.mean(np.nonzero(labels)[a])) for a in range(3))
fig, axes = plt.subplots(1, 4, figsize=(13, 3.2), layout="constrained")
for j, (img, name) in enumerate([(colin, "Colin27 + AAL (atlas)"), (mni.array, "MNI152 + AAL carried (silver)")]):
    overlay(axes[2 * j], img[:, :, centre[2]], labels[:, :, centre[2]], f"{name}\naxial z = {centre[2]}")
    overlay(axes[2 * j + 1], img[:, centre[1], :], labels[:, centre[1], :], f"{name}\ncoronal y = {centre[1]}",
            legend=j == 1)
plt.show()

# %% [markdown]
# ## 2. Intensities: make the two brains comparable
# Colin27 is stored in raw scanner units, MNI152 rescaled to [0, 1]. `seg.pad_volumes` z-scores each
# volume (box) on its own; after that the histograms overlap, though the shapes differ: MNI152, an
# average, has less contrast between grey and white matter.

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.2), layout="constrained")
for img, name in [(colin[box], "Colin27"), (mni.array[box], "MNI152")]:
    brain = img[img > 0]
    axes[0].hist(brain / brain.max(), bins=80, histtype="step", density=True, label=f"{name} / its max")
    z = seg.pad_volumes([img], None, SHAPE).images[0]
    axes[1].hist(z[img > 0], bins=80, histtype="step", density=True, label=name)
axes[0].set(xlabel="intensity / maximum", ylabel="density", title="stored intensities (brain voxels in the box)")
axes[1].set(xlabel="z-score (per volume)", ylabel="density", title="after per-volume z-score")
for ax in axes:
    ax.legend()
plt.show()

# %% [markdown]
# ## 3. Training, validation and test brains
# One image cannot train a network by itself, so we make many from it: a random affine (rotation up
# to 8 degrees, scaling up to 8 %, translation up to 3 voxels, per axis) plus a smooth elastic field
# (MONAI `Rand3DElasticd`, image linear and labels nearest), then a random bias field, gamma, blur and
# noise (MONAI intensity transforms). Each volume is deformed with a 12-voxel margin of context that
# is cut away afterwards, so no border effects reach the box. The split is by seed:
# - **training**: Colin27 deformations, seeds 0, 1, ...;
# - **validation** (model selection, the best step is kept): Colin27 deformations with other seeds
#   (500, 501, ...), never MNI152;
# - **test**: MNI152 deformed with the same kind of random deformation (seeds 1000, ...), without
#   intensity augmentation: a different brain, in other poses and shapes. The undeformed MNI152 is
#   reported on its own (section 6).

# %%
def deformed(image, seed, augment=True):
    img, lab = seg.deform(image[context], labels[context], seed=seed)
    img, lab = img[inner], lab[inner]
    if augment:
        img = seg.augment_intensity(img, seed=seed, mask=img > 0.02 * img.max())
    return img, lab


t0 = time.perf_counter()
train = [deformed(colin, s) for s in range(cfg["n_train"])]
val = [deformed(colin, 500 + s) for s in range(cfg["n_val"])]
test = [deformed(mni.array, 1000 + s, augment=False) for s in range(cfg["n_test"])]
test_ids = [f"MNI152 deformed {s}" for s in range(cfg["n_test"])]
print(f"{len(train)} training, {len(val)} validation, {len(test)} test volumes of {SHAPE} "
      f"in {time.perf_counter() - t0:.1f} s")
_, _, u = seg.deform(colin[context], None, seed=0, return_displacement=True)
mm = 2.0 * np.linalg.norm(u[(slice(None), *inner)], axis=0)     # voxels of 2 mm -> mm
print(f"displacement of training deformation 0 inside the box: mean {mm.mean():.1f} mm, max {mm.max():.1f} mm")

# %%
k = SHAPE[2] // 2 + 2
show = [("atlas (Colin27)", colin[box], labels[box]), *[(f"training {i}", *train[i]) for i in range(3)],
        ("MNI152", mni.array[box], labels[box]), ("test 0 (MNI152 deformed)", *test[0])]
fig, axes = plt.subplots(1, len(show), figsize=(2.5 * len(show) + 1.2, 3.0), layout="constrained")
for ax, (title, img, lab) in zip(axes, show):
    overlay(ax, img[:, :, k], lab[:, :, k], title, legend=ax is axes[-1])
plt.show()

# %% [markdown]
# ## 4. Classical baseline: atlas-based segmentation
# For each test brain: register the Colin27 box (moving) to it (fixed) with SimpleITK, then warp
# the atlas labels with the same displacement, nearest neighbour (`seg.atlas_segment`). We also
# keep "atlas, no registration": AAL at the same coordinates, which is what the deformations undo.
# Normalised cross-correlation is the similarity measure (it ignores the different intensity scales).

# %%
kinds = {"atlas, no registration": "none", "atlas + affine (SimpleITK)": "affine"}
if cfg["demons"]:
    kinds["atlas + affine + demons"] = "affine+demons"
atlas_img, atlas_lab = colin[box], labels[box]
undeformed = mni.array[box]
preds, seconds = {}, {}
for name, kind in kinds.items():
    runs = [seg.atlas_segment(atlas_img, atlas_lab, img, kind=kind) for img in [undeformed] + [i for i, _ in test]]
    preds[name] = [r.labels for r in runs]
    seconds[name] = float(np.mean([r.seconds for r in runs]))
    print(f"{name}: {seconds[name]:.2f} s per brain")

# %% [markdown]
# ## 5. U-Nets trained on the deformed atlas
# The same 2D U-Net (MONAI `UNet`, {cite}`ronneberger2015unet`) on axial slices, trained twice with
# everything fixed but the loss: plain cross-entropy, and Dice + cross-entropy (MONAI `DiceCELoss`,
# the soft Dice of {cite}`ref84` over the six structures plus cross-entropy). Slices without any
# structure are mostly left out (80 %). Validation: mean Dice on the validation deformations.

# %%
train_v = seg.pad_volumes([i for i, _ in train], [lab for _, lab in train], SHAPE)
val_v = seg.pad_volumes([i for i, _ in val], [lab for _, lab in val], SHAPE)
test_v = seg.pad_volumes([undeformed] + [i for i, _ in test], [labels[box]] + [lab for _, lab in test], SHAPE)
x_sl, y_sl = seg.slice_stack(train_v, axes=(AXIS,), drop_empty=0.8, seed=0)
share = np.bincount(y_sl.numpy().ravel(), minlength=len(NAMES) + 1) / y_sl.numel()
print(f"{len(x_sl)} training slices of {tuple(x_sl.shape[2:])}; voxel share (%) "
      + ", ".join(f"{n} {100 * s:.2f}" for n, s in zip(["background", *NAMES], share)))


def val_dice(model):
    out = seg.segment(lambda v: seg.predict_2d(model, v, AXIS), val_v)
    return {"dice": float(np.mean([np.nanmean(list(metrics.dice_per_class(p, val_v.labels[i], LABELS).values()))
                                   for i, p in enumerate(out)]))}


# %%
losses = {"U-Net 2D, cross-entropy": "ce", "U-Net 2D, Dice + CE": "dicece"}
models, histories = {}, {}
for name, key in losses.items():
    rt.seed_everything(0)
    model = seg.unet(n_classes=len(NAMES) + 1, channels=cfg["width"])
    loader = DataLoader(TensorDataset(x_sl, y_sl), batch_size=cfg["batch"], shuffle=True, drop_last=True,
                        generator=torch.Generator().manual_seed(0))
    histories[name] = fit(model, loader, seg.make_loss(key), steps=cfg["steps"], lr=cfg["lr"], val_fn=val_dice,
                          val_every=cfg["steps"] // 6, monitor="dice", mode="max", desc=name)
    models[name] = model
    t0 = time.perf_counter()
    preds[name] = seg.segment(lambda v: seg.predict_2d(model, v, AXIS), test_v)
    seconds[name] = (time.perf_counter() - t0) / len(test_v.images)

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.2), layout="constrained")
for ax, (name, h) in zip(axes, histories.items()):
    viz.plot_history(h, ax=ax)
    ax.set_title(name)
plt.show()

# %% [markdown]
# A 2D network decides slice by slice, so it can leave small islands of a structure far from where
# the structure is. A standard clean-up (nnU-Net applies it when it helps on validation data) keeps
# only the largest connected pieces of each class: two here, since left and right were merged
# (`seg.keep_largest_components`). It is a separate row, so the effect of the network and of the
# clean-up can be told apart.

# %%
trained_as = {net: net for net in losses}          # table row -> the network behind it
for net in losses:
    name = f"{net}, 2 largest pieces"
    trained_as[name] = net
    t0 = time.perf_counter()
    preds[name] = [seg.keep_largest_components(p, n=2) for p in preds[net]]
    seconds[name] = seconds[net] + (time.perf_counter() - t0) / len(preds[name])
    removed = np.mean([(p != q).sum() for p, q in zip(preds[net], preds[name])])
    print(f"{net}: the clean-up removed {removed:.0f} voxels per brain")

# %% [markdown]
# ## 6. One table, the same test brains
# Dice per structure and its mean, HD95 and ASD (mm, averaged over the six structures), parameters,
# training time and time per brain (registration or inference). First the deformed MNI152 test
# brains: this is the comparison.

# %%
truth = [labels[box]] + [lab for _, lab in test]
per_case, rows = {}, {}
for name, p in preds.items():
    per_case[name] = seg.evaluate(p, truth, labels=LABELS, spacing=2.0, ids=["MNI152 undeformed", *test_ids])
    net = trained_as.get(name)
    rows[name] = seg.summary_row(per_case[name].iloc[1:], labels=LABELS, names=NAMES,
                                 params=seg.count_parameters(models[net]) if net else 0,
                                 train_s=round(histories[net].seconds, 1) if net else 0.0,
                                 s_per_brain=round(seconds[name], 2))
table = pd.DataFrame(rows).T
table.round(3)

# %% [markdown]
# **Reading the table honestly.** The cell below prints which approach won this run. In our
# `quick` runs on the 2-core CPU, atlas + affine registration won clearly in Dice and in HD95: the
# CNN *loses* to the classical baseline. Three reasons, each visible in this notebook:
# 1. **Domain gap.** The network has seen one brain in 32 poses and contrasts, and its validation
#    brains are also Colin27, so nothing told it about MNI152's blurrier, lower-contrast appearance.
#    The cell below prints the validation Dice next to the test Dice: the drop is the gap.
# 2. **Budget.** 1500 small CPU steps; `full` trains on 96 deformations for 4000 steps with a wider
#    network (and adds affine + demons as a baseline). It has not been run yet.
# 3. **2D decisions.** A 2D network sees one slice at a time and leaves islands far from the
#    structures; its HD95 is several times the atlas's while its Dice is only somewhat lower.
#    Keeping the two largest pieces per structure removes most of them (compare the HD95 of the
#    "2 largest pieces" rows), but not the structures it missed. Registration uses the whole 3D
#    image at once and cannot produce islands.

# %%
learned = table.loc[list(trained_as), "Dice mean"]
atlas_best = table.loc[[n for n, kind in kinds.items() if kind != "none"], "Dice mean"]
print(f"best U-Net: {learned.idxmax()} (mean Dice {learned.max():.3f}); best atlas method: "
      f"{atlas_best.idxmax()} ({atlas_best.max():.3f}); "
      + ("the U-Net wins" if learned.max() > atlas_best.max() else "the atlas wins")
      + f" by {abs(learned.max() - atlas_best.max()):.3f}")
print("validation Dice (best step) -> test Dice: "
      + "; ".join(f"{n}: {histories[n].best['dice']:.3f} -> {table.loc[n, 'Dice mean']:.3f}" for n in losses))

# %% [markdown]
# The undeformed MNI152 on its own. "No registration" is perfect here by construction (the silver
# standard *is* AAL at these coordinates); the other rows show how far Colin27 and MNI152 anatomy
# and contrast differ once a method has to work from the image.

# %%
dice_cols = [f"dice_{c}" for c in LABELS]
pd.DataFrame({name: per_case[name].iloc[0][dice_cols].astype(float).set_axis(NAMES) for name in preds}).T.assign(
    mean=lambda d: d.mean(axis=1)).round(3)

# %% [markdown]
# ## 7. Where the methods differ
# Per-structure Dice on the deformed test brains, then the best and the worst test brain for the
# Dice + CE U-Net, on the axial slice with the most labelled voxels.

# %%
fig, ax = plt.subplots(figsize=(10, 3.4), layout="constrained")
width = 0.8 / len(preds)
for j, name in enumerate(preds):
    d = per_case[name].iloc[1:][dice_cols]
    ax.bar(np.arange(len(NAMES)) + j * width, d.mean(), width, yerr=d.std(), capsize=2, label=name)
ax.set_xticks(np.arange(len(NAMES)) + width * (len(preds) - 1) / 2, NAMES)
ax.set(ylabel="Dice (mean +- sd over test brains)", ylim=(0, 1), title="Dice per structure, deformed MNI152")
ax.legend(fontsize="small", ncols=2)
ax.grid(axis="y", alpha=0.3)
plt.show()

# %%
best_net = "U-Net 2D, Dice + CE"
case_dice = per_case[best_net].iloc[1:][dice_cols].mean(axis=1)
picks = {"best": int(case_dice.idxmax()), "worst": int(case_dice.idxmin())}
cols = ["truth (silver)", "atlas + affine (SimpleITK)", best_net, f"{best_net}, 2 largest pieces"]
fig, axes = plt.subplots(2, len(cols), figsize=(3.0 * len(cols), 6.2), layout="constrained")
for r, (which, i) in enumerate(picks.items()):
    img, lab = test_v.images[i], truth[i]
    kk = int(np.argmax((lab > 0).sum(axis=(0, 1))))
    for c, name in enumerate(cols):
        p = lab if c == 0 else preds[name][i]
        d = per_case[name].iloc[i][dice_cols].mean() if c else None
        title = f"{which}: {test_ids[i - 1]}" if c == 0 else f"{name}\nDice {d:.2f}"
        overlay(axes[r, c], img[:, :, kk], p[:, :, kk], title, window=(-2.5, 2.5), legend=c == len(cols) - 1)
plt.show()

# %% [markdown]
# ## 8. Reproduction check
# **C-SG-b** (Dice / Combo losses handle foreground-background imbalance better than plain
# cross-entropy), a second test on a task with six classes, two of them small, and with the same
# pre-registered rule as notebook 3.2b: reproduced when the Dice + CE U-Net beats the cross-entropy
# U-Net in mean test Dice by at least 0.01; not reproduced when cross-entropy is at least as good;
# inconclusive otherwise. There is no Combo loss here, so only Dice + CE against CE.
#
# **This verdict is fragile here.** On our 2-core CPU, with everything else fixed, Dice + CE won by
# 0.046 after 600 steps and by 0.037 after 1500 (this notebook's `quick`), but lost by 0.013 after
# 2000 steps. One training run per loss and eight test brains cannot separate the two losses
# reliably on this task; the small structures (pallidum most of all) favoured Dice + CE in all
# three runs. The asserts check
# only what holds with a wide margin in our runs: registration beats no registration, and both
# U-Nets are far above a trivial segmentation.

# %%
ce, dc = (table.loc[n, "Dice mean"] for n in losses)
margin = 0.01
passed = True if dc - ce >= margin else (False if ce >= dc else None)
small = " ".join(f"{s} CE {table.loc['U-Net 2D, cross-entropy', f'Dice {s}']:.3f} vs Dice+CE "
                 f"{table.loc['U-Net 2D, Dice + CE', f'Dice {s}']:.3f};" for s in ("pallidum", "amygdala"))
evidence = (f"brain structures from one atlas (Colin27 AAL, 6 classes, foreground {share[1:].sum():.1%} of training "
            f"voxels), U-Net 2D, {cfg['steps']} steps, {len(test)} deformed MNI152 test brains: mean Dice CE {ce:.3f}, "
            f"Dice+CE {dc:.3f} ({dc - ce:+.3f}); small structures: {small} atlas+affine "
            f"{table.loc['atlas + affine (SimpleITK)', 'Dice mean']:.3f} (margin 0.01 Dice; no Combo here; fragile: "
            "in our runs the verdict flipped with the number of training steps, see the notebook)")
print(evidence)
report.claim("C-SG-b", passed, evidence)
report.record("ch3_2_segmentation/04_brain_structures_one_atlas", {"table": table.round(4).to_dict(orient="index")})
assert table.loc["atlas + affine (SimpleITK)", "Dice mean"] > table.loc["atlas, no registration", "Dice mean"] + 0.1
assert (table.loc[list(losses), "Dice mean"] > 0.3).all(), table["Dice mean"]

# %% [markdown]
# ## Exercises
# 1. Train the U-Net on the *undeformed* atlas only (`n_train=1` and `strength=0` in `seg.deform`).
#    How does it do on the deformed MNI152 brains, and why?
# 2. Leave out the intensity augmentation (`augment=False` for the training brains). Which
#    structures suffer most on MNI152, and what does that say about the domain gap?
# 3. Run the affine + demons baseline (`kind="affine+demons"`) on two test brains. How much Dice does
#    the deformable step add, and what does it cost in time compared with U-Net inference?
# 4. The test labels are a silver standard. Find the structure where atlas + affine and the U-Net
#    disagree most with it on the undeformed MNI152, and look at the overlay: who is wrong?
#
# ## Summary
# With one labelled brain, deep learning and atlas-based segmentation start from the same
# information. The atlas baseline needs registration (no registration fails as soon as the brain
# moves or deforms); the U-Net learns from many deformed, re-contrasted copies of the atlas and then
# segments a different brain without registering it. The table says which wins on this data and
# budget. The small structures (pallidum, amygdala) put the loss question again, with a less clear
# answer than on the hippocampus (the reproduction check prints it), and the silver-standard labels
# set a ceiling below Dice 1 for every method.
