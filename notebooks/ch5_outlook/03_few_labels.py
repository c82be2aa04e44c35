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
# # 5c Few labels: pseudo-labelling a hippocampus segmenter with three or twelve labelled cases
#
# *Survey §5, outlook (few labels)* {cite}`wang2020survey`; data {cite}`simpson2019msd`,
# {cite}`antonelli2022msd`; pseudo-labelling {cite}`lee2013pseudolabel`
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/corelib-book/medimg-dl-companion/blob/main/notebooks/ch5_outlook/03_few_labels.ipynb)
#
# The first problem the survey names in its outlook is the lack of labels: deep models need many
# labelled images, labelled clinical images are expensive, and weak supervision, transfer and
# multi-task learning are the hoped-for remedies. This notebook measures the problem and tries
# the simplest semi-supervised remedy on the hippocampus segmenter of chapter 3.2. Only a few
# training cases keep their labels; the other training cases are treated as unlabelled. At each
# label budget the same 2D U-Net is trained (a) on the labelled cases only and (b) with
# **pseudo-labelling** {cite}`lee2013pseudolabel`: the network trained on the labelled cases
# labels the unlabelled slices itself, only its confident pixels are kept, and it is trained
# further on both. The network trained on all labelled training cases is the ceiling.
#
# **What you will learn**
# - how the Dice of a segmenter grows with the number of labelled cases;
# - how pseudo-labelling works: confident predictions as targets, the unsure pixels left out of
#   the loss;
# - to compare a semi-supervised method with the right control (the same network, the same
#   extra training steps, without the pseudo-labels);
# - why a pseudo-label can only teach what the teacher already gets right.

# %% tags=["remove-cell"]
import subprocess
import sys

if "google.colab" in sys.modules:
    pkg = "corelib @ git+https://github.com/corelib-book/medimg-dl-companion"
    subprocess.run(f"pip install -q '{pkg}'", shell=True, check=True)

# %%
import copy

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from IPython.display import display
from torch.utils.data import DataLoader, TensorDataset

from corelib import outlook as ol
from corelib import report, runtime as rt
from corelib import segmentation as seg
from corelib.train import fit

report.set_notebook("ch5_outlook/03_few_labels")
card = rt.run_card(seed=0, datasets=["msd_hippocampus"])

# %% [markdown]
# ## Sizes for this machine
# One cell sets every size. `budgets` are the numbers of labelled training cases; `unlabelled`
# is how many of the remaining training cases are given to pseudo-labelling without their labels
# (`None`: all of them). Every network trains `steps` steps in its first phase and `steps` more
# in its second (section 3), so every network of the notebook, the ceiling included, gets the
# same number of steps. `threshold` is the confidence a pixel's pseudo-label needs
# (largest class probability above it), fixed before any run at `0.9`, a common choice. `quick`
# trains two seeds of a narrow U-Net with part of the unlabelled pool; `full` (one GPU) three seeds of a wider one, more budgets,
# longer, with every unlabelled case.

# %%
cfg = rt.pick(
    quick=dict(steps=400, batch=12, lr=5e-3, width=(8, 16, 32, 64), seeds=(0, 1),
               budgets=(3, 12), unlabelled=40, threshold=0.9, drop_empty=0.7),
    full=dict(steps=2000, batch=64, lr=2e-3, width=(32, 64, 128, 256), seeds=(0, 1, 2),
              budgets=(3, 6, 12, 24), unlabelled=None, threshold=0.9, drop_empty=0.5),
    smoke=dict(batch=2, seeds=(0,)),   # a smoke run only executes the code path
)
AXIS = 0
STEPS = rt.steps(cfg["steps"])
for key in ("steps", "batch", "threshold"):
    report.glue(key, cfg[key])
report.glue("n_seeds", len(cfg["seeds"]))
report.glue("profile", rt.profile())
report.glue("budget_small", cfg["budgets"][0])
report.glue("budget_large", cfg["budgets"][-1])
cfg

# %% [markdown]
# This run (`{glue:text}`profile``) trains every network for {glue:text}`steps` plus
# {glue:text}`steps` steps of batch {glue:text}`batch`, {glue:text}`n_seeds` seed(s) per method
# and budget; the smallest budget is {glue:text}`budget_small` labelled cases, the largest
# {glue:text}`budget_large`.
#
# ## 1. Data: MSD Task04, the split of chapter 3.2
# The same split by subject and the same padding (`seg.hippocampus_split`); the test cases are
# never touched before the scoring. As in 5a, **every Dice in this notebook is whole-hippocampus
# Dice** per test case in 3D (`ol.whole_dice`: the prediction is "hippocampus" where the
# probabilities of MSD's anterior and posterior classes add up to more than one half), while the
# networks are trained on the two classes.
#
# Which training cases keep their labels is drawn per seed: a random order of the training
# cases, the first `budget` of them labelled (so the three cases are among the twelve), and the
# unlabelled pool taken after the largest budget, the same pool at every budget.

# %%
hip = seg.hippocampus_split()
split, train_v, test_v = hip.split, hip.train, hip.test
test_idx = rt.cases(list(range(len(split["test"]))))
test_truth = [hip.targets[i] for i in test_idx]
n_train = len(split["train"])
for k, ids in split.items():
    report.glue(f"n_{k}", len(ids))
print({k: len(v) for k, v in split.items()})


def subset(pv, idx):
    """The padded volumes ``idx`` of ``pv``."""
    idx = list(idx)
    return seg.PaddedVolumes(pv.images[idx], pv.labels[idx], [pv.crops[i] for i in idx],
                             [pv.ids[i] for i in idx])


def draw(seed):
    """Labelled cases per budget and the unlabelled pool of one seed (train indices)."""
    order = np.random.default_rng(seed).permutation(n_train)
    top = max(cfg["budgets"])
    n_pool = cfg["unlabelled"] or n_train
    pool = order[top:top + n_pool]
    return {b: order[:b] for b in cfg["budgets"]}, rt.cases(pool)


_, pool0 = draw(cfg["seeds"][0])
report.glue("n_unlabelled", len(pool0))
print(f"{n_train} training cases; unlabelled pool: {len(pool0)} cases")

# %% [markdown]
# The training split has {glue:text}`n_train` cases; {glue:text}`n_unlabelled` of them form the
# unlabelled pool of this run, and the test split has {glue:text}`n_test` cases.
#
# ## 2. Training, and pseudo-labels
# Every network is chapter 3.2's 2D U-Net (MONAI `UNet`, slices along axis `0`), Adam, a fixed
# number of steps. There is **no early stopping on a validation set**: a labelled validation set
# larger than the labelled training set would be labels the few-label setting does not have, so
# every network keeps its last weights.
#
# Pseudo-labels (`ol.pseudo_labels`): the teacher network predicts every unlabelled volume slice
# by slice; a pixel gets the most probable class if its probability exceeds `threshold`, and the
# value `-1` ("no label") otherwise. The second phase's loss (`ol.masked_dice_ce`) is the same
# Dice + cross-entropy as `seg.make_loss("dicece")` (equal to it when no pixel is left out,
# tested) with the `-1` pixels left out. The few labelled slices are repeated so that they make
# about half of the second phase's training slices.

# %%
loss = seg.make_loss("dicece")


def loader(x, y, seed):
    return DataLoader(TensorDataset(x, y), batch_size=cfg["batch"], shuffle=True,
                      drop_last=True, generator=torch.Generator().manual_seed(seed))


def train(x, y, seed, init=None, loss_fn=loss, desc="train"):
    """The 2D U-Net trained ``STEPS`` steps on ``(x, y)``, from scratch or ``init``."""
    rt.seed_everything(seed)
    model = seg.unet(channels=cfg["width"]) if init is None else copy.deepcopy(init)
    history = fit(model, loader(x, y, seed), loss_fn, steps=STEPS, lr=cfg["lr"],
                  progress=False, desc=desc)
    return model, history


def probs(model, pv, i):
    """Class probabilities of ``model`` on padded volume ``i`` of ``pv``."""
    return seg.predict_2d(model, pv.images[i], AXIS)


def test_dice(model):
    """Whole-hippocampus Dice on each test case."""
    return np.array([ol.whole_dice(test_v.original(i, probs(model, test_v, i)), t)
                     for i, t in zip(test_idx, test_truth)])


def pseudo_slices(teacher, pool_v, seed):
    """Slices of the unlabelled volumes with the teacher's thresholded pseudo-labels."""
    labs = np.stack([ol.pseudo_labels(probs(teacher, pool_v, i), cfg["threshold"])
                     for i in range(len(pool_v.images))])
    x = torch.from_numpy(np.moveaxis(pool_v.images, AXIS + 1, 1)).flatten(0, 1)[:, None]
    y = torch.from_numpy(np.moveaxis(labs, AXIS + 1, 1)).flatten(0, 1)
    empty = (y.flatten(1) <= 0).all(1)
    g = torch.Generator().manual_seed(seed)
    keep = ~(empty & (torch.rand(len(y), generator=g) < cfg["drop_empty"]))
    return x[keep].contiguous(), y[keep].contiguous(), labs


dice, quality, example = {}, {}, None     # dice[(method, budget)]: (runs, cases)
for seed in cfg["seeds"]:
    labelled, pool = draw(seed)
    pool_v = subset(train_v, pool)
    for b in cfg["budgets"]:
        xl, yl = seg.slice_stack(subset(train_v, labelled[b]), axes=(AXIS,),
                                 drop_empty=cfg["drop_empty"], seed=seed)
        teacher, _ = train(xl, yl, seed, desc=f"teacher, {b} cases")
        xp, yp, labs = pseudo_slices(teacher, pool_v, seed)
        reps = max(1, len(xp) // len(xl))
        xm = torch.cat([xl.repeat(reps, 1, 1, 1), xp])
        ym = torch.cat([yl.repeat(reps, 1, 1), yp])
        sup, _ = train(xl, yl, seed + 1, init=teacher, loss_fn=ol.masked_dice_ce,
                       desc=f"supervised, {b} cases")
        pl, _ = train(xm, ym, seed + 1, init=teacher, loss_fn=ol.masked_dice_ce,
                      desc=f"pseudo-labelled, {b} cases")
        for method, m in (("supervised", sup), ("pseudo-labelled", pl)):
            dice.setdefault((method, b), []).append(test_dice(m))
        truth = pool_v.labels > 0
        kept = labs != ol.IGNORE
        quality.setdefault(b, []).append({
            "labelled slices": len(xl), "pseudo-labelled slices": len(xp),
            "share of pixels kept": kept.mean(),
            "kept pixels right (whole)": ((labs > 0) == truth)[kept].mean(),
            "kept pixels that are background": (labs[kept] == 0).mean(),
            "hippocampus voxels kept": kept[truth].mean()})
        if example is None:
            example = (pool_v, labs)
    x_all, y_all = seg.slice_stack(train_v, axes=(AXIS,), drop_empty=cfg["drop_empty"],
                                   seed=seed)
    ceil, _ = train(x_all, y_all, seed, desc="all labels")
    ceil, _ = train(x_all, y_all, seed + 1, init=ceil, loss_fn=ol.masked_dice_ce,
                    desc="all labels, phase 2")
    dice.setdefault(("all labels", n_train), []).append(test_dice(ceil))
dice = {k: np.stack(v) for k, v in dice.items()}
quality = pd.DataFrame({f"{b} labelled cases": pd.DataFrame(q).mean()
                        for b, q in quality.items()})
quality.round(3)

# %% [markdown]
# The table describes the pseudo-labels of each teacher, on the unlabelled pool (mean over
# seeds): how many slices they add, the share of pixels confident enough to keep, how many of
# the kept pixels are right (hippocampus or not, against the labels we hid), and the share of the
# true hippocampus voxels that were kept at all. Pseudo-labels are checked against the hidden
# truth here only to describe them; nothing in the training sees it.

# %%
pool_v, labs = example
i = int(np.argmax((pool_v.labels > 0).sum(axis=(1, 2, 3))))
k = int(np.argmax((pool_v.labels[i] > 0).sum(axis=(1, 2))))
fig, axes = plt.subplots(1, 3, figsize=(11, 3.8), layout="constrained")
lab_cmap = plt.get_cmap("viridis", 4)
panels = [("image", pool_v.images[i, k], "gray", None),
          ("hidden truth", pool_v.labels[i, k], lab_cmap, (-1.5, 2.5)),
          (f"pseudo-label ({cfg['budgets'][0]} labelled cases)", labs[i, k], lab_cmap,
           (-1.5, 2.5))]
for ax, (title, a, cmap, lim) in zip(axes, panels):
    im = ax.imshow(a.T, cmap=cmap, origin="lower",
                   **({} if lim is None else dict(vmin=lim[0], vmax=lim[1])))
    ax.set(title=title, xlabel="axis 1", ylabel="axis 2")
cb = fig.colorbar(im, ax=axes[1:], ticks=[-1, 0, 1, 2])
cb.ax.set_yticklabels(["no label (unsure)", "background", "anterior", "posterior"])
plt.show()

# %% [markdown]
# One unlabelled slice (the first seed's pool, the volume with the most hippocampus), its hidden
# truth and the pseudo-label the teacher of the smallest budget gives it. Where do the unsure
# pixels (`-1`) lie, and is that where a segmenter is usually wrong? (Exercise 1 counts them.)
#
# ## 3. Dice against the number of labelled cases
# Mean over seeds and test cases. *supervised*: the teacher trained on the labelled slices, then
# trained as many steps again on the same slices; *pseudo-labelled*: the same teacher trained as
# many steps again on the labelled and pseudo-labelled slices. Both start from the same
# weights and train the same steps, so the only difference is the pseudo-labels. *all labels*:
# the same two phases on every training case's labelled slices.

# %%
budgets = list(cfg["budgets"])
METHODS = ("supervised", "pseudo-labelled")
table = pd.DataFrame({m: [dice[m, b].mean() for b in budgets] for m in METHODS},
                     index=pd.Index(budgets, name="labelled cases"))
ceiling = dice["all labels", n_train]
table["all labels (ceiling)"] = ceiling.mean()
display(table.round(3))

fig, ax = plt.subplots(figsize=(6.5, 4.2), layout="constrained")
for m, marker in zip(METHODS, ("o", "s")):
    d = np.array([dice[m, b].mean(0) for b in budgets])            # (budgets, cases)
    ax.errorbar(budgets, d.mean(1), yerr=d.std(1) / np.sqrt(d.shape[1]), marker=marker,
                capsize=3, label=m)
ax.axhline(ceiling.mean(), color="grey", ls="--",
           label=f"all {n_train} labelled cases (ceiling)")
ax.set(xscale="log", xticks=budgets, xticklabels=[str(b) for b in budgets],
       xlabel="labelled training cases", ylabel="whole-hippocampus Dice (test)",
       title="Dice against labels")
ax.minorticks_off()
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# Bars: standard error over test cases. The gap between a curve and the grey line is what the
# missing labels cost; the gap between the two curves is what pseudo-labelling recovers.
#
# ## 4. Reproduction check: two statements of the outlook
# The survey names the problem and the remedies without a number, so the statements are this
# book's own reading (ids `O-OL1-*` in the {doc}`../../book/survey_map`). Both compare per-test-case
# whole-hippocampus Dice with `report.compare` (paired over the same cases; with several seeds
# the arrays are `(runs, cases)` and the interval holds the seed-to-seed spread). Margins were
# chosen before the run.
# - **O-OL1-a** semi-supervision helps at the smallest budget: pseudo-labelled minus supervised,
#   {glue:text}`budget_small` labelled cases, margin `0` (any gain beyond the noise counts).
# - **O-OL1-b** with the largest budget, the gap to the full-label ceiling is small:
#   supervised with {glue:text}`budget_large` labelled cases minus all labels, margin `-0.05`:
#   reproduced if the whole interval lies above `-0.05` Dice, a loss smaller than the typical
#   difference between two architectures in chapter 3.2.
#
# Quality checks (`report.check`): the ceiling's Dice is above `0.8`, the teacher of the
# smallest budget keeps most pixels of the unlabelled pool (above half), over `90 %` of the
# pixels it keeps are background, and it keeps a smaller share of the true hippocampus voxels
# than of all pixels.

# %%
b0, b1 = budgets[0], budgets[-1]
v_a = report.compare(dice["pseudo-labelled", b0], dice["supervised", b0], margin=0.0,
                     what=f"pseudo-labelled - supervised, Dice, {b0} labelled cases")
v_b = report.compare(dice["supervised", b1], ceiling, margin=-0.05,
                     what=f"supervised ({b1} labelled cases) - all labels, Dice")
runs = len(cfg["seeds"])
report.claim("O-OL1-a", v_a, evidence=(
    f"MSD Task04, {len(test_idx)} test cases, 2D U-Net, {b0} labelled and "
    f"{len(pool0)} unlabelled training cases, threshold {cfg['threshold']}, "
    f"{STEPS}+{STEPS} steps, {runs} seed(s)"))
report.claim("O-OL1-b", v_b, evidence=(
    f"MSD Task04, {len(test_idx)} test cases, 2D U-Net, {b1} against {n_train} labelled "
    f"cases, {STEPS}+{STEPS} steps, {runs} seed(s)"))
for prefix, v in (("ola", v_a), ("olb", v_b)):
    report.glue_verdict(prefix, v)
report.glue("dice_small_sup", float(dice["supervised", b0].mean()))
report.glue("dice_small_pl", float(dice["pseudo-labelled", b0].mean()))
report.glue("dice_large_sup", float(dice["supervised", b1].mean()))
report.glue("dice_large_pl", float(dice["pseudo-labelled", b1].mean()))
report.glue("dice_ceiling", float(ceiling.mean()))
report.glue("kept_small", float(quality.iloc[:, 0]["share of pixels kept"]))
report.glue("right_small", float(quality.iloc[:, 0]["kept pixels right (whole)"]))
report.glue("hip_kept_small", float(quality.iloc[:, 0]["hippocampus voxels kept"]))
report.headline(f"U-Net 2D, whole-hippocampus Dice, {b0} labelled cases, supervised",
                float(dice["supervised", b0].mean()))
report.headline(f"U-Net 2D, whole-hippocampus Dice, {b0} labelled cases, pseudo-labelled",
                float(dice["pseudo-labelled", b0].mean()))
report.record({"table": table.round(4).to_dict(), "quality": quality.round(4).to_dict(),
               "budgets": budgets, "n_unlabelled": len(pool0)})
report.check(ceiling.mean() > 0.8, f"the ceiling's whole Dice {ceiling.mean():.3f} > 0.8")
report.check(quality.iloc[:, 0]["share of pixels kept"] > 0.5,
             "the smallest budget's teacher keeps over half of the unlabelled pixels")
report.check(quality.iloc[:, 0]["kept pixels that are background"] > 0.9,
             "most kept pseudo-labels (over 90 %) are background")
q0 = quality.iloc[:, 0]
report.check(q0["hippocampus voxels kept"] < q0["share of pixels kept"],
             "hippocampus voxels are dropped more often than pixels overall")
for v in (v_a, v_b):
    print(v.summary())

# %% [markdown]
# In this run, with {glue:text}`budget_small` labelled cases the supervised network reaches a
# whole-hippocampus Dice of {glue:text}`dice_small_sup:.3f` and the pseudo-labelled one
# {glue:text}`dice_small_pl:.3f`; with {glue:text}`budget_large` labelled cases
# {glue:text}`dice_large_sup:.3f` and {glue:text}`dice_large_pl:.3f`; with all
# {glue:text}`n_train` labelled cases {glue:text}`dice_ceiling:.3f`.
#
# - **O-OL1-a** (pseudo-labelling helps with {glue:text}`budget_small` labelled cases): effect
#   {glue:text}`ola_effect:+.3f` [{glue:text}`ola_lo:+.3f`, {glue:text}`ola_hi:+.3f`]:
#   **{glue:text}`ola_status`**.
# - **O-OL1-b** (with {glue:text}`budget_large` labelled cases the supervised network is within
#   `0.05` Dice of the ceiling): effect {glue:text}`olb_effect:+.3f`
#   [{glue:text}`olb_lo:+.3f`, {glue:text}`olb_hi:+.3f`]: **{glue:text}`olb_status`**.
#
# How to read them. The smallest budget's teacher keeps a share
# {glue:text}`kept_small:.3f` of the unlabelled pixels, and {glue:text}`right_small:.3f` of
# the kept ones are right; over `90 %` of the kept pixels are background (checked above),
# which is easy, and the pseudo-labels repeat
# what the teacher already believes. Pseudo-labelling can only help where the teacher is right
# and confident on pixels the labelled cases did not show it; where it is confidently wrong it
# teaches its own errors back. It keeps only a share {glue:text}`hip_kept_small:.3f` of the
# true hippocampus voxels, less than of the pixels overall (checked above): the unsure pixels
# are drawn more from the structure than from the background, so the pseudo-labels under-train
# the structure's edges. Whatever the verdicts, they hold for one
# structure, one threshold, one way of mixing labelled and pseudo-labelled slices and a short
# training; the full profile adds seeds, budgets and every unlabelled case.

# %% [markdown]
# ## Exercises
# 1. Which pixels are most often left out of the pseudo-labels? Count, on the example volume,
#    how many unsure pixels lie within one voxel of the boundary of the true hippocampus.
# 2. Lower the threshold to `0.5` (every pixel kept) or raise it to `0.99` for the smallest
#    budget and retrain the pseudo-labelled network: what happens to the share kept and to the
#    test Dice?
# 3. Run the pseudo-labelling twice: the pseudo-labelled network becomes the teacher of a second
#    round. Does the second round add anything?
# 4. The supervised control trains its second phase on the same few slices. Is the gain of
#    pseudo-labelling partly just *more varied images* in the batches? Replace the pseudo-labels
#    by all `-1` except the teacher's background, and compare.

# %% tags=["solution", "hide-cell"]
# Solution 1
from scipy import ndimage  # noqa: E402

truth_i = pool_v.labels[i] > 0
edge = truth_i ^ ndimage.binary_erosion(truth_i)
edge = ndimage.binary_dilation(edge)                  # within one voxel of the boundary
unsure = labs[i] == ol.IGNORE
print(f"unsure voxels: {unsure.sum()}, of which near the boundary: "
      f"{(unsure & edge).sum() / max(unsure.sum(), 1):.0%}; the boundary band is "
      f"{edge.mean():.1%} of the volume")

# %% tags=["solution", "hide-cell"]
# Solution 2
# Retrains several networks: full profile only (CORELIB_PROFILE=full).
if rt.profile() == "full":
    seed = cfg["seeds"][0]
    labelled, pool = draw(seed)
    pool_v2 = subset(train_v, pool)
    xl, yl = seg.slice_stack(subset(train_v, labelled[b0]), axes=(AXIS,),
                             drop_empty=cfg["drop_empty"], seed=seed)
    teacher, _ = train(xl, yl, seed)
    for thr in (0.5, 0.99):
        cfg_thr, cfg["threshold"] = cfg["threshold"], thr
        xp, yp, labs2 = pseudo_slices(teacher, pool_v2, seed)
        cfg["threshold"] = cfg_thr
        reps = max(1, len(xp) // len(xl))
        m, _ = train(torch.cat([xl.repeat(reps, 1, 1, 1), xp]),
                     torch.cat([yl.repeat(reps, 1, 1), yp]), seed + 1, init=teacher,
                     loss_fn=ol.masked_dice_ce)
        print(f"threshold {thr}: kept {(labs2 != ol.IGNORE).mean():.3f}, "
              f"Dice {test_dice(m).mean():.3f}")

# %% tags=["solution", "hide-cell"]
# Solution 3
# Two more trainings per budget: full profile only.
if rt.profile() == "full":
    seed = cfg["seeds"][0]
    labelled, pool = draw(seed)
    pool_v2 = subset(train_v, pool)
    xl, yl = seg.slice_stack(subset(train_v, labelled[b0]), axes=(AXIS,),
                             drop_empty=cfg["drop_empty"], seed=seed)
    student, _ = train(xl, yl, seed)
    for r in (1, 2):
        xp, yp, _ = pseudo_slices(student, pool_v2, seed)
        reps = max(1, len(xp) // len(xl))
        student, _ = train(torch.cat([xl.repeat(reps, 1, 1, 1), xp]),
                           torch.cat([yl.repeat(reps, 1, 1), yp]), seed + r,
                           init=student, loss_fn=ol.masked_dice_ce)
        print(f"round {r}: Dice {test_dice(student).mean():.3f}")

# %% [markdown] tags=["solution"]
# :::{dropdown} Solution 4
# Build `yp_bg = torch.where(yp == 0, 0, ol.IGNORE)` (only the teacher's confident background
# kept) and train the second phase on `xl` repeated plus `(xp, yp_bg)`, as in section 2. If that
# network gains as much as the pseudo-labelled one, the gain comes from seeing more (background)
# anatomy, not from the pseudo-labels of the hippocampus; if it gains less, the hippocampus
# pseudo-labels carry the information. Either way it is a sharper control than the supervised
# one, at the price of one more training per budget.
# :::

# %% [markdown]
# ## Summary
# A hippocampus segmenter trained with {glue:text}`budget_small` labelled cases reaches a
# whole-hippocampus Dice of {glue:text}`dice_small_sup:.3f`, with {glue:text}`budget_large`
# {glue:text}`dice_large_sup:.3f`, and with all {glue:text}`n_train` labelled training cases
# {glue:text}`dice_ceiling:.3f` (O-OL1-b: *{glue:text}`olb_status`*). Pseudo-labelling the other
# training cases changes the smallest budget's Dice by {glue:text}`ola_effect:+.3f` (O-OL1-a:
# *{glue:text}`ola_status`*). Few labels is the survey's first open problem; the notebook
# measures its cost on one structure and tests the simplest semi-supervised remedy against the
# control it needs: the same network, trained as long, without the pseudo-labels. Transfer from
# a self-supervised pretext task and multi-task learning, the survey's other remedies, are not
# run here.
