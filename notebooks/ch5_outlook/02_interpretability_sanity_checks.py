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
# # 5b Interpretability: saliency maps and the sanity checks they must pass
#
# *Survey §5 (open problems: interpretability)* {cite}`wang2020survey` *; sanity checks
# {cite}`adebayo2018sanity`; saliency methods {cite}`simonyan2014saliency,springenberg2015guided,sundararajan2017ig,selvaraju2017gradcam,zeiler2014visualizing`;
# data: MedMNIST v2 {cite}`yang2023medmnist`, MSD Task04 {cite}`simpson2019msd`*
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/corelib-book/medimg-dl-companion/blob/main/notebooks/ch5_outlook/02_interpretability_sanity_checks.ipynb)
#
# The survey ends with a warning: the features deep models learn cannot yet be explained, and
# clinicians need explanations. The usual answer is a **saliency map**: a picture of which pixels
# the model's output depends on. This lab computes five of them for a breast-ultrasound classifier
# and three for a hippocampus segmenter, and then asks the question a clinician should ask first:
# *does the map explain the model, or only the image?* The test is simple
# {cite}`adebayo2018sanity`: destroy the model's learned weights, layer by layer from the top, and
# see whether the map changes. A map that survives random weights is an edge detector, however
# convincing it looks.
#
# **What you will learn**
# - how plain gradients, guided backpropagation, integrated gradients, Grad-CAM and occlusion
#   sensitivity are computed (MONAI's `monai.visualize` and short hand-written versions);
# - the cascading model randomisation test, scored by Spearman rank correlation;
# - why "the saliency lies inside the organ" is a weak check for a segmenter.

# %% [markdown]
# ## Setup
# Locally, `make book` or `make test` installs everything. In Colab the next cell installs `corelib`
# (leaving Colab's own GPU build of PyTorch in place) and the Debian packages that ship the images.

# %% tags=["remove-cell"]
import subprocess
import sys

if "google.colab" in sys.modules:
    repo = "git+https://github.com/corelib-book/medimg-dl-companion"
    subprocess.run(f"pip install -q 'corelib @ {repo}'", shell=True, check=True)
    subprocess.run("apt-get -qq update && apt-get -qq install -y --no-install-recommends "
                   "mricron-data invesalius-examples insighttoolkit5-examples",
                   shell=True, check=True)

# %%
import copy

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from scipy import ndimage
from torch.utils.data import DataLoader, TensorDataset

from corelib import classification as cl
from corelib import report, runtime as rt, viz
from corelib import saliency as sal
from corelib import segmentation as seg
from corelib.train import fit

report.set_notebook("ch5_outlook/02_interpretability_sanity_checks")
card = rt.run_card(seed=0, datasets=["medmnist", "msd_hippocampus"])

# %% [markdown]
# ## Sizes for this machine
# One cell sets every size. `quick` trains a narrow ResNet-18 for a few hundred steps per seed and
# explains a sample of test images; `full` (one GPU) trains the full-width network longer and
# explains more images. `rho_limit` is the rank correlation at or above which we call a map
# *insensitive to the weights*; it was fixed before the first run (see section 3).

# %%
cfg = rt.pick(
    quick=dict(width=0.25, steps=300, batch=64, lr=2e-3, seeds=[0, 1], n_images=20,
               ig_steps=32, occlusion_mask=5, seg_width=(8, 16, 32, 64), seg_steps=600,
               seg_batch=12, n_slices=24, ring_mm=3, rho_limit=0.5),
    full=dict(width=1.0, steps=2000, batch=128, lr=1e-3, seeds=[0, 1, 2], n_images=100,
              ig_steps=64, occlusion_mask=5, seg_width=(32, 64, 128, 256),
              seg_steps=3000, seg_batch=64, n_slices=100, ring_mm=3, rho_limit=0.5),
    smoke=dict(batch=4, seg_batch=2, seeds=[0]),
)
for key in ("steps", "n_images", "ig_steps", "seg_steps", "n_slices", "ring_mm",
            "rho_limit"):
    report.glue(key, cfg[key])
report.glue("n_seeds", len(cfg["seeds"]))
cfg

# %% [markdown]
# ## 1. The classifier: BreastMNIST, ResNet-18
# The model is chapter 4.1's ResNet-18 for small images, trained with the same recipe
# (`cl.train_classifier`: AdamW, one-cycle schedule, the weights with the best validation AUC kept)
# on the official training split, once per seed ({glue:text}`n_seeds` seeds,
# {glue:text}`steps` steps each).

# %%
raw, X, Y = cl.load_splits("breastmnist")
y_test = Y["test"].numpy()
models, test_auc = {}, {}
for seed in cfg["seeds"]:
    rt.seed_everything(seed)
    net = cl.build_net("resnet18", width=cfg["width"])
    cl.train_classifier(net, X["train"], Y["train"], X["val"], Y["val"],
                        steps=cfg["steps"], batch_size=cfg["batch"], lr=cfg["lr"],
                        seed=seed,
                        desc=f"ResNet-18, seed {seed}")
    models[seed] = net.eval()
    test_auc[seed] = cl.evaluate_binary(y_test, cl.predict_scores(net, X["test"]))["AUC"]
report.glue("test_auc_mean", float(np.mean(list(test_auc.values()))))
report.check(min(test_auc.values()) > 0.75,
             "every seed's classifier separates the classes (test AUC > 0.75)")
test_auc

# %% [markdown]
# Mean test AUC over the seeds: {glue:text}`test_auc_mean:.3f`. A map of a model that has learned
# nothing would explain nothing; this one has learned something worth explaining.
#
# ## 2. Five saliency maps
# Each map answers "which pixels does the score of the predicted class depend on?" differently:
#
# | method | what it computes | source |
# |---|---|---|
# | gradient | $\lvert\partial s_c/\partial x\rvert$ | MONAI `VanillaGrad` {cite}`simonyan2014saliency` |
# | guided backprop | the gradient with negative signals stopped at every ReLU | hand-written {cite}`springenberg2015guided` |
# | integrated gradients | $(x - x_0)$ times the mean gradient on the path from $x_0 = 0$ to $x$ | hand-written {cite}`sundararajan2017ig` |
# | Grad-CAM | the last block's feature maps weighted by their mean gradient | MONAI `GradCAM` {cite}`selvaraju2017gradcam` |
# | occlusion | the drop of the class probability when a patch is blurred out | MONAI `OcclusionSensitivity` {cite}`zeiler2014visualizing` |
#
# Guided backpropagation is written out because MONAI's version finds ReLUs by *name* and MONAI's
# own ResNet calls them `act`: there it silently returns the plain gradient (the source below says
# how ours finds them).

# %%
viz.show_source(sal.guided_backprop)

# %%
METHODS = {
    "gradient": sal.gradient,
    "guided backprop": sal.guided_backprop,
    "integrated gradients": lambda m, x, t: sal.integrated_gradients(
        m, x, t, steps=cfg["ig_steps"]),
    "Grad-CAM": lambda m, x, t: sal.grad_cam(m, x, t, layer="backbone.layer4"),
    "occlusion": lambda m, x, t: sal.occlusion(m, x, t, mask_size=cfg["occlusion_mask"]),
}
pick = rt.cases(torch.randperm(len(y_test), generator=torch.Generator().manual_seed(0))
                [:cfg["n_images"]].tolist())
x_explain = X["test"][pick]
predicted = {s: torch.as_tensor(cl.predict_scores(m, x_explain).argmax(1))
             for s, m in models.items()}
maps = {s: {k: f(models[s], x_explain, predicted[s]) for k, f in METHODS.items()}
        for s in models}
edges = sal.edge_map(x_explain)
report.glue("n_explained", len(pick))

# %%
s0, i0 = cfg["seeds"][0], 0
panels = [x_explain[i0, 0].numpy(), edges[i0]] + [maps[s0][k][i0] for k in METHODS]
titles = ["test image", "Sobel edges (no model)"] + list(METHODS)
fig, axes = plt.subplots(3, 3, figsize=(9, 9), layout="constrained")
for ax, panel, title in zip(axes.flat, panels, titles):
    im = ax.imshow(panel, cmap="gray" if title == "test image" else "magma")
    ax.set(title=title, xticks=[], yticks=[])
    fig.colorbar(im, ax=ax, shrink=0.8,
                 label="intensity" if title == "test image" else "importance")
for ax in axes.flat[len(panels):]:
    ax.axis("off")
plt.show()

# %% [markdown]
# How similar is each map to the edge map, which needs no model at all? Spearman's rank
# correlation, one value per explained image, averaged over images and seeds:

# %%
edge_rho = {k: float(np.mean([sal.rank_correlation(maps[s][k], edges)
                                 for s in models]))
            for k in METHODS}
pd.Series(edge_rho, name="rank correlation with the Sobel edge map").round(3).to_frame()

# %% [markdown]
# ## 3. The sanity check: randomise the model from the top down
# `sal.cascading_randomization` re-initialises the output layer, then the last residual stage,
# and so on down to the first convolution, keeping the layers below as trained
# {cite}`adebayo2018sanity`. After each step every map is recomputed and compared with the trained
# model's map by rank correlation $\rho$. A map that explains the *model* must change: when the
# whole network is random, its map should keep little of its ranking.
#
# **The rule, fixed before the first run.** We call a method *sensitive to the weights* when the
# mean $\rho$ between its trained and its fully randomised map is below
# {glue:text}`rho_limit` with the shared verdict rule (per explained image, and over the seeds):
# a map that keeps half of its rank order or more under random weights is mostly a picture of the
# input. Each method is a scorecard statement of its own (O-OL2-a to e).

# %%
LAYERS = ["fc", "backbone.layer4", "backbone.layer3", "backbone.layer2",
          "backbone.layer1", "backbone.conv1"]
rho = {s: {k: [] for k in METHODS} for s in models}
for s, model in models.items():
    for layer, randomised in sal.cascading_randomization(model, LAYERS, seed=s):
        for k, f in METHODS.items():
            rho[s][k].append(sal.rank_correlation(maps[s][k],
                                                  f(randomised, x_explain, predicted[s])))
curve = pd.DataFrame({k: [np.mean([rho[s][k][j] for s in models])
                          for j in range(len(LAYERS))] for k in METHODS},
                     index=[f"… + {n}" if j else n for j, n in enumerate(LAYERS)])
curve.round(3)

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
for k in METHODS:
    axes[0].plot(range(len(LAYERS)), curve[k], marker="o", label=k)
axes[0].axhline(cfg["rho_limit"], color="grey", ls="--", label="insensitive above")
axes[0].set_xticks(range(len(LAYERS)), LAYERS, rotation=30, ha="right")
axes[0].set(xlabel="randomised down to", ylabel="rank correlation with the trained map",
            title="cascading randomisation", ylim=(-0.5, 1.05))
axes[0].legend(fontsize=8)
axes[1].barh(list(edge_rho), list(edge_rho.values()), color="tab:grey")
axes[1].set(xlabel="rank correlation with the Sobel edge map",
            title="how edge-like each map is")
plt.show()

# %% [markdown]
# The same image under the cascade: the trained model, the model randomised from the output down
# to `layer3`, and the fully random model. Which maps still show the image's structures when
# nothing learned is left?

# %%
model0 = models[s0]
columns = {"trained": model0}
for layer, randomised in sal.cascading_randomization(model0, LAYERS, seed=s0):
    if layer == "backbone.layer3":  # keep a copy of these two stages of the cascade
        columns["random down to layer3"] = copy.deepcopy(randomised)
    if layer == LAYERS[-1]:
        columns["all random"] = copy.deepcopy(randomised)
one = x_explain[i0:i0 + 1]
fig, axes = plt.subplots(len(METHODS), 3, figsize=(8, 2.6 * len(METHODS)),
                         layout="constrained")
for r, (k, f) in enumerate(METHODS.items()):
    for c, (col, m) in enumerate(columns.items()):
        im = axes[r, c].imshow(f(m, one, predicted[s0][i0:i0 + 1])[0], cmap="magma")
        axes[r, c].set(xticks=[], yticks=[], title=col if r == 0 else "")
        fig.colorbar(im, ax=axes[r, c], shrink=0.8, label="importance")
    axes[r, 0].set_ylabel(k)
plt.show()

# %% [markdown]
# ### Which methods pass
# The verdict per method, on the maps of the fully randomised model:

# %%
STATEMENT = {"gradient": "O-OL2-a", "guided backprop": "O-OL2-b",
             "integrated gradients": "O-OL2-c", "Grad-CAM": "O-OL2-d",
             "occlusion": "O-OL2-e"}
verdicts, rows = {}, {}
for k, sid in STATEMENT.items():
    final = np.stack([rho[s][k][-1] for s in models])          # (seeds, images)
    v = report.compare(final, np.full_like(final, cfg["rho_limit"]),
                       higher_is_better=False,
                       what=f"{cfg['rho_limit']} − rank correlation, {k}")
    verdicts[k] = v
    report.claim(sid, v, evidence=f"{k}: trained vs fully randomised ResNet-18 maps on "
                 f"{len(pick)} BreastMNIST test images, {len(models)} seed(s)")
    key = k.replace(" ", "_").replace("-", "_").lower()
    report.glue_verdict(f"v_{key}", v)
    rows[k] = {"rho (trained vs random)": float(np.mean(final)),
               "rho with edges": edge_rho[k], "verdict": v.status}
table = pd.DataFrame(rows).T
for column in ("rho (trained vs random)", "rho with edges"):
    table[column] = table[column].astype(float).round(3)
passed = [k for k, v in verdicts.items() if v.status == "reproduced"]
failed = [k for k, v in verdicts.items() if v.status == "not reproduced"]
report.glue("passed", ", ".join(passed) or "none")
report.glue("failed", ", ".join(failed) or "none")
undecided = [k for k in verdicts if k not in passed + failed]
report.glue("undecided", ", ".join(undecided) or "none")
numbers = {k: {c: r[c] for c in r if c != "verdict"} for k, r in rows.items()}
report.record("ch5_outlook/02_interpretability_sanity_checks",
              {"classifier": numbers, "test AUC": test_auc})
table

# %% [markdown]
# Sensitive to the weights (the map changes when they are randomised): **{glue:text}`passed`**.
# Insensitive (the map of a random network keeps its ranking): **{glue:text}`failed`**.
# Undecided at this sample size: **{glue:text}`undecided`**. For example, guided
# backpropagation: effect {glue:text}`v_guided_backprop_effect:+.3f`
# [{glue:text}`v_guided_backprop_lo:+.3f`, {glue:text}`v_guided_backprop_hi:+.3f`],
# {glue:text}`v_guided_backprop_status`; integrated gradients:
# {glue:text}`v_integrated_gradients_effect:+.3f` [{glue:text}`v_integrated_gradients_lo:+.3f`,
# {glue:text}`v_integrated_gradients_hi:+.3f`], {glue:text}`v_integrated_gradients_status`
# (a positive effect means the mean $\rho$ lies below the limit). Is a method whose map survives
# random weights also the most edge-like? Compare the two columns of the table.

# %% [markdown]
# ## 4. A segmenter: is the saliency on the hippocampus?
# For segmentation the usual check is that the saliency of the structure's score falls inside (a
# dilated copy of) the structure's label. We train chapter 3.2's 2D U-Net on MSD Task04 slices
# ({glue:text}`seg_steps` steps) and explain, for {glue:text}`n_slices` test slices that contain
# hippocampus, the mean foreground probability inside the true label (`sal.RegionScore` turns the
# segmenter into a one-output model for the same map functions). Guided backpropagation needs
# ReLUs and MONAI's U-Net uses PReLU, so it is left out here; Grad-CAM needs a single feature layer
# at the output's resolution, which a U-Net's skip connections do not have.

# %%
hip = seg.hippocampus_split()
x_tr, y_tr = seg.slice_stack(hip.train, axes=(0,), drop_empty=0.7, seed=0)
x_te, y_te = seg.slice_stack(hip.test, axes=(0,), drop_empty=1.0, seed=0)
rt.seed_everything(0)
segmenter = seg.unet(channels=cfg["seg_width"])
loader = DataLoader(TensorDataset(x_tr, y_tr), batch_size=cfg["seg_batch"], shuffle=True,
                    drop_last=True, generator=torch.Generator().manual_seed(0))
seg_history = fit(segmenter, loader, seg.make_loss("dicece"), steps=cfg["seg_steps"],
                  lr=5e-3, desc="2D U-Net")
segmenter.eval()
chosen = rt.cases(torch.randperm(len(x_te), generator=torch.Generator().manual_seed(0))
                  [:cfg["n_slices"]].tolist())
xs, ys = x_te[chosen], y_te[chosen]
with torch.no_grad():
    found = segmenter(xs).argmax(1) > 0
truth = ys > 0
slice_dice = (2 * (found & truth).sum((1, 2)) / (found.sum((1, 2)) + truth.sum((1, 2)))
              .clamp_min(1)).float()
report.glue("seg_slice_dice", float(slice_dice.mean()))
report.check(float(slice_dice.mean()) > 0.5,
             "the segmenter finds the hippocampus (Dice > 0.5)")

# %% [markdown]
# Mean Dice of the explained test slices (whole hippocampus): {glue:text}`seg_slice_dice:.3f`.
# Now the maps, for the trained segmenter and for the same network with every weight randomised:

# %%
SEG_METHODS = {
    "gradient": sal.gradient,
    "integrated gradients": lambda m, x, t: sal.integrated_gradients(
        m, x, t, steps=cfg["ig_steps"]),
    "occlusion": lambda m, x, t: sal.occlusion(m, x, t, mask_size=cfg["occlusion_mask"],
                                               outputs_probabilities=True),
}
region = truth.float()[:, None]


def explain(net):
    """Each method's map of the region score, one slice at a time (the region differs)."""
    out = {k: [] for k in SEG_METHODS}
    for i in range(len(xs)):
        scorer = sal.RegionScore(net, region[i:i + 1]).eval()
        for k, f in SEG_METHODS.items():
            out[k].append(f(scorer, xs[i:i + 1], [0])[0])
    return {k: np.stack(v) for k, v in out.items()}


*_, (_, random_segmenter) = sal.cascading_randomization(
    segmenter, [name for name, _ in segmenter.named_children()])
seg_maps = {"trained": explain(segmenter), "random weights": explain(random_segmenter)}
ring = np.stack([ndimage.binary_dilation(t, iterations=cfg["ring_mm"])
                 for t in truth.numpy()])
area_share = ring.reshape(len(ring), -1).mean(1)
inside = {(w, k): sal.mass_inside(m, ring)
          for w, ms in seg_maps.items() for k, m in ms.items()}
seg_table = pd.DataFrame({
    k: {"share inside, trained": np.nanmean(inside[("trained", k)]),
        "share inside, random weights": np.nanmean(inside[("random weights", k)]),
        "share of the area": float(area_share.mean()),
        "rho trained vs random": float(np.mean(sal.rank_correlation(
            seg_maps["trained"][k], seg_maps["random weights"][k])))}
    for k in SEG_METHODS}).T
report.glue("area_share", float(area_share.mean()))
for who, key in (("trained", "inside_grad_trained"),
                 ("random weights", "inside_grad_random")):
    report.glue(key, float(np.nanmean(inside[(who, "gradient")])))
seg_table.round(3)

# %%
j = int(np.argmax(truth.sum((1, 2)).numpy()))
fig, axes = plt.subplots(2, 3, figsize=(9, 6.4), layout="constrained")
for r, who in enumerate(seg_maps):
    for c, k in enumerate(SEG_METHODS):
        im = axes[r, c].imshow(seg_maps[who][k][j].T, cmap="magma", origin="lower")
        axes[r, c].contour(ring[j].T, levels=[0.5], colors="cyan", linewidths=0.8)
        axes[r, c].set(title=k if r == 0 else "", xticks=[], yticks=[])
        fig.colorbar(im, ax=axes[r, c], shrink=0.8, label="importance")
    axes[r, 0].set_ylabel(who)
plt.show()

# %% [markdown]
# The cyan line is the hippocampus label dilated by {glue:text}`ring_mm` voxels. The dilated label
# covers {glue:text}`area_share:.3f` of the slice; the trained segmenter's gradient puts
# {glue:text}`inside_grad_trained:.3f` of its importance inside it, the randomly initialised
# network's gradient {glue:text}`inside_grad_random:.3f`.
#
# The statement tested (O-OL2-f): *the trained segmenter's saliency is more concentrated on the
# hippocampus than that of the same network with random weights* (per slice, gradient maps,
# margin $0$). If a random network concentrates its saliency just as well, "the map lies on the
# organ" says something about receptive fields and the region the score is defined on, not about
# what the network learned.

# %%
v_seg = report.compare(inside[("trained", "gradient")],
                       inside[("random weights", "gradient")],
                       what="share of gradient importance inside the dilated label, "
                            "trained − random weights")
report.claim("O-OL2-f", v_seg,
             evidence=f"{len(chosen)} MSD Task04 test slices, 2D U-Net, gradient of the "
             "mean foreground probability inside the label")
report.glue_verdict("v_seg", v_seg)
seg_numbers = {k: {c: float(r[c]) for c in r.index} for k, r in seg_table.iterrows()}
report.record("ch5_outlook/02_interpretability_sanity_checks",
              {"segmenter": seg_numbers,
               "segmenter slice Dice": float(slice_dice.mean())})

# %% [markdown]
# Trained minus random share inside: {glue:text}`v_seg_effect:+.3f`
# [{glue:text}`v_seg_lo:+.3f`, {glue:text}`v_seg_hi:+.3f`]: **{glue:text}`v_seg_status`**.
# Read it together with the table: a check that a random network passes as well as (or better
# than) the trained one cannot certify an explanation.

# %% [markdown]
# ## Exercises
# 1. Replace the blank baseline $x_0 = 0$ of integrated gradients by a blurred copy of the image
#    (`scipy.ndimage.gaussian_filter`, $\sigma = 3$ pixels). Does its rank correlation with the
#    edge map drop?
# 2. Run the randomisation test for one method with the *independent* variant: randomise one
#    layer at a time and keep the others trained. Which layer does the Grad-CAM depend on most?
# 3. Compute the segmenter's share-inside check with the *predicted* label instead of the true one.
#    Does the trained network pass it better than the random one then?

# %% tags=["solution", "hide-cell"]
# Solution 1: integrated gradients from a blurred baseline instead of a black image.
blurred = torch.as_tensor(ndimage.gaussian_filter(x_explain.numpy(), sigma=(0, 0, 3, 3)))
ig_blur = np.stack([
    sal.integrated_gradients(models[s0], x_explain[i:i + 1], predicted[s0][i:i + 1],
                             steps=cfg["ig_steps"], baseline=blurred[i:i + 1])[0]
    for i in range(len(x_explain))])
rho_black = np.mean(sal.rank_correlation(maps[s0]["integrated gradients"], edges))
rho_blur = np.mean(sal.rank_correlation(ig_blur, edges))
report.glue("sol1_rho_black", float(rho_black))
report.glue("sol1_rho_blur", float(rho_blur))
print(f"rank correlation with the edge map: black baseline {rho_black:.3f}, "
      f"blurred baseline {rho_blur:.3f}")

# %% tags=["solution", "hide-cell"]
# Solution 2: independent randomisation, one layer at a time, Grad-CAM of seed 0.
independent = {}
for layer in LAYERS:
    (_, one_layer), = sal.cascading_randomization(models[s0], [layer], seed=s0)
    independent[layer] = float(np.mean(sal.rank_correlation(
        maps[s0]["Grad-CAM"], METHODS["Grad-CAM"](one_layer, x_explain, predicted[s0]))))
most = min(independent, key=independent.get)
report.glue("sol2_layer", most)
pd.Series(independent, name="Grad-CAM rho, only this layer randomised").round(3)

# %% tags=["solution", "hide-cell"]
# Solution 3: the share-inside check with the predicted label as the region.
pred_ring = np.stack([ndimage.binary_dilation(f, iterations=cfg["ring_mm"])
                      for f in found.numpy()])
shares = {}
for who, net in (("trained", segmenter), ("random weights", random_segmenter)):
    g = np.stack([
        sal.gradient(sal.RegionScore(net, found.float()[i:i + 1, None]).eval(),
                     xs[i:i + 1], [0])[0] if found[i].any() else np.zeros(xs.shape[-2:])
        for i in range(len(xs))])
    shares[who] = float(np.nanmean(sal.mass_inside(g, pred_ring)))
print({k: round(v, 3) for k, v in shares.items()})

# %% [markdown]
# ## Summary
# Five saliency methods explained one trained classifier, and the cascading randomisation test
# sorted them: sensitive to the learned weights, **{glue:text}`passed`**; insensitive,
# **{glue:text}`failed`**; undecided, **{glue:text}`undecided`**. For the segmenter, the statement
# that training concentrates the saliency on the organ came out {glue:text}`v_seg_status`: the
# randomly initialised network's gradient put {glue:text}`inside_grad_random:.3f` of its
# importance inside the dilated label against {glue:text}`inside_grad_trained:.3f` for the
# trained one. The survey asks for interpretable markers; this lab shows the first thing to ask of
# any map offered as one: would it look the same if the model had learned nothing?
