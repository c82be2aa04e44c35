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
# # 4.1c Curriculum, attention and feature fusion, with Grad-CAM
#
# *Survey §4.1* {cite}`wang2020survey` *; curriculum learning {cite}`ref100,ref101`; attention-guided CNNs {cite}`ref104,ref105,ref106`; fusion of
# handcrafted and deep features {cite}`ref107,ref108,ref109`; data: MedMNIST v2 {cite}`yang2023medmnist`*
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/corelib-book/medimg-dl-companion/blob/main/notebooks/ch4_1_classification/03_curriculum_attention_fusion.ipynb)
#
# Three ideas the survey lists as improvements to a plain CNN classifier: **curriculum learning**
# (show easy examples first, then harder ones), **attention** (a branch that learns *where* to look
# and re-weights the features there) and **fusion** of the CNN's learned features with handcrafted
# radiomics features that encode what radiologists know. We measure each against the *same* baseline
# ResNet on BreastMNIST, and we look inside the networks with **Grad-CAM** maps.
#
# **What you will learn**
# - how to score difficulty (out-of-fold loss of a probe model) and pace a curriculum;
# - how an attention branch gates a CNN's feature map, and what its map looks like;
# - how Grad-CAM turns gradients into a class-specific heat map;
# - how to fuse deep and handcrafted features with a classifier chosen on validation;
# - how to tell a real gain from noise on a 156-image test split.

# %% [markdown]
# ## Setup
# Locally, `make book` or `make test` installs everything. In Colab the next cell installs `corelib`
# (leaving Colab's own GPU build of PyTorch in place) and the Debian packages that ship the images.

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
import torch
from sklearn.metrics import roc_curve

import corelib.data as data
from corelib import classification as cl
from corelib import report, runtime as rt, viz

report.set_notebook("ch4_1_classification/03_curriculum_attention_fusion")
card = rt.run_card(seed=0, datasets=["medmnist"])
t_start = time.perf_counter()

# %%
cfg = rt.pick(quick=dict(width=0.25, steps=200, batch=64, lr=2e-3, seeds=[0]),
              full=dict(width=1.0, steps=2000, batch=128, lr=1e-3, seeds=[0, 1, 2]))
cfg

# %% [markdown]
# ## Data
# BreastMNIST with the official splits, and the 34 handcrafted features of notebook 4.1a for each
# image (first-order, shape, GLCM, GLRLM).

# %%
d = data.load_medmnist("breastmnist")
X = {s: cl.to_tensor(d[f"{s}_images"]) for s in ("train", "val", "test")}
Y = {s: torch.as_tensor(d[f"{s}_labels"]) for s in ("train", "val", "test")}
y_test = d["test_labels"]
H = {s: cl.extract_features(d[f"{s}_images"])[0] for s in ("train", "val", "test")}
short = {0: "malignant", 1: "benign/normal"}
print({s: tuple(v.shape) for s, v in H.items()})
fig = viz.show_grid([d["test_images"][i] for i in range(8)], ncols=8, window=(0, 255), figsize=(14, 2.6),
                    titles=[short[c] for c in y_test[:8]], colorbar_label="echo intensity (uint8)",
                    suptitle="BreastMNIST test images (used for the Grad-CAM maps below)")
plt.show()

# %% [markdown]
# ## 1. Baseline and attention-gated ResNet
# The attention net is the baseline ResNet-18 (28) with one extra branch on its last block: two
# convolutions make a map $A \in (0, 1)$ of the feature map's size, and the features become
# $F \cdot (1 + A)$, so the branch can only emphasise, never erase. Everything else (steps, optimiser,
# augmentation, seed) is identical.

# %%
scores: dict[str, list[np.ndarray]] = {}
nets, histories, deep = {}, {}, {}
for name, attention in (("ResNet-18 (28) baseline", False), ("ResNet-18 + attention branch", True)):
    for seed in cfg["seeds"]:
        rt.seed_everything(seed)
        net = cl.build_net("resnet18", width=cfg["width"], attention=attention)
        hist = cl.train_classifier(net, X["train"], Y["train"], X["val"], Y["val"], steps=cfg["steps"],
                                   batch_size=cfg["batch"], lr=cfg["lr"], seed=seed, desc=name)
        scores.setdefault(name, []).append(cl.predict_scores(net, X["test"])[:, 1])
        nets.setdefault(name, net)
        histories.setdefault(name, hist)
        if not attention:
            deep.setdefault(seed, {s: cl.deep_features(net, X[s]) for s in ("train", "val", "test")})

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 3.6))
for ax, (name, hist) in zip(axes, list(histories.items())[:2]):
    viz.plot_history(hist, ax=ax)
    ax.set_title(name)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 2. Curriculum learning: easy to hard
# **Difficulty score.** A training image is *hard* when a simple model that never saw it gets it
# wrong. A logistic-regression probe on the handcrafted features is fitted in 5 folds, and each image
# gets the cross-entropy of the probe that did **not** train on it. The probe is independent of the
# CNN and cheap, and it knows the typical intensity, shape and texture of each class, so a high loss
# marks an atypical or ambiguous image.
#
# **Pacing.** Training starts on the easiest 30 % and grows linearly to the whole set at 60 % of the
# steps ("baby steps"); net, steps, optimiser, augmentation and seed equal the baseline's, which
# draws from the whole set from the start.

# %%
difficulty = cl.probe_difficulty(H["train"], d["train_labels"], folds=5, seed=0)
order = np.argsort(difficulty)
shown = [*order[:6], *order[-6:]]
fig = viz.show_grid([d["train_images"][i] for i in shown], ncols=6, window=(0, 255), figsize=(12, 4.8),
                    titles=[f"{short[d['train_labels'][i]]}, {difficulty[i]:.2f}" for i in shown],
                    colorbar_label="echo intensity (uint8)",
                    suptitle="Easiest (top) and hardest (bottom) training images: class, probe loss")
plt.show()

# %%
name = "ResNet-18 + curriculum"
for seed in cfg["seeds"]:
    rt.seed_everything(seed)
    net = cl.build_net("resnet18", width=cfg["width"])
    stream = cl.CurriculumStream(X["train"], Y["train"], difficulty, cfg["batch"], cfg["steps"], seed=seed,
                                 start=0.3, ramp=0.6)
    hist = cl.train_classifier(net, X["train"], Y["train"], X["val"], Y["val"], steps=cfg["steps"],
                               batch_size=cfg["batch"], lr=cfg["lr"], seed=seed, desc=name, stream=stream)
    scores.setdefault(name, []).append(cl.predict_scores(net, X["test"])[:, 1])
    histories.setdefault(name, hist)

fig, ax = plt.subplots(figsize=(7, 3.6))
for label in ("ResNet-18 (28) baseline", name):
    h = histories[label]
    ax.plot([v["step"] for v in h.val], [v["AUC"] for v in h.val], marker="o", ms=3, label=label)
ax.set(xlabel="optimizer step", ylabel="validation AUC", title="Learning curves with and without curriculum")
ax.legend()
plt.show()

# %% [markdown]
# ## 3. Grad-CAM: where does each network look?
# Grad-CAM weights each channel of the last block by the mean gradient of the class score and keeps
# the positive part; the map is upsampled to 28 px and scaled to [0, 1] per image. We show it for the
# class each network predicts, next to the attention branch's own map.

# %%
idx = np.concatenate([np.flatnonzero(y_test == 0)[:4], np.flatnonzero(y_test == 1)[:4]])
xs = X["test"][idx]
base_net, att_net = nets["ResNet-18 (28) baseline"], nets["ResNet-18 + attention branch"]
cam_base, cam_att = cl.gradcam(base_net, xs), cl.gradcam(att_net, xs)
with torch.no_grad():
    att_net.eval()
    att_net(xs.to(next(att_net.parameters()).device))
    att_map = torch.nn.functional.interpolate(att_net.last_attention, size=28, mode="bilinear")[:, 0].cpu()
rows = [("image", None), ("Grad-CAM, baseline", cam_base), ("Grad-CAM, attention net", cam_att),
        ("attention map A", att_map)]
fig, axes = plt.subplots(4, 8, figsize=(14, 7.6))
for r, (label, maps) in enumerate(rows):
    for c in range(8):
        ax = axes[r, c]
        ax.imshow(xs[c, 0], cmap="gray", vmin=0, vmax=1)
        if maps is not None:
            im = ax.imshow(maps[c], cmap="jet", alpha=0.45, vmin=0, vmax=1)
        ax.set_xticks([]), ax.set_yticks([])
        if r == 0:
            ax.set_title(short[y_test[idx[c]]], fontsize=9)
        if c == 0:
            ax.set_ylabel(label, fontsize=9)
fig.colorbar(im, ax=axes, shrink=0.6, label="map value (0-1)")
fig.suptitle("Test images (4 malignant, 4 normal/benign) and where the networks look")
plt.show()

# %% [markdown]
# ## 4. Fusion of handcrafted and deep features
# The baseline network's penultimate features (its learned representation) are concatenated with
# the 34 handcrafted features; a logistic regression (standardised inputs, C chosen on validation)
# classifies them. Two controls use the same classifier on each block alone.

# %%
for seed in cfg["seeds"]:
    D = deep[seed]
    blocks = {"handcrafted features + LR": H, "deep features + LR": D,
              "fusion: handcrafted + deep + LR": {s: cl.fuse_features(H[s], D[s]) for s in H}}
    for name, B in blocks.items():
        model, info = cl.fit_select("logistic regression", B["train"], d["train_labels"], B["val"], d["val_labels"])
        scores.setdefault(name, []).append(model.predict_proba(B["test"])[:, 1])
        print(f"seed {seed} {name:<34} C={info['param']:<5} val AUC {info['val_AUC']:.3f}")

# %% [markdown]
# ## 5. Evaluation on the held-out test split

# %%
results = {name: [cl.evaluate_binary(y_test, s) for s in runs] for name, runs in scores.items()}
table = cl.results_table(results)
table

# %%
fig, ax = plt.subplots(figsize=(6.5, 5))
for name, runs in scores.items():
    fpr, tpr, _ = roc_curve(y_test, np.mean(runs, 0))
    ax.plot(fpr, tpr, label=f"{name} (AUC {results[name][0]['AUC']:.3f})")
ax.plot([0, 1], [0, 1], "k:", lw=0.8)
ax.set(xlabel="1 - specificity", ylabel="sensitivity", title="ROC on the test split (positive = normal/benign)")
ax.legend(fontsize=8, loc="lower right")
plt.show()

# %% [markdown]
# ## Reproduction check
# **C-CL-c** (curriculum / attention / fusion each add accuracy). Each part is compared with the
# *same* baseline ResNet by the paired bootstrap 95 % CI of the test-AUC difference (2000 resamples
# of the 156 test images). A part adds when its CI is above 0, does not when the CI is below 0, and
# is inconclusive when the CI contains 0. The claim ("each adds") is reproduced only if all three
# parts add, not reproduced if any part is significantly worse, inconclusive otherwise.

# %%
base = np.mean(scores["ResNet-18 (28) baseline"], 0)
parts = {"curriculum": "ResNet-18 + curriculum", "attention": "ResNet-18 + attention branch",
         "fusion": "fusion: handcrafted + deep + LR"}
cis = {k: cl.bootstrap_auc_diff(y_test, base, np.mean(scores[v], 0)) for k, v in parts.items()}
verdicts = {k: cl.ci_verdict(ci) for k, ci in cis.items()}
overall = True if all(v is True for v in verdicts.values()) else (
    False if any(v is False for v in verdicts.values()) else None)
report.claim("C-CL-c", overall, "; ".join(
    f"{k} - baseline test AUC {ci['diff']:+.3f}, 95% CI [{ci['lo']:+.3f}, {ci['hi']:+.3f}] "
    f"({'added' if verdicts[k] else 'did not add' if verdicts[k] is False else 'inconclusive'})"
    for k, ci in cis.items()) + f"; {rt.profile()} profile, {len(cfg['seeds'])} seed(s)")
wall = time.perf_counter() - t_start
report.record({"test": {k: v[0] for k, v in results.items()}, "bootstrap CIs": cis,
               "part verdicts": {k: str(v) for k, v in verdicts.items()}, "wall s": wall})
print(f"wall time {wall:.0f} s")
# holds with margin in both profiles: Grad-CAM maps are non-negative and the baseline is far above chance
assert float(cam_base.min()) >= 0 and results["ResNet-18 (28) baseline"][0]["AUC"] > 0.75

# %% [markdown]
# ## Exercises
# 1. Replace the probe-loss difficulty by `cl.prototype_difficulty(H["train"], labels)`, and try an
#    *anti*-curriculum (hard first: pass `-difficulty`). Does either beat uniform sampling by more
#    than the bootstrap CI?
# 2. Move the attention branch to the third block (before `layer4`). Does the map become sharper?
# 3. Compute Grad-CAM for the *other* class (`target=`) on a misclassified image. What does the net
#    see as evidence against its own prediction?
# 4. Fuse with a random forest instead of logistic regression. Does fusion gain more with a
#    non-linear classifier?
# 5. Grad-CAM is coarse here: the last block is 4x4 (28 -> 14 -> 7 -> 4 px; check
#    `net.feature_map(x).shape`). What would a standard ImageNet stem (stride-2 convolution and
#    max-pooling) leave, and why does MedMNIST drop it for 28 px images?
#
# ## Summary
# A curriculum, an attention branch and feature fusion are cheap additions to a CNN; each was measured against
# the same baseline on real ultrasound, with an interval that says whether 156 test images can tell
# the difference. Grad-CAM and the attention map show where the networks look, which is where a
# reader should start checking whether a classifier is right for the right reasons.
