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
# # 2.1d SR architectures at a matched parameter budget
#
# *Survey §2.1.2* {cite}`wang2020survey`, methods {cite}`ref10,ref12,ref13,ref14,ref17`
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/corelib-book/medimg-dl-companion/blob/main/notebooks/ch2_1_restoration/04_sr_architectures.ipynb)
#
# The survey lists several MR super-resolution (SR) networks after the plain residual one: a
# context-sensitive residual network {cite}`ref12`, dense blocks with several branches
# {cite}`ref13`, a channel-splitting network with a residual and a dense branch {cite}`ref14`,
# and multi-scale global and local residual learning (MGLRL) {cite}`ref17`. Each paper reports
# that its design helps. A fair question is whether the *architecture* helps, or only more
# parameters and more training. Here all of them get the same parameter budget, the same data
# (the Colin27 T1 of the previous notebook, in-plane blur + downsample), the same patches, seed,
# steps and learning rate, and are compared on the same held-out slices.
#
# **What you will learn**
# - four SR building blocks: dilated context blocks, dense multi-branch blocks, channel
#   splitting, multi-scale blocks with local and global residuals;
# - how to match models by parameter count (`sr.width_for_budget`);
# - how to tell "better at the same budget" from one training run's noise.

# %% tags=["remove-cell"]
import subprocess
import sys

REPO = "git+https://github.com/corelib-book/medimg-dl-companion"
DATA_PACKAGES = "mricron-data"
if "google.colab" in sys.modules:
    subprocess.run(f"pip install -q 'corelib @ {REPO}'", shell=True, check=True)
    subprocess.run("apt-get -qq update && apt-get -qq install -y --no-install-recommends "
                   + DATA_PACKAGES, shell=True, check=True)

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from IPython.display import display

import corelib.data as data
from corelib import report, runtime as rt, viz
from corelib.restoration import superres as sr
from corelib.restoration.evaluate import (PairPatches, axial_slices, predict_slices,
                                          scale_intensity, slice_scores)
from corelib.train import fit

t_start = time.perf_counter()
report.set_notebook("ch2_1_restoration/04_sr_architectures")
card = rt.run_card(seed=0, datasets=["colin27"])
dev = rt.device()

# %% [markdown]
# One configuration cell. The budget is the parameter count of the residual SR network of the
# previous notebook's design with `ref_width` channels and `ref_depth` layers; every other network
# gets the width that brings it closest to that count, with `blocks` blocks each. All networks
# train for {glue:text}`cfg_steps` steps on {glue:text}`cfg_patch` x {glue:text}`cfg_patch`
# patches from {glue:text}`n_seeds` seed(s).

# %%
cfg = rt.pick(
    quick=dict(scale=2, patch=32, batch=8, ref_width=16, ref_depth=6, blocks=3, steps=800,
               lr=1e-3, seeds=(0,), train_z=range(150, 220, 2), val_z=range(228, 236, 4),
               test_z=range(244, 276, 4)),
    full=dict(scale=2, patch=96, batch=32, ref_width=64, ref_depth=12, blocks=6,
              steps=2000, lr=5e-4, seeds=(0, 1), train_z=range(60, 220),
              val_z=range(228, 236),
              test_z=range(244, 280, 2)),
    # a smoke run only executes the code path; full-width networks applied to whole slices
    # would take minutes on a CPU, so it keeps the full patches but the quick networks
    smoke=dict(batch=2, ref_width=16, ref_depth=6, blocks=3),
)
zs = {split: rt.cases(cfg[f"{split}_z"]) for split in ("train", "val", "test")}
seeds = rt.cases(cfg["seeds"], smoke_cases=1)
for key in ("patch", "scale", "steps", "blocks"):
    report.glue(f"cfg_{key}", cfg[key])
report.glue("n_seeds", len(seeds))
cfg

# %% [markdown]
# ## 1. Data: Colin27, blur + downsample, split by slab
# As in the previous notebook: the sub-millimetre Colin27 T1 (`ch2better`) scaled to `[0, 1]`,
# axial slices split by slab (train low, validation and test higher up, with gaps), and the LR
# image made by Gaussian blur and block averaging by the factor {glue:text}`cfg_scale`. Every
# network here works on the bicubic-upsampled LR image, so input and target share one grid and
# training uses aligned random patches with flips (`PairPatches`).

# %%
vol = scale_intensity(data.load_colin27("ch2better").array)
s = cfg["scale"]
rows, cols = slice(6, 294), slice(20, 356)  # 288 x 336, divisible by 2
hr = {split: axial_slices(vol, z, rows, cols) for split, z in zs.items()}
up = {split: sr.interpolate(np.stack([sr.blur_downsample(i, s) for i in x]), s, "bicubic")
      for split, x in hr.items()}
report.glue("n_test", len(hr["test"]))
print(f"axial slices {hr['train'].shape[1:]}; "
      f"train/val/test slices {len(hr['train'])}/{len(hr['val'])}/{len(hr['test'])}")

# %%
k = len(hr["test"]) // 2
fig, axes = plt.subplots(1, 2, figsize=(8, 4.2), layout="constrained")
for ax, (name, img) in zip(axes, {"HR (test slice)": hr["test"][k],
                                  "bicubic from LR": up["test"][k]}.items()):
    im = ax.imshow(img.T, cmap="gray", vmin=0, vmax=1, origin="lower")
    ax.set(title=name, xlabel="x (px)", ylabel="y (px)")
fig.colorbar(im, ax=axes, shrink=0.8, label="intensity (scaled)")
plt.show()

# %% [markdown]
# ## 2. Five networks at one parameter budget
# All five share a frame: a `3x3` head convolution, a body, a `3x3` tail convolution that starts
# at zero, and the global residual `y = x + f(x)` on the bicubic image, so each starts as bicubic.
# The bodies (each class's docstring says what is simplified against its paper):
# - **Residual SR** {cite}`ref10`, the reference: a plain stack of `3x3` convolutions + ReLU.
# - **Context SR** (SR3) {cite}`ref12`: residual blocks whose first convolution is dilated, with
#   the dilation doubling from block to block, so later blocks see more surrounding anatomy.
# - **Dense multi-branch SR** (SR4) {cite}`ref13`: densely connected layers, each with a `3x3` and a
#   dilated `3x3` branch, fused by a `1x1` convolution, with a local residual.
# - **Channel-split SR** (SR5) {cite}`ref14`: each block sends half of its feature maps through a
#   residual branch and half through a dense branch, then merges them.
# - **Multi-scale residual SR** (SR8, MGLRL) {cite}`ref17`: parallel `3x3` and `5x5` convolutions
#   with local residuals, plus a global feature residual from the head to the tail.

# %%
viz.show_source(sr.ChannelSplitSR)

# %%
budget = sr.count_parameters(sr.ResidualSR(2, cfg["ref_width"], cfg["ref_depth"]))
B = cfg["blocks"]
makers = {"Context SR (SR3)": lambda w: sr.ContextSR(w, B),
          "Dense multi-branch SR (SR4)": lambda w: sr.DenseBranchSR(w, B),
          "Channel-split SR (SR5)": lambda w: sr.ChannelSplitSR(w, B),
          "Multi-scale residual SR (SR8)": lambda w: sr.MultiScaleResidualSR(w, B)}
widths = {"Residual SR": cfg["ref_width"]}
widths.update({name: sr.width_for_budget(make, budget) for name, make in makers.items()})
makers = {"Residual SR": lambda w: sr.ResidualSR(2, w, cfg["ref_depth"]), **makers}
n_params = {name: sr.count_parameters(makers[name](w)) for name, w in widths.items()}
spread = max(abs(n / budget - 1) for n in n_params.values())
assert spread <= 0.1, n_params
report.glue("budget", budget)
report.glue("param_spread_pct", 100 * spread)
pd.DataFrame({"width": widths, "parameters": n_params})

# %% [markdown]
# Every network is within {glue:text}`param_spread_pct:.1f` % of the budget of
# {glue:text}`budget` parameters.
#
# ## 3. Training: one recipe for all
# L1 loss, Adam at the learning rate `lr`, the same patch stream (seeded), the same number of
# steps; validation PSNR on the validation slab keeps the best weights.

# %%
DR, CLIP = 1.0, (0.0, 1.2)


def scores(pred: np.ndarray, ref: np.ndarray) -> dict[str, np.ndarray]:
    """PSNR / SSIM per slice, data range 1 (scaled intensity), clipped to [0, 1.2]."""
    return slice_scores(pred, ref, DR, clip=CLIP)


def mean_psnr(pred: np.ndarray, ref: np.ndarray) -> float:
    return float(scores(pred, ref)["PSNR (dB)"].mean())


def predict(model: torch.nn.Module, x: np.ndarray) -> np.ndarray:
    return predict_slices(model, x, batch=4, device=dev)


def train(name: str, seed: int,
          width: int | None = None) -> tuple[torch.nn.Module, object]:
    """One network of ``makers`` at its matched width (or at ``width``), from ``seed``."""
    rt.seed_everything(seed)
    model = makers[name](widths[name] if width is None else width)
    patches = PairPatches(up["train"], hr["train"], cfg["patch"], seed=1 + seed)
    loader = torch.utils.data.DataLoader(patches, batch_size=cfg["batch"])

    def val_fn(m: torch.nn.Module) -> dict[str, float]:
        return {"psnr": float(mean_psnr(predict(m, up["val"]), hr["val"]))}

    hist = fit(model, loader, torch.nn.functional.l1_loss, steps=cfg["steps"],
               lr=cfg["lr"], val_fn=val_fn, val_every=max(1, cfg["steps"] // 5),
               monitor="psnr", mode="max", desc=f"{name}, seed {seed}")
    return model, hist


models, histories, train_s = {}, {}, {}
psnr_runs, ssim_runs, ms_slice = {}, {}, {}
for name in makers:
    p_runs, s_runs = [], []
    for seed in seeds:
        model, hist = train(name, seed)
        t0 = time.perf_counter()
        out = predict(model, up["test"])
        ms = 1000 * (time.perf_counter() - t0) / len(out)
        sc = scores(out, hr["test"])
        p_runs.append(sc["PSNR (dB)"])
        s_runs.append(sc["SSIM"])
        train_s.setdefault(name, []).append(hist.seconds)
        ms_slice.setdefault(name, []).append(ms)
        if seed == seeds[0]:
            models[name], histories[name] = model, hist
    psnr_runs[name], ssim_runs[name] = np.stack(p_runs), np.stack(s_runs)
viz.plot_histories(histories, ncols=3)
plt.show()

# %% [markdown]
# ## 4. Results on the held-out slab
# One row per network: parameters, training time (seconds, mean over seeds), inference time per
# test slice, and PSNR / SSIM averaged over the {glue:text}`n_test` held-out slices (and seeds).
# Bicubic is the floor.

# %%
bic = scores(up["test"], hr["test"])
table = pd.DataFrame({
    name: {"parameters": n_params[name], "width": widths[name],
           "train time (s)": float(np.mean(train_s[name])),
           "ms per slice": float(np.mean(ms_slice[name])),
           "PSNR (dB)": float(psnr_runs[name].mean()),
           "SSIM": float(ssim_runs[name].mean())} for name in makers}).T
table.loc["bicubic"] = [0, 0, 0.0, np.nan, float(bic["PSNR (dB)"].mean()),
                        float(bic["SSIM"].mean())]
table.index.name = "method"
display(table.round({"train time (s)": 1, "ms per slice": 0, "PSNR (dB)": 2, "SSIM": 4}))
best = max(makers, key=lambda n: psnr_runs[n].mean())
report.glue("best", best)
report.glue("best_psnr", float(psnr_runs[best].mean()))
report.glue("ref_psnr", float(psnr_runs["Residual SR"].mean()))
report.glue("bic_psnr", float(bic["PSNR (dB)"].mean()))

# %%
zoom = (110, 174, 110, 174)  # rows, columns of the displayed (rotated) slice
best_survey = max(list(makers)[1:], key=lambda n: psnr_runs[n].mean())
shown = {"bicubic": up["test"][k],
         **{name: predict(models[name], up["test"][k:k + 1])[0]
            for name in ("Residual SR", best_survey)}}
fig = viz.compare_with_errors(np.rot90(hr["test"][k]),
                              {n: np.rot90(o) for n, o in shown.items()},
                              window=(0.0, 1.0), zoom=zoom, reference_title="HR",
                              suptitle=f"in-plane x{s}, held-out axial slice "
                                       f"z={zs['test'][k]}: the reference and the best "
                                       "survey architecture")
plt.show()

# %% [markdown]
# ## 5. Does any survey architecture beat the plain residual SR at the same budget?
# Not one of the survey's numbered claims (the survey does not compare them), so the verdicts are
# recorded in this notebook's results, not on the scorecard. For each of the four, the effect is
# its per-slice PSNR minus the residual SR's on the same held-out slices, with margin $0$ (fixed
# before the run: "beats" means the bootstrap interval lies above zero; below zero means it loses;
# otherwise the comparison is inconclusive). The interval resamples slices and, where there are
# several, seeds; this run has {glue:text}`n_seeds` seed(s), and with one seed a verdict rests on a
# single training run per network, whose noise the interval does not see.

# %%
words = {"reproduced": "beats", "not reproduced": "loses to", "inconclusive": "ties with"}
verdicts = {}
for name in list(makers)[1:]:
    tag = name.split("(")[1].rstrip(")").lower()  # sr3, sr4, ...
    v = report.compare(psnr_runs[name], psnr_runs["Residual SR"], margin=0.0,
                       what=f"{name} − Residual SR, PSNR", unit="dB")
    verdicts[name] = v
    for attr in ("effect", "lo", "hi"):
        report.glue(f"v_{tag}_{attr}", getattr(v, attr))
    report.glue(f"v_{tag}_word", words[v.status])
    print(v.summary())
winners = [n for n, v in verdicts.items() if v.status == "reproduced"]
report.glue("n_winners", len(winners))
report.glue("winners", ", ".join(winners) if winners else "none")
report.record({"table": table.reset_index().to_dict("records"), "budget": budget,
               "seeds": list(seeds), "best": best,
               "vs_residual_sr": {n: v.to_dict() for n, v in verdicts.items()},
               "seconds": time.perf_counter() - t_start})
report.headline("best architecture − residual SR at matched budget, PSNR",
                max(v.effect for v in verdicts.values()), unit="dB")
_ = report.check(all(psnr_runs[n].mean() > bic["PSNR (dB)"].mean() for n in makers),
                 "every trained network must beat bicubic on the held-out slab")

# %% [markdown]
# At {glue:text}`budget` parameters, against the residual SR
# ({glue:text}`ref_psnr:.2f` dB; bicubic {glue:text}`bic_psnr:.2f` dB), PSNR effect with its
# bootstrap interval:
# - Context SR (SR3) {glue:text}`v_sr3_word` it: {glue:text}`v_sr3_effect:+.2f` dB
#   [{glue:text}`v_sr3_lo:+.2f`, {glue:text}`v_sr3_hi:+.2f`];
# - Dense multi-branch SR (SR4) {glue:text}`v_sr4_word` it: {glue:text}`v_sr4_effect:+.2f` dB
#   [{glue:text}`v_sr4_lo:+.2f`, {glue:text}`v_sr4_hi:+.2f`];
# - Channel-split SR (SR5) {glue:text}`v_sr5_word` it: {glue:text}`v_sr5_effect:+.2f` dB
#   [{glue:text}`v_sr5_lo:+.2f`, {glue:text}`v_sr5_hi:+.2f`];
# - Multi-scale residual SR (SR8) {glue:text}`v_sr8_word` it: {glue:text}`v_sr8_effect:+.2f` dB
#   [{glue:text}`v_sr8_lo:+.2f`, {glue:text}`v_sr8_hi:+.2f`].
#
# Networks that beat the residual SR at this budget: {glue:text}`winners`. The best mean PSNR
# was {glue:text}`best`'s ({glue:text}`best_psnr:.2f` dB). Compare the training and inference
# times in the table too: does one parameter count mean one cost, when branches,
# concatenations and wide `5x5` kernels run on the full high-resolution grid? The figure shows
# the residual SR beside the best of the four survey architectures on one held-out slice: where
# do their error maps differ?

# %% [markdown]
# ## Exercises
# 1. Double the budget (`ref_width` times $\sqrt{2}$) for all five. Does the ranking change?
# 2. Train the best network and the residual SR from two more seeds each and compare again with
#    `(runs, cases)` arrays. Does the verdict survive the seed noise?
# 3. Count the multiply-adds per output pixel of each network (forward hooks, as in the previous
#    notebook's last solution). Does the parameter count predict the time per slice?

# %% tags=["solution", "hide-cell"]
# Solution 1: trains five more networks, so it runs in the full profile only.
if rt.profile() == "full":
    big = sr.count_parameters(sr.ResidualSR(2, round(cfg["ref_width"] * 2 ** 0.5),
                                            cfg["ref_depth"]))
    rows_big = {}
    for name, make in makers.items():
        m, _ = train(name, seeds[0], sr.width_for_budget(make, big))
        rows_big[name] = mean_psnr(predict(m, up["test"]), hr["test"])
    display(pd.Series(rows_big, name=f"PSNR (dB) at {big} parameters").round(2))
else:
    print("Solution 1 trains five networks: it runs in the full profile only.")

# %% tags=["solution", "hide-cell"]
# Solution 2: two more seeds for the best network and the reference (full profile only).
if rt.profile() == "full":
    more = (100, 101)
    runs2 = {n: np.concatenate([psnr_runs[n], np.stack([
        scores(predict(train(n, sd)[0], up["test"]), hr["test"])["PSNR (dB)"]
        for sd in more])]) for n in {best, "Residual SR"}}
    if best != "Residual SR":
        print(report.compare(runs2[best], runs2["Residual SR"],
                             what=f"{best} − Residual SR", unit="dB").summary())
else:
    print("Solution 2 trains networks: it runs in the full profile only.")


# %% tags=["solution", "hide-cell"]
# Solution 3: multiply-adds per output pixel, from forward hooks on a 64 x 64 input.
def multiply_adds(model: torch.nn.Module, x: torch.Tensor) -> int:
    total = 0

    def hook(m: torch.nn.Module, inp: tuple, out: torch.Tensor) -> None:
        nonlocal total
        total += out.numel() * m.weight[0].numel()

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, torch.nn.Conv2d)]
    with torch.no_grad():
        model.cpu()(x)
    for h in handles:
        h.remove()
    return total


x64 = torch.zeros(1, 1, 64, 64)
cost = pd.DataFrame({"parameters": n_params,
                     "multiply-adds per pixel": {n: multiply_adds(m, x64) / 64 ** 2
                                                 for n, m in models.items()},
                     "ms per slice": table["ms per slice"].drop("bicubic")})
cost.round(0)

# %% [markdown]
# ## Summary
# Four of the survey's SR designs (context-sensitive residual, dense multi-branch, channel
# splitting, multi-scale global/local residual) were trained with one recipe at a budget of
# {glue:text}`budget` parameters beside the plain residual SR. On the held-out slab the best was
# {glue:text}`best` ({glue:text}`best_psnr:.2f` dB); {glue:text}`n_winners` of the four beat the
# residual SR by the book's rule ({glue:text}`winners`). The papers' gains were measured against
# other baselines, budgets and data; how much of a design's reported gain would survive a matched
# budget, one training recipe and an interval over the test slices and seeds?
