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
# # 3.1a Registration: classical baselines and supervised rigid regression
#
# *Survey §3.1 and Table 1* {cite}`wang2020survey`; rigid regression {cite}`ref58`; the ANTs
# example slices {cite}`avants2011ants`
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/corelib-book/medimg-dl-companion/blob/main/notebooks/ch3_1_registration/01_classical_and_rigid.ipynb)
#
# Registration finds the spatial transform that brings a *moving* image onto a *fixed* one. The
# survey's §3.1 starts where the field started: iterative methods that optimise a similarity
# measure for every new pair, then networks that *predict* the transform in one forward pass.
# This notebook builds the classical baselines everything else in the chapter is compared with,
# and the first learned method of Table 1: a CNN that regresses the parameters of a rigid
# transform, trained on simulated pairs {cite}`ref58`.
#
# **What you will learn**
# - the displacement-field convention used throughout the chapter, and how to check it;
# - multi-resolution rigid/affine registration and diffeomorphic demons with SimpleITK, timed;
# - target registration error (TRE) on pairs whose true transform is known;
# - supervised rigid registration: train a CNN on simulated transforms, test it on real pairs;
# - how to read a deformation grid and a Jacobian-determinant map.

# %% tags=["remove-cell"]
import subprocess
import sys

REPO = "git+https://github.com/corelib-book/medimg-dl-companion"
DATA_PACKAGES = "mricron-data invesalius-examples insighttoolkit5-examples"
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
import torch.nn.functional as F

import corelib.data as data
import corelib.registration as reg
from corelib import metrics, report, runtime as rt, train, viz
from corelib.registration.plots import deformation_grid, jacobian_map

report.set_notebook("ch3_1_registration/01_classical_and_rigid")
card = rt.run_card(seed=0, datasets=["itk_examples", "ants_slices"])
cfg = rt.pick(quick=dict(steps=300, batch=32, width=16, n_val=32, n_test=12),
              full=dict(steps=3000, batch=64, width=32, n_val=64, n_test=64),
              smoke=dict(batch=2))  # a smoke run only executes the code path
for key in ("steps", "batch", "n_test"):
    report.glue(f"cfg_{key}", cfg[key])
cfg

# %% [markdown]
# ## 1. The convention, and pairs with a known answer
# Everywhere in this chapter a displacement field `u` has one channel per array axis (rows, then
# columns), in pixels, and the warped moving image is `warped(x) = moving(x + u(x))`: the field
# lives on the fixed image's grid and points into the moving image. SimpleITK transforms, MONAI's
# `Warp` and `corelib.metrics.jacobian_determinant` are all used in this convention (the unit
# tests check an identity field and a known translation through each of them).
#
# ITK ships a proton-density BrainWeb slice {cite}`cocosco1997brainweb` and copies of it moved by
# known transforms: shifted by `(13, 17)` pixels, rotated by `10°` about the image centre, and
# both.

# %%
pairs = data.load_registration_slices()
names = ["shift", "rotation", "rigid"]
truth = {}
for n in names:
    t = pairs[n]["transform"]
    tx, ty = t["translation"]  # ITK's (x = column, y = row)
    # (angle, row, col)
    truth[n] = torch.tensor([[t["rotation_deg"], ty, tx]], dtype=torch.float64)
fixed_full = pairs["shift"]["fixed"].array
shape_full = fixed_full.shape
brain = fixed_full > 20  # TRE is averaged over the head, not the empty canvas
images = [fixed_full] + [pairs[n]["moving"].array for n in names]
fig = viz.show_grid(images, titles=["fixed (PD)"] + [f"moving: {n}" for n in names],
                    window=(0, 255), colorbar=True, ncols=4)
plt.show()


# %%
def tre(disp: np.ndarray, true_disp: np.ndarray) -> float:
    """Mean distance (pixels = mm) of estimated and true mapped points over the head."""
    return float(np.linalg.norm(disp - true_disp, axis=0)[brain].mean())


true_disp = {n: reg.rigid_displacement(truth[n], shape_full)[0].numpy() for n in names}
print({n: f"TRE of no registration {tre(np.zeros_like(d), d):.1f} mm"
       for n, d in true_disp.items()})

# %% [markdown]
# ## 2. Classical rigid registration (RG0)
# Multi-resolution (shrink `4, 2, 1`), moments initialisation, mean squares, regular-step
# gradient descent. This is what one would run in practice, and its error is the bar for the
# network.

# %%
classical = {}
for n in names:
    res = reg.affine_register(fixed_full, pairs[n]["moving"].array, kind="rigid")
    classical[n] = res
    print(f"{n:9s} TRE {tre(res.displacement, true_disp[n]):.2f} mm in "
          f"{res.seconds * 1e3:.0f} ms ({res.iterations} iterations)")

# %% [markdown]
# ## 3. Supervised rigid registration: a CNN regresses the transform (RG2)
# Miao et al. {cite}`ref58` trained a CNN on pairs made by transforming an image with known
# parameters, so that the labels are free. We do the same with the fixed PD slice: random
# rotations ($\pm 15°$) and shifts ($\pm 20$ pixels), a little noise, and a small CNN that sees
# the pair downsampled $4\times$ ($64 \times 56$) and outputs (angle, row shift, column shift). The loss is the mean
# squared error of the parameters, each divided by its range. Training and validation use
# different random transforms; the test is the three real ITK pairs above.
#
# To fit the CPU budget, the training pairs are warped at half resolution (the network sees
# them at a quarter anyway); validation and test pairs are warped at full resolution, like the
# real pairs, so that a difference between the two would show in the validation loss.
#
# The limitation is plain: one image is the whole "anatomy" the network ever sees. It learns to
# register *this* slice, which is the setting of the paper (one implant model, many poses).

# %%
rt.seed_everything(0)
pad = lambda a: reg.pad_or_crop(a, (256, 224))  # noqa: E731  (divisible by the strides)
fixed_t = torch.from_numpy(fixed_full / 255.0).float()[None, None]
fixed_pad = torch.from_numpy(pad(fixed_full / 255.0)).float()[None, None]
fixed_half = F.avg_pool2d(fixed_pad, 2)
limits = torch.tensor([15.0, 20.0, 20.0])


def to_input(moving: torch.Tensor) -> torch.Tensor:
    """(n, 1, H, W) moving images at full size -> (n, 2, 64, 56) input (moving, fixed)."""
    pair = torch.cat([moving, fixed_t.expand(len(moving), -1, -1, -1)], dim=1)
    pair = torch.from_numpy(np.stack([[pad(c) for c in p] for p in pair.numpy()]))
    return F.avg_pool2d(pair, 4)


def random_params(n: int, seed: int, lim: torch.Tensor) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, 3, generator=g) * 2 - 1) * lim


def simulate(n: int, seed: int, lim: torch.Tensor = limits):
    """Random rigid transforms of the fixed slice: moving (n, 1, H, W), params (n, 3)."""
    params = random_params(n, seed, lim)
    # the registration field maps fixed -> moving points: the moving image is the inverse
    disp = reg.rigid_displacement(reg.rigid_inverse(params), shape_full).float()
    moving = reg.warp_tensor(fixed_t.expand(n, -1, -1, -1), disp, padding_mode="zeros")
    noise = torch.randn(moving.shape, generator=torch.Generator().manual_seed(seed + 1))
    return moving + 0.02 * noise, params


def simulate_input(n: int, seed: int, lim: torch.Tensor = limits):
    """Like ``to_input(simulate(...))``, warped at half resolution: (input, params)."""
    params = random_params(n, seed, lim)
    half = reg.rigid_inverse(params) * torch.tensor([1.0, 0.5, 0.5])  # half-pixel shifts
    disp = reg.rigid_displacement(half, fixed_half.shape[2:]).float()
    moving = reg.warp_tensor(fixed_half.expand(n, -1, -1, -1), disp, padding_mode="zeros")
    noise = torch.randn(moving.shape, generator=torch.Generator().manual_seed(seed + 1))
    moving = moving + 0.01 * noise  # 0.02 at full resolution, averaged over 2x2 pixels
    pair = torch.cat([moving, fixed_half.expand(n, -1, -1, -1)], dim=1)
    return F.avg_pool2d(pair, 2), params


val_moving, val_params = simulate(cfg["n_val"], seed=10_000)
test_moving, test_params = simulate(cfg["n_test"], seed=20_000)
val_x = to_input(val_moving)


def make_batch_fn(lim: torch.Tensor):
    def batch_fn(model, step, device):
        x, p = simulate_input(cfg["batch"], seed=int(step), lim=lim)
        lim_d = lim.to(device)
        return F.mse_loss(model(x.to(device)) / lim_d, p.to(device) / lim_d)
    return batch_fn


def val_fn(model):
    pred = model(val_x.to(next(model.parameters()).device)).cpu()
    return {"val_loss": float(F.mse_loss(pred / limits, val_params / limits)),
            "angle_err_deg": float((pred[:, 0] - val_params[:, 0]).abs().mean())}


model = reg.RigidRegressor(width=cfg["width"])
hist = train.fit(model, range(cfg["steps"]), None, batch_fn=make_batch_fn(limits),
                 steps=cfg["steps"], lr=2e-3, val_fn=val_fn,
                 val_every=max(1, cfg["steps"] // 10), desc="rigid regressor")
fig = viz.plot_history(hist)
plt.show()

# %% [markdown]
# Evaluation. On held-out simulated pairs the TRE is computed from the dense fields of the true
# and predicted parameters at full resolution. On the real ITK pairs the network sees the same
# kind of input (downsampled pair) and is timed per pair; the classical registration is timed as
# well.

# %%
model = model.cpu().eval()


def field(params: torch.Tensor) -> np.ndarray:
    return reg.rigid_displacement(params.double(), shape_full).numpy()


def predict(moving: np.ndarray) -> tuple[torch.Tensor, float]:
    """The CNN's parameters for one real moving image (0..255) and the seconds it took."""
    x = to_input(torch.from_numpy(moving / 255.0).float()[None, None])
    with torch.no_grad():
        t0 = time.perf_counter()
        p = model(x)
        return p, time.perf_counter() - t0


with torch.no_grad():
    pred_test = model(to_input(test_moving))
sim = {"CNN regressor (RG2)": [], "SimpleITK rigid (RG0)": [], "none": []}
for i in rt.cases(range(len(test_params))):
    d_true = field(test_params[i:i + 1])[0]
    sim["CNN regressor (RG2)"].append(tre(field(pred_test[i:i + 1])[0], d_true))
    res = reg.affine_register(fixed_full / 255.0, test_moving[i, 0].numpy(), kind="rigid")
    sim["SimpleITK rigid (RG0)"].append(tre(res.displacement, d_true))
    sim["none"].append(tre(np.zeros_like(d_true), d_true))
sim = {k: np.array(v) for k, v in sim.items()}
fail = {k: int(np.sum(v > 5)) for k, v in sim.items()}
print({k: f"held-out simulated TRE {v.mean():.2f} mm, {fail[k]} of {len(v)} pairs > 5 mm"
       for k, v in sim.items()})

rows = []
for n in names:
    p, sec = predict(pairs[n]["moving"].array)
    rows.append({"pair": n, "method": "CNN regressor (RG2)",
                 "TRE (mm)": tre(field(p)[0], true_disp[n]),
                 "time per pair (ms)": sec * 1e3,
                 "params (deg, row, col)": np.round(p[0].numpy(), 1).tolist()})
    rows.append({"pair": n, "method": "SimpleITK rigid (RG0)",
                 "TRE (mm)": tre(classical[n].displacement, true_disp[n]),
                 "time per pair (ms)": classical[n].seconds * 1e3,
                 "params (deg, row, col)": None})
    rows.append({"pair": n, "method": "none",
                 "TRE (mm)": tre(np.zeros_like(true_disp[n]), true_disp[n]),
                 "time per pair (ms)": 0.0,
                 "params (deg, row, col)": truth[n][0].tolist()})
table = pd.DataFrame(rows)
table.round(2)

# %% [markdown]
# The comparison figure for the hardest pair (rotation and shift): the moving image warped by
# each method, and the absolute difference to the fixed image on one colour scale.

# %%
n = "rigid"
p_rigid, _ = predict(pairs[n]["moving"].array)
warped_cnn = reg.warp(pairs[n]["moving"].array, field(p_rigid)[0])
warped_itk = reg.warp(pairs[n]["moving"].array, classical[n].displacement)
fig = viz.compare_with_errors(fixed_full,
                              {"moving (no registration)": pairs[n]["moving"].array,
                               "SimpleITK rigid": warped_itk,
                               "CNN regressor": warped_cnn},
                              window=(0, 255), reference_title="fixed")
plt.show()

# %% [markdown]
# ## 4. Deformable registration between two subjects (RG0)
# Rigid transforms cannot match two different brains. The ANTs example slices
# {cite}`avants2011ants` are axial slices of different subjects. The deformable baseline of this
# chapter is an affine registration followed by multi-resolution diffeomorphic demons
# (SimpleITK; the moving image is histogram-matched to the fixed one, the field smoothed with a
# Gaussian at every iteration). It is a method a practitioner would run, not a strawman, and its
# time per pair on this CPU is the reference for the learned methods of the next notebooks.

# %%
fixed_b = data.load_ants_slice("r16").array / 255.0
moving_b = data.load_ants_slice("r64").array / 255.0
aff = reg.affine_register(fixed_b, moving_b, kind="affine")
dem = reg.affine_then_demons(fixed_b, moving_b)
head_b = fixed_b > 0.05
mae = lambda w: float(np.abs(w - fixed_b)[head_b].mean())  # noqa: E731
print(f"mean |difference| in the head: none {mae(moving_b):.3f}, "
      f"affine {mae(aff.warped):.3f} ({aff.seconds:.2f} s), "
      f"affine + demons {mae(dem.warped):.3f} ({dem.seconds:.2f} s)")
print(f"folding (det J <= 0): affine {metrics.folding_fraction(aff.displacement):.2%}, "
      f"demons {metrics.folding_fraction(dem.displacement):.2%}")

# %%
fig = viz.compare_with_errors(fixed_b, {"moving r64": moving_b, "affine": aff.warped,
                                        "affine + demons": dem.warped}, window=(0, 1),
                              reference_title="fixed r16")
plt.show()

# %% [markdown]
# The deformation itself: a grid carried by `x -> x + u(x)` (every 6th line) and the Jacobian
# determinant, the local volume change (blue: shrinks, red: grows; a value `<= 0` would mean the
# map folds space over itself and is outlined in black).

# %%
fig, axes = plt.subplots(1, 3, figsize=(15, 4.8))
axes[0].imshow(fixed_b, cmap="gray", vmin=0, vmax=1)
deformation_grid(axes[0], dem.displacement - aff.displacement, step=6, color="C1",
                 title="demons part of the field (affine removed)")
deformation_grid(axes[1], dem.displacement, step=6, title="whole field (affine + demons)")
im = jacobian_map(axes[2], dem.displacement)
fig.colorbar(im, ax=axes[2], label="det J")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 5. Results and checks
# One table: TRE per real pair and on the held-out simulated pairs, with time per pair on this
# machine's CPU (the network's time is one forward pass on a batch of one).

# %%
sim_rows = [{"pair": "simulated (held out)", "method": k, "TRE (mm)": float(np.mean(v)),
             "time per pair (ms)": np.nan, "params (deg, row, col)": None}
            for k, v in sim.items()]
table = pd.concat([table, pd.DataFrame(sim_rows)], ignore_index=True)
table.round(2)

# %%
def tre_of(pair: str, method: str) -> float:
    return float(table.query("pair == @pair and method == @method")["TRE (mm)"].iloc[0])


def ms_of(method: str) -> np.ndarray:
    rows_ = table.query("method == @method and pair in @names")
    return rows_["time per pair (ms)"].to_numpy()


cnn_sim, itk_sim, none_sim = (tre_of("simulated (held out)", m) for m in
                              ["CNN regressor (RG2)", "SimpleITK rigid (RG0)", "none"])
real_cnn = np.array([tre_of(n, "CNN regressor (RG2)") for n in names])
real_itk = np.array([tre_of(n, "SimpleITK rigid (RG0)") for n in names])
real_none = np.array([tre_of(n, "none") for n in names])
report.check(cnn_sim < none_sim / 3,
             "the CNN cuts the TRE of no registration by 3x on held-out simulated pairs")
report.check(np.all(real_cnn < real_none),
             "the CNN beats no registration on every real pair")
report.check(np.all(real_itk < 1.5),
             "SimpleITK rigid is within 1.5 mm on every real pair")
report.check(mae(dem.warped) < mae(aff.warped),
             "affine + demons leaves a smaller difference in the head than affine")
glued = dict(itk_real_max=real_itk.max(), itk_real_mean=real_itk.mean(),
             cnn_real_max=real_cnn.max(), cnn_real_mean=real_cnn.mean(),
             none_real_min=real_none.min(),
             cnn_ms=np.median(ms_of("CNN regressor (RG2)")),
             itk_ms=np.median(ms_of("SimpleITK rigid (RG0)")),
             cnn_sim=cnn_sim, itk_sim=itk_sim, none_sim=none_sim,
             itk_fail=fail["SimpleITK rigid (RG0)"], cnn_fail=fail["CNN regressor (RG2)"],
             n_sim=len(sim["none"]), mae_aff=mae(aff.warped), mae_dem=mae(dem.warped),
             dem_s=dem.seconds, aff_s=aff.seconds,
             dem_fold=100 * metrics.folding_fraction(dem.displacement))
for key, value in glued.items():
    report.glue(key, value)
report.glue("cnn_vs_itk", "less" if real_cnn.mean() > real_itk.mean() else "not less")
report.headline("SimpleITK rigid, mean TRE on the ITK pairs", real_itk.mean(), unit="mm")
report.headline("CNN rigid regressor, mean TRE on the ITK pairs", real_cnn.mean(),
                unit="mm")
report.record({"TRE simulated mm": {"cnn": cnn_sim, "sitk_rigid": itk_sim,
                                    "none": none_sim},
               "TRE real mm": {n: {"cnn": c, "sitk_rigid": i}
                               for n, c, i in zip(names, real_cnn, real_itk)},
               "ants demons seconds": dem.seconds, "ants affine seconds": aff.seconds,
               "ants folding demons": metrics.folding_fraction(dem.displacement)})

# %% [markdown]
# **Reading the numbers.** The classical rigid registration ends within
# {glue:text}`itk_real_max:.2f` mm of the true transform on every ITK pair (mean
# {glue:text}`itk_real_mean:.2f` mm, from at least {glue:text}`none_real_min:.1f` mm without
# registration), in a median of {glue:text}`itk_ms:.0f` ms per pair. Part of the remaining error
# may be the rotation centre: our "ground truth" rotates about the image centre, and ITK's
# centre may differ from it by a pixel (how would you test that?). The CNN gets within
# {glue:text}`cnn_real_max:.2f` mm (mean {glue:text}`cnn_real_mean:.2f` mm) in one forward pass
# of a median {glue:text}`cnn_ms:.1f` ms; on these pairs it is {glue:text}`cnn_vs_itk` accurate
# than the optimiser. The survey reports that pattern for regression methods {cite}`ref58`: fast
# and robust initialisation, then refinement. Table 1 of the survey is continued in the next
# notebook with deformable, learned methods on real inter-subject pairs.
#
# On the {glue:text}`n_sim` held-out simulated pairs (rotations up to $15°$ plus noise) the mean
# TRE is {glue:text}`cnn_sim:.2f` mm for the CNN, {glue:text}`itk_sim:.2f` mm for SimpleITK and
# {glue:text}`none_sim:.2f` mm without registration; {glue:text}`itk_fail` SimpleITK runs and
# {glue:text}`cnn_fail` CNN predictions end above `5` mm. An optimiser started from a moments
# initialisation can stop in a wrong local optimum, and a single failure shows in the mean
# TRE; the regressor has no such failure mode inside its training range, and is useless outside
# it.
#
# Between the two ANTs subjects, affine leaves a mean difference of
# {glue:text}`mae_aff:.3f` in the head ({glue:text}`aff_s:.2f` s) and affine + demons
# {glue:text}`mae_dem:.3f` ({glue:text}`dem_s:.2f` s), with {glue:text}`dem_fold:.2f` % folded
# pixels.
#
# ## Exercises
# 1. Train the regressor with shifts up to $\pm 40$ pixels. Does the TRE on the ITK pairs change?
#    What limits the range a regressor can handle?
# 2. Use the CNN's prediction as the initial transform of `reg.affine_register`
#    (`initial=reg.euler_transform(params, shape)`). How many optimiser iterations does it save,
#    and does the TRE change?
# 3. Register the `similarity` pair (scale $1/1.2$) with `kind="rigid"` and `kind="similarity"`.
# 4. Run `reg.demons_register` with `diffeomorphic=False` and a small `sigma` on the ANTs slices
#    and look at the Jacobian map. Where does it fold?

# %% tags=["solution", "hide-cell"]
# Solution 1: a second regressor trained on shifts up to ±40 pixels (full profile only:
# it doubles the training time). The range is limited by the field of view (a 40-pixel
# shift moves part of the head off the 256x224 canvas), by the receptive field of the CNN
# at 64x56, and by what the training distribution covers: outside it the regressor
# extrapolates badly.
if rt.profile() == "full":
    wide = torch.tensor([15.0, 40.0, 40.0])
    rt.seed_everything(0)
    model40 = reg.RigidRegressor(width=cfg["width"])
    train.fit(model40, range(cfg["steps"]), None, batch_fn=make_batch_fn(wide),
              steps=cfg["steps"], lr=2e-3, desc="rigid regressor, ±40 px")
    model40 = model40.cpu().eval()
    for n in names:
        with torch.no_grad():
            mov = torch.from_numpy(pairs[n]["moving"].array / 255.0).float()[None, None]
            p40 = model40(to_input(mov))
        print(f"{n:9s} TRE ±20 px model {tre_of(n, 'CNN regressor (RG2)'):.2f} mm, "
              f"±40 px model {tre(field(p40)[0], true_disp[n]):.2f} mm")

# %% tags=["solution", "hide-cell"]
# Solution 2: start the optimiser from the CNN's transform instead of the moments.
for n in names:
    p, _ = predict(pairs[n]["moving"].array)
    start = reg.euler_transform(p[0].numpy(), shape_full)
    res = reg.affine_register(fixed_full, pairs[n]["moving"].array, kind="rigid",
                              initial=start)
    print(f"{n:9s} moments start: {classical[n].iterations} iterations, TRE "
          f"{tre(classical[n].displacement, true_disp[n]):.2f} mm; CNN start: "
          f"{res.iterations} iterations, "
          f"TRE {tre(res.displacement, true_disp[n]):.2f} mm")

# %% tags=["solution", "hide-cell"]
# Solution 3: a rigid transform cannot undo a scale; the similarity transform can.
mov_s = pairs["similarity"]["moving"].array
for kind in ("rigid", "similarity"):
    res = reg.affine_register(fixed_full, mov_s, kind=kind)
    diff = np.abs(res.warped - fixed_full)[brain].mean()
    print(f"{kind:10s} mean |difference| in the head {diff:.1f} (0..255), "
          f"{res.seconds:.2f} s")

# %% tags=["solution", "hide-cell"]
# Solution 4: plain demons with little smoothing may fold where the images disagree most;
# the map shows where (black outlines), and the count says how much.
plain_dem = reg.demons_register(fixed_b, moving_b, initial=aff.displacement,
                                diffeomorphic=False, sigma=0.5)
folded = metrics.folding_fraction(plain_dem.displacement)
print(f"plain demons, sigma 0.5: {folded:.2%} folded; diffeomorphic demons, sigma 1.5: "
      f"{metrics.folding_fraction(dem.displacement):.2%}")
fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
axes[0].imshow(fixed_b, cmap="gray", vmin=0, vmax=1)
deformation_grid(axes[0], plain_dem.displacement, step=6, title="plain demons, sigma 0.5")
im = jacobian_map(axes[1], plain_dem.displacement)
fig.colorbar(im, ax=axes[1], label="det J")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Summary
# A classical registration optimises each pair from scratch: accurate, and it takes tenths of a
# second on a 2D slice (minutes to hours on 3D brains). A CNN trained on simulated transforms
# predicts a rigid transform in one pass. The next notebook learns *deformable* registration.
