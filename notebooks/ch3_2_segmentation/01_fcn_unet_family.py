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
# # 3.2a Segmentation networks: FCN, U-Net, UNet++ and R2U-Net on the hippocampus
#
# *Survey §3.2 and Table 2* {cite}`wang2020survey`, {cite}`ref78`, {cite}`ref83`, {cite}`ref85`
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/corelib-book/medimg-dl-companion/blob/main/notebooks/ch3_2_segmentation/01_fcn_unet_family.ipynb)
#
# The survey's segmentation section starts from the fully convolutional network (FCN): a
# classification CNN whose dense layers become convolutions, so that it outputs a label for every
# pixel. Plain FCN upsampling from the coarsest layer blurs boundaries; FCN-8s fuses finer layers,
# U-Net concatenates encoder features into a symmetric decoder, UNet++ nests dense skip paths and
# R2U-Net makes every block recurrent and residual. Here all five are trained the same way, on the
# same real labelled MRI, and compared in one Table-2-like table.
#
# **What you will learn**
# - to prepare a labelled 3D dataset for 2D networks: per-volume normalisation, padding, a split by subject;
# - what skip connections change, measured on boundaries (HD95, ASD) as well as overlap (Dice);
# - to evaluate slice-wise networks on whole volumes, in millimetres, on a held-out test split;
# - how parameter count and training time trade against accuracy.

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

report.set_notebook("ch3_2_segmentation/01_fcn_unet_family")
card = rt.run_card(seed=0, datasets=["msd_hippocampus"])

# %% [markdown]
# ## Sizes for this machine
# One cell sets every size. `quick` trains each network for a few hundred steps on a CPU; `full`
# (one GPU, untested in CI) uses wider networks and longer training. On the CPU, R2U-Net (each
# recurrent convolution is evaluated t + 1 = 3 times) and UNet++'s deep supervision did not fit the
# budget: at 250 steps both were clearly undertrained (mean Dice about 0.71 and 0.73 in our runs),
# so `quick` trains UNet++ without deep supervision and leaves R2U-Net to `full`.

# %%
cfg = rt.pick(
    quick=dict(steps=250, batch=16, lr=5e-3, width=(8, 16, 32, 64), r2_width=(8, 16, 32), drop_empty=0.7,
               deep_supervision=False, r2unet=False),
    full=dict(steps=3000, batch=64, lr=2e-3, width=(32, 64, 128, 256), r2_width=(32, 64, 128, 256),
              drop_empty=0.5, deep_supervision=True, r2unet=True),
)
PAD = (48, 64, 48)   # every case fits (largest is 43 x 59 x 47 voxels)
AXIS = 0             # 2D networks see slices along the first array axis (64 x 48 pixels after padding)
NAMES = {1: "anterior", 2: "posterior"}
cfg

# %% [markdown]
# ## 1. Data: MSD Task04 hippocampus
# 260 T1-weighted MRI crops around the hippocampus, 1 mm voxels, labelled anterior (1) and
# posterior (2) hippocampus {cite}`wang2020survey`. The split is by subject with a fixed seed;
# the test split is used only in the final table.

# %%
cases = data.load_hippocampus()
by_id = {c.case_id: c for c in cases}
split = data.split_by_subject(list(by_id), (0.7, 0.15, 0.15), seed=0)
print({k: len(v) for k, v in split.items()})


def padded(ids):
    return seg.pad_volumes([by_id[i].image.array for i in ids], [by_id[i].label.array for i in ids], PAD, ids)


train_v, val_v, test_v = padded(split["train"]), padded(split["val"]), padded(split["test"])
x_train, y_train = seg.slice_stack(train_v, axes=(AXIS,), drop_empty=cfg["drop_empty"], seed=0)
print(f"training slices {tuple(x_train.shape)}; foreground share {float((y_train > 0).float().mean()):.3f}")

# %%
c0 = by_id[split["test"][0]]
k = int(np.argmax((c0.label.array > 0).sum(axis=(1, 2))))
fig, axes = plt.subplots(1, 3, figsize=(10, 3.4), layout="constrained")
lo, hi = np.percentile(c0.image.array, [1, 99])
im = axes[0].imshow(c0.image.array[k].T, cmap="gray", origin="lower", vmin=lo, vmax=hi)
axes[0].set(title=f"{c0.case_id}, slice {k}", xlabel="voxel (axis 1)", ylabel="voxel (axis 2)")
fig.colorbar(im, ax=axes[0], label="T1 (stored units)")
viz.overlay_labels(c0.image.array[k].T, c0.label.array[k].T, ax=axes[1], label_names=["bg", *NAMES.values()],
                   window=(lo, hi), title="ground truth")
axes[1].invert_yaxis()
shares = [np.bincount(c.label.array.ravel(), minlength=3) / c.label.array.size for c in cases]
axes[2].boxplot(np.array(shares)[:, 1:] * 100, tick_labels=list(NAMES.values()))
axes[2].set(ylabel="% of the crop's voxels", title="class share per case")
plt.show()

# %% [markdown]
# ## 2. Classical baseline: a probabilistic atlas
# Without learning anything from image intensities, the majority label at each voxel position over
# the training cases (after centre padding) is a segmentation. It shows what the crops' alignment
# alone gives; each network must beat it clearly.

# %%
counts = np.stack([(train_v.labels == c).sum(0) for c in range(3)])
atlas = counts.argmax(0)
spacing = by_id[split["test"][0]].image.spacing
targets = [by_id[i].label.array for i in split["test"]]
atlas_preds = [test_v.original(i, atlas) for i in range(len(split["test"]))]
rows = {"atlas (majority vote)": seg.summary_row(seg.evaluate(atlas_preds, targets, spacing=spacing),
                                                 names=NAMES.values(), params=0, train_s=0.0)}
pd.DataFrame(rows).T.round(3)

# %% [markdown]
# ## 3. Four networks (five in `full`), one training recipe
# Same slices, loss (Dice + cross-entropy, MONAI `DiceCELoss`), optimiser (Adam), steps and batch
# size for all (R2U-Net in `full` only). The best weights on the validation split (mean Dice) are kept.
#
# | network | what changes | source |
# |---|---|---|
# | FCN-32s (plain) | coarsest scores upsampled once | hand-written, {cite}`ref78` |
# | FCN-8s | scores of the 3 deepest stages fused | hand-written, {cite}`ref78` |
# | U-Net | symmetric decoder, concatenated skips | MONAI `UNet` |
# | UNet++ | nested dense skips, deep supervision | MONAI `BasicUNetPlusPlus`, {cite}`ref83` |
# | R2U-Net | recurrent residual blocks (t = 2) | hand-written, {cite}`ref85` |

# %%
w = cfg["width"]
builders = {
    "FCN-32s (plain)": lambda: seg.fcn(features=w, skips=False),
    "FCN-8s": lambda: seg.fcn(features=w, skips=True),
    "U-Net": lambda: seg.unet(channels=w),
    "UNet++": lambda: seg.unet_plus_plus(features=(w[0], w[0], *w[1:], w[0]),
                                          deep_supervision=cfg["deep_supervision"]),
}
if cfg["r2unet"]:
    builders["R2U-Net"] = lambda: seg.r2unet(features=cfg["r2_width"])
val_idx = list(range(min(8, len(split["val"]))))
val_targets = [val_v.original(i, val_v.labels[i]) for i in val_idx]


def val_dice(model):
    preds = seg.segment(lambda v: seg.predict_2d(model, v, AXIS), val_v, val_idx)
    return {"dice": float(seg.evaluate(preds, val_targets)[["dice_1", "dice_2"]].mean().mean())}


loss = seg.deep_supervision(seg.make_loss("dicece"))
models, histories = {}, {}
for name, build in builders.items():
    rt.seed_everything(0)
    model = build()
    loader = DataLoader(TensorDataset(x_train, y_train), batch_size=cfg["batch"], shuffle=True, drop_last=True,
                        generator=torch.Generator().manual_seed(0))
    histories[name] = fit(model, loader, loss, steps=cfg["steps"], lr=cfg["lr"], val_fn=val_dice,
                          val_every=cfg["steps"] // 5, monitor="dice", mode="max", desc=name)
    models[name] = model

# %%
fig, axes = plt.subplots(1, len(histories), figsize=(3.3 * len(histories), 3), layout="constrained")
for ax, (name, h) in zip(axes, histories.items()):
    viz.plot_history(h, ax=ax)
    ax.set_title(name)
plt.show()

# %% [markdown]
# ## 4. Held-out test split: Table 2 in kind
# Each network segments every test volume slice by slice; the label map is cut back to the
# original crop and scored in 3D: Dice per class, HD95 and ASD (mm, MONAI), averaged over cases.

# %%
per_case = {"atlas (majority vote)": seg.evaluate(atlas_preds, targets, spacing=spacing)}
for name, model in models.items():
    preds = seg.segment(lambda v: seg.predict_2d(model, v, AXIS), test_v)
    per_case[name] = seg.evaluate(preds, targets, spacing=spacing, ids=split["test"])
    rows[name] = seg.summary_row(per_case[name], names=NAMES.values(), params=seg.count_parameters(model),
                                 train_s=round(histories[name].seconds, 1))
table = pd.DataFrame(rows).T
table.round(3)

# %% [markdown]
# ## 5. Best and worst test cases, and where the boundary errors are
# The U-Net's best and worst test cases by mean Dice. In the error panels, green is where the
# network found the hippocampus, red what it missed (false negative), blue what it added.

# %%
best_net = "U-Net"
dm = per_case[best_net][["dice_1", "dice_2"]].mean(axis=1)
show = {"best": int(dm.idxmax()), "worst": int(dm.idxmin())}
fig, axes = plt.subplots(2, 4, figsize=(13, 6.5), layout="constrained")
for r, (what, i) in enumerate(show.items()):
    cid = split["test"][i]
    img, lab = by_id[cid].image.array, by_id[cid].label.array
    pred = {n: seg.segment(lambda v: seg.predict_2d(models[n], v, AXIS), test_v, [i])[0]
            for n in ("FCN-32s (plain)", best_net)}
    k = int(np.argmax((lab > 0).sum(axis=(1, 2))))
    lo, hi = np.percentile(img, [1, 99])
    viz.overlay_labels(img[k].T, lab[k].T, ax=axes[r, 0], window=(lo, hi),
                       label_names=["bg", *NAMES.values()], title=f"{what}: {cid} ground truth")
    viz.overlay_labels(img[k].T, pred[best_net][k].T, ax=axes[r, 1], window=(lo, hi),
                       label_names=["bg", *NAMES.values()], title=f"{best_net} (Dice {dm[i]:.2f})")
    for j, n in enumerate(("FCN-32s (plain)", best_net)):
        t, p = lab[k] > 0, pred[n][k] > 0
        err = np.zeros((*t.shape, 3))
        err[t & p] = (0.2, 0.7, 0.2)
        err[t & ~p] = (0.9, 0.1, 0.1)
        err[~t & p] = (0.1, 0.3, 0.9)
        axes[r, 2 + j].imshow(np.transpose(err, (1, 0, 2)), origin="lower")
        axes[r, 2 + j].set(title=f"{n}: errors", xlabel="voxel", ylabel="voxel")
    for ax in axes[r, :2]:
        ax.invert_yaxis()
plt.show()

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), layout="constrained")
order = list(per_case)
for ax, metric in zip(axes, ["hd95", "asd"]):
    vals = [per_case[n][[f"{metric}_1", f"{metric}_2"]].mean(axis=1) for n in order]
    ax.boxplot(vals, tick_labels=[n.replace(" (", "\n(") for n in order])
    ax.set(ylabel=f"{metric.upper()} per test case (mm)", title=f"{metric.upper()}, mean of the two classes")
    ax.tick_params(axis="x", labelsize=7)
plt.show()

# %% [markdown]
# ## 6. Reproduction check
# **C-SG-a** (skip connections beat plain FCN upsampling on boundaries): the U-Net's HD95 and ASD
# against the plain FCN-32s, both lower by at least 5 % counts as reproduced, both higher as not
# reproduced, anything else as inconclusive. The assert only checks what holds with a wide margin:
# every network beats the atlas, and the U-Net by more than 0.1 Dice.

# %%
unet_row, plain_row = table.loc["U-Net"], table.loc["FCN-32s (plain)"]
gain_hd = 1 - unet_row["HD95 mm"] / plain_row["HD95 mm"]
gain_asd = 1 - unet_row["ASD mm"] / plain_row["ASD mm"]
passed = True if (gain_hd >= 0.05 and gain_asd >= 0.05) else (False if (gain_hd < 0 and gain_asd < 0) else None)
evidence = (f"U-Net vs plain FCN-32s on {len(targets)} held-out cases: HD95 {unet_row['HD95 mm']:.2f} vs "
            f"{plain_row['HD95 mm']:.2f} mm ({gain_hd:+.0%}), ASD {unet_row['ASD mm']:.2f} vs "
            f"{plain_row['ASD mm']:.2f} mm ({gain_asd:+.0%}); other skip networks' HD95: "
            + ", ".join(f"{n} {table.loc[n, 'HD95 mm']:.2f}" for n in table.index if n not in
                        ("atlas (majority vote)", "FCN-32s (plain)", "U-Net"))
            + " mm (margin: 5 % on both)")
print(evidence)
report.claim("C-SG-a", passed, evidence)
report.record("ch3_2_segmentation/01_fcn_unet_family", {"table": table.round(4).to_dict(orient="index")})
atlas_dice = table.loc["atlas (majority vote)", "Dice mean"]
assert (table.drop(index="atlas (majority vote)")["Dice mean"] > atlas_dice).all()
assert unet_row["Dice mean"] > atlas_dice + 0.1
print(f"U-Net mean Dice on the test split: {unet_row['Dice mean']:.3f} (target >= 0.80 quick, >= 0.88 full)")

# %% [markdown]
# ## Exercises
# 1. Train the FCN-8s with `skips=False` on the finest stage only: which of Dice, HD95, ASD moves most?
# 2. Switch on deep supervision in UNet++ (`deep_supervision=True`). Does the table change beyond
#    seed-to-seed noise? Retrain with seeds 1 and 2 to find out how large that noise is.
# 3. Train the R2U-Net here too (`builders["R2U-Net"] = ...`): fewest parameters, but one of the
#    longest training times. Why? (Count the convolutions evaluated per block for `t = 2`.)
# 4. Slice along another axis (`AXIS = 2`): is the hippocampus easier to segment in that plane?
#
# ## Summary
# A per-pixel classifier with an encoder alone (plain FCN) localises the hippocampus but blurs its
# boundary; fusing finer features (FCN-8s) or a full decoder with skips (U-Net, UNet++, R2U-Net)
# sharpens it. On small, well-aligned crops the differences between the U-Net variants are small
# compared with seed noise; the table's parameter and time columns show what each costs.
