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
# # 1.2 Preprocessing: from scanner output to network input
#
# *Survey §1 and Fig. 1* {cite}`wang2020survey`
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/corelib-book/medimg-dl-companion/blob/main/notebooks/ch1_foundations/02_preprocessing.ipynb)
#
# Between acquisition and analysis the survey places preprocessing: registration, cropping to a
# region of interest, and (implicitly in every method it reviews) resampling and intensity
# normalisation. Networks are sensitive to all of them: a 3D convolution assumes equal spacing in
# every direction, and a network trained on one intensity range fails on another.
#
# **What you will learn**
# - to resample an anisotropic volume to isotropic spacing, and why labels need nearest-neighbour;
# - three intensity normalisations and what each does to images stored in different ranges;
# - CT windowing as a preprocessing step, cropping to a region of interest, skull stripping;
# - registration as preprocessing, checked against a known transform;
# - the same steps composed into one MONAI pipeline, and checked against the function Chapter 3.2
#   uses to prepare the hippocampus data.

# %% tags=["remove-cell"]
import subprocess
import sys

if "google.colab" in sys.modules:
    repo = "git+https://github.com/corelib-book/medimg-dl-companion"
    subprocess.run(f"pip install -q 'corelib @ {repo}'", shell=True, check=True)
    debs = "mricron-data invesalius-examples insighttoolkit5-examples"
    subprocess.run("apt-get -qq update && apt-get -qq install -y --no-install-recommends "
                   + debs, shell=True, check=True)

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import SimpleITK as sitk
from monai.transforms import (Compose, EnsureChannelFirstd, NormalizeIntensityd,
                              ResizeWithPadOrCropd)

import corelib.data as data
from corelib import report, runtime as rt, segmentation as seg, viz

report.set_notebook("ch1_foundations/02_preprocessing")
card = rt.run_card(seed=0, datasets=["dipy_samples", "colin27", "head_ct", "itk_examples",
                                     "msd_hippocampus"])

# %% [markdown]
# All sizes come from one cell: `size` is the MONAI pipeline's output size (the quick one crops,
# the full one only pads), `n_pipeline` how many hippocampus cases go through it. `PAD_3_2` is the
# size Chapter 3.2 pads every hippocampus case to.

# %%
cfg = rt.pick(
    quick=dict(size=(40, 56, 40), n_pipeline=16, colin_mm=1.0, iterations=300),
    full=dict(size=(48, 64, 48), n_pipeline=64, colin_mm=1.0, iterations=300),
)
PAD_3_2 = (48, 64, 48)
report.glue("size", " x ".join(map(str, cfg["size"])))
report.glue("n_pipeline", cfg["n_pipeline"])

# %% [markdown]
# ## 1. Resampling to isotropic spacing
# The dipy b0 volume has voxels of {glue:text}`b0_spacing` mm. Drawn in voxel units it looks
# squashed; resampled to isotropic voxels of its smallest spacing, {glue:text}`iso_mm:.2f` mm
# (linear interpolation), its shape is right and a 3D convolution's kernel covers the same
# distance in every direction.

# %%
b0 = data.load_dipy_sample("b0")
iso = data.resample_to_spacing(b0, min(b0.spacing), order=1)
print(f"before: {b0.shape} voxels of {tuple(round(s, 2) for s in b0.spacing)} mm")
print(f"after:  {iso.shape} voxels of {tuple(round(s, 2) for s in iso.spacing)} mm")
extent = lambda v: np.array(v.shape) * np.array(v.spacing)  # noqa: E731
print("field of view (mm) before/after:", extent(b0).round(1), extent(iso).round(1))
report.glue("b0_spacing", " x ".join(f"{s:.2f}" for s in b0.spacing))
report.glue("iso_mm", float(iso.spacing[0]))

# %%
mid = lambda v: np.rot90(np.take(v.array, v.shape[0] // 2, axis=0))  # noqa: E731
fig, axes = plt.subplots(1, 2, figsize=(9, 4))
lo, hi = np.percentile(b0.array, [1, 99.5])
for ax, v, title in [(axes[0], b0, "voxel grid as stored (aspect 1)"),
                     (axes[1], iso, "resampled to isotropic voxels")]:
    im = ax.imshow(mid(v), cmap="gray", vmin=lo, vmax=hi)
    ax.set_title(f"{title}\n{v.shape}")
    ax.set_xlabel("voxel index")
    ax.set_ylabel("voxel index")
fig.colorbar(im, ax=axes, fraction=0.03, label="signal (a.u.)")
plt.show()

# %% [markdown]
# **Labels are resampled with nearest neighbour** (`order=0`): linear interpolation would invent
# label values between classes (Exercise 1 counts them). Images are resampled linearly: the
# {glue:text}`colin_hi_mm:.1f` mm Colin27 (`ch2better`) downsampled to {glue:text}`colin_mm:.1f` mm
# lands on the grid of `ch2`, the same head scanned at that spacing (compare the shapes printed).

# %%
ch2, ch2better = data.load_colin27("ch2"), data.load_colin27("ch2better")
down = data.resample_to_spacing(ch2better, cfg["colin_mm"], order=1)
print(f"ch2better {ch2better.shape} at {ch2better.spacing} mm -> {down.shape} at "
      f"{down.spacing} mm; ch2 is {ch2.shape}")
report.glue("colin_hi_mm", float(max(ch2better.spacing)))
report.glue("colin_mm", cfg["colin_mm"])
k_hi, k_lo = ch2better.shape[2] // 2, down.shape[2] // 2
fig = viz.show_grid([np.rot90(ch2better.array[:, :, k_hi]),
                     np.rot90(down.array[:, :, k_lo])],
                    titles=["ch2better, as stored", f"resampled to {cfg['colin_mm']} mm"],
                    colorbar=True)
plt.show()

# %% [markdown]
# ## 2. Intensity normalisation
# MRI intensities have no physical unit, and the hippocampus data mixes two ranges:
# {glue:text}`n_byte_range` of the {glue:text}`n_cases` volumes stay within `0`–`255`, the others
# reach far above. A network trained on raw values would learn the storage range. Three common
# fixes: z-score ($\mu = 0$, $\sigma = 1$), min-max to $[0, 1]$, and percentile clipping (at
# `(0.5, 99.5)`) then $[0, 1]$.

# %%
cases = data.load_hippocampus()
maxima = np.array([c.image.array.max() for c in cases])
report.glue("n_cases", len(cases))
report.glue("n_byte_range", int((maxima <= 255).sum()))
low, high = cases[int(np.argmin(maxima))], cases[int(np.argmax(maxima))]
methods = ["raw", "zscore", "minmax", "percentile"]
fig, axes = plt.subplots(2, 2, figsize=(10, 6), layout="constrained")
for ax, method in zip(axes.ravel(), methods):
    for case, colour in [(low, "C0"), (high, "C3")]:
        x = case.image.array
        y = x if method == "raw" else data.normalize_intensity(x, method)
        ax.hist(y.ravel(), bins=60, histtype="step", color=colour, density=True,
                label=f"{case.case_id} (max {x.max():.0f})")
    ax.set(title=method, xlabel="intensity", ylabel="density",
           yscale="log" if method == "raw" else "linear")
axes[0, 0].legend(fontsize=7)
plt.show()

# %% [markdown]
# How different are the cases after each method? The spread (coefficient of variation) of the
# per-case 99th percentile across all {glue:text}`n_cases` volumes measures it.


# %%
def p99_spread(transform) -> float:
    """Coefficient of variation, across the hippocampus cases, of each case's 99th
    percentile after ``transform``."""
    p = np.array([np.percentile(transform(c.image.array), 99) for c in cases])
    return float(p.std() / abs(p.mean()))


def normaliser(method, **kwargs):
    if method == "raw":
        return lambda x: x
    return lambda x: data.normalize_intensity(x, method, **kwargs)


spread = {m: p99_spread(normaliser(m)) for m in methods}
for m, v in spread.items():
    print(f"{m:10s} spread of the 99th percentile across cases: {v:6.3f}")
    report.glue(f"spread_{m}", v)
report.check(spread["zscore"] < spread["raw"] / 5,
             "z-score cuts the spread of the 99th percentile across cases by 5x or more")
report.headline("p99 spread across hippocampus cases, z-score", spread["zscore"])
report.glue("best_norm", min(methods, key=spread.get))

# %% [markdown]
# The spread falls from {glue:text}`spread_raw:.3f` (raw) to {glue:text}`spread_zscore:.3f`
# (z-score), {glue:text}`spread_minmax:.3f` (min-max) and {glue:text}`spread_percentile:.3f`
# (percentile); the smallest here is {glue:text}`best_norm`. Why might min-max, which uses the
# single brightest voxel, do worse than percentile clipping?

# %% [markdown]
# ## 3. CT: window, crop to the body, and skull stripping
# For CT, a fixed HU window is the normalisation: it is physical, identical across scanners. The
# region of interest is the head: a body mask (everything above $-500$ HU, the largest connected
# component) gives the bounding box to crop to. The body fills {glue:text}`body_percent:.0f`% of
# the scan and the crop keeps {glue:text}`crop_percent:.0f`% of its voxels: how much of the air
# does a bounding box remove, and what would remove the rest?

# %%
ct = data.load_head_ct()
masks = data.head_ct_masks(ct)
cropped = data.crop_to_mask(ct, masks["body"], margin=4)
crop_percent = cropped.array.size / ct.array.size * 100
print(f"head CT {ct.shape} -> cropped to the body {cropped.shape}: "
      f"{crop_percent:.0f}% of the voxels kept")
report.glue("crop_percent", crop_percent)
report.glue("body_percent", float(masks["body"].mean() * 100))
s = ct.shape[0] // 2
windows = viz.CT_WINDOWS
mid_crop = cropped.array[cropped.shape[0] // 2]
fig = viz.show_grid([data.window_level(ct.array[s], *windows["soft"]),
                     data.window_level(ct.array[s], *windows["brain"]),
                     data.window_level(mid_crop, *windows["soft"])],
                    titles=["soft-tissue window", "brain window",
                            "cropped to the body mask"],
                    window=(0, 1), colorbar=True)
plt.show()

# %% [markdown]
# Skull stripping removes everything outside the brain. Colin27 ships both the head (`ch2`) and
# the brain extracted by FSL's BET (`ch2bet`); BET's result as a mask strips `ch2` itself.

# %%
ch2bet = data.load_colin27("ch2bet")
brain_mask = ch2bet.array > 0
stripped = data.apply_mask(ch2, brain_mask)
k = ch2.shape[2] // 2 + 10
fig = viz.show_grid([np.rot90(ch2.array[:, :, k]),
                     np.rot90(brain_mask[:, :, k].astype(float) * ch2.array.max()),
                     np.rot90(stripped.array[:, :, k])],
                    titles=["ch2 (head)", "BET brain mask", "ch2 skull-stripped"],
                    colorbar=False)
plt.show()
brain_ml = brain_mask.sum() * np.prod(ch2.spacing) / 1e3
print(f"brain volume from the mask: {brain_ml:.0f} ml")

# %% [markdown]
# ## 4. Registration as preprocessing: a known answer
# Bringing images into one space is the preprocessing step the survey names first. ITK ships a
# proton-density slice and a copy shifted by exactly {glue:text}`shift_truth` pixels. Does a
# classical registration (SimpleITK: a translation transform, mean squares, regular-step gradient
# descent) recover that shift? Chapter 3 learns registration instead.


# %%
def register_pair(pair, initial, iterations=cfg["iterations"]):
    """Register ``pair["moving"]`` to ``pair["fixed"]`` with SimpleITK (mean squares,
    gradient descent) from ``initial``; return the found transform and the seconds."""
    fixed = sitk.GetImageFromArray(pair["fixed"].array.astype(np.float32))
    moving = sitk.GetImageFromArray(pair["moving"].array.astype(np.float32))
    method = sitk.ImageRegistrationMethod()
    method.SetMetricAsMeanSquares()
    method.SetOptimizerAsRegularStepGradientDescent(learningRate=1.0, minStep=1e-4,
                                                    numberOfIterations=iterations)
    method.SetOptimizerScalesFromPhysicalShift()  # rotations (rad) and shifts (px) alike
    method.SetInitialTransform(initial)
    method.SetInterpolator(sitk.sitkLinear)
    start = time.perf_counter()
    found = method.Execute(fixed, moving)
    return found, time.perf_counter() - start


def resampled(pair, transform):
    """The moving image of ``pair`` resampled onto the fixed grid by ``transform``."""
    fixed = sitk.GetImageFromArray(pair["fixed"].array.astype(np.float32))
    moving = sitk.GetImageFromArray(pair["moving"].array.astype(np.float32))
    out = sitk.Resample(moving, fixed, transform, sitk.sitkLinear, 0.0)
    return sitk.GetArrayFromImage(out)


pairs = data.load_registration_slices()
pair = pairs["shift"]
found, seconds = register_pair(pair, sitk.TranslationTransform(2))
estimate = np.array(found.GetParameters())
truth = np.array(pair["transform"]["translation"])
error = float(np.linalg.norm(estimate - truth))
print(f"true shift {truth}, found {estimate.round(2)}, error {error:.3f} px, "
      f"{seconds:.2f} s")
report.glue("shift_truth", f"({truth[0]:.0f}, {truth[1]:.0f})")
report.glue("shift_error", error)
report.glue("shift_seconds", seconds)
report.check(error < 0.5, "the translation is recovered within 0.5 px")
report.headline("SimpleITK translation registration, error on the ITK shift pair", error,
                unit="px")

# %%
aligned = resampled(pair, found)
f = pair["fixed"].array.astype(np.float32)
before = pair["moving"].array.astype(np.float32)
fig = viz.compare_with_errors(f, {"moving (before)": before,
                                  "registered (after)": aligned},
                              window=(0, float(f.max())), reference_title="fixed")
plt.show()

# %% [markdown]
# It does: the found shift is {glue:text}`shift_error:.3f` px from the truth, after
# {glue:text}`shift_seconds:.2f` s.

# %% [markdown]
# ## 5. The steps composed: a MONAI pipeline
# The steps above were separate calls. MONAI composes them into one pipeline that transforms an
# image and its label together, so the label is cropped exactly like the image: add a channel
# axis, normalise intensity per volume (z-score over the non-zero voxels), pad or crop to
# {glue:text}`size` voxels. Here {glue:text}`n_pipeline` hippocampus cases go through it.
#
# Chapter 3 does not train through this pipeline. Its segmentation notebooks (§3.2) prepare the
# same volumes with `seg.pad_volumes` (z-score over the whole volume, centre-padding to
# `PAD_3_2`), its registration notebooks (§3.1) with `reg.hippocampus_experiment` (scaled to
# $[0, 1]$, padded or cropped). The cell after the figure asks whether MONAI, set up like the
# segmentation chapter, gives the same arrays.


# %%
def monai_pipeline(size, nonzero=True):
    """Channel axis, z-score per volume (non-zero voxels if ``nonzero``), pad or crop."""
    return Compose([
        EnsureChannelFirstd(keys=["image", "label"], channel_dim="no_channel"),
        NormalizeIntensityd(keys="image", nonzero=nonzero),
        ResizeWithPadOrCropd(keys=["image", "label"], spatial_size=size),
    ])


subset = rt.cases(cases[:cfg["n_pipeline"]])
pipeline = monai_pipeline(cfg["size"])
ready = [pipeline({"image": c.image.array, "label": c.label.array}) for c in subset]
batch = np.stack([np.asarray(r["image"]) for r in ready])
labels = np.stack([np.asarray(r["label"]) for r in ready])
print(f"batch {batch.shape}, labels {labels.shape}, "
      f"label values {np.unique(labels).tolist()}")
kept = [int((np.asarray(r["label"]) > 0).sum()) for r in ready]
orig = [int((c.label.array > 0).sum()) for c in subset]
print(f"foreground voxels kept by the crop: {sum(kept) / sum(orig) * 100:.1f}%")
report.glue("fg_kept_percent", sum(kept) / sum(orig) * 100)

# %%
n_show = min(6, len(subset))
fig = viz.show_grid([batch[i, 0, :, :, cfg["size"][2] // 2] for i in range(n_show)],
                    titles=[c.case_id for c in subset[:n_show]], ncols=3,
                    window=(-2.5, 2.5),
                    colorbar_label="z-score")
plt.show()

# %%
like_3_2 = monai_pipeline(PAD_3_2, nonzero=False)
via_monai = [like_3_2({"image": c.image.array, "label": c.label.array}) for c in subset]
via_seg = seg.pad_volumes([c.image.array for c in subset],
                          [c.label.array for c in subset], PAD_3_2)
image_diff = max(float(np.abs(np.asarray(r["image"])[0] - x).max())
                 for r, x in zip(via_monai, via_seg.images))
labels_equal = all(np.array_equal(np.asarray(r["label"])[0], y)
                   for r, y in zip(via_monai, via_seg.labels))
print(f"MONAI vs seg.pad_volumes: largest image difference {image_diff:.2e}, "
      f"labels equal: {labels_equal}")
report.check(image_diff < 1e-4 and labels_equal,
             "MONAI (nonzero=False, PAD_3_2) reproduces seg.pad_volumes")
report.glue("monai_vs_seg", image_diff)

# %% [markdown]
# The crop kept {glue:text}`fg_kept_percent:.1f`% of the hippocampus voxels. Set up like
# Chapter 3.2 (whole-volume z-score, padding to `PAD_3_2`), MONAI's pipeline and
# `seg.pad_volumes` differ by at most {glue:text}`monai_vs_seg:.1e` per voxel, with identical
# labels: the same preprocessing, written once as a composed pipeline and once as a plain function.

# %% [markdown]
# ## Check: each step does what it claims
# No survey claim is tested here, so no verdict is recorded; these are the facts later chapters
# build on, recorded for the scorecard page.

# %%
checks = {
    "isotropic after resampling":
        bool(np.allclose(iso.spacing, iso.spacing[0], rtol=0.02)),
    "field of view kept within one voxel":
        bool(np.all(np.abs(extent(iso) - extent(b0)) <= max(b0.spacing))),
    "z-score reduces the spread across cases 5x": spread["zscore"] < spread["raw"] / 5,
    "translation recovered within 0.5 px": error < 0.5,
    "crop keeps all hippocampus voxels": sum(kept) == sum(orig),
    "MONAI like 3.2 equals seg.pad_volumes": image_diff < 1e-4 and labels_equal,
}
for k_, v_ in checks.items():
    print(f"{k_}: {v_}")
    report.check(v_, k_)
report.record("ch1_foundations/02_preprocessing", {
    "p99 spread raw": spread["raw"], "p99 spread zscore": spread["zscore"],
    "translation error px": error, "registration seconds": seconds,
    "MONAI vs pad_volumes max diff": image_diff, **checks})

# %% [markdown]
# ## Exercises
# 1. Resample a hippocampus label map with `order=1` and count the label values you get. Why is
#    this wrong, and what does it do to a Dice score?
# 2. Percentile clipping uses `(0.5, 99.5)` here. Try `(0, 100)` on all cases: what changes?
# 3. Register the rotated ITK pair (`pairs["rotation"]`) with a translation-only transform, then
#    with `sitk.Euler2DTransform`. Which recovers the truth, and why?
# 4. Find the smallest pipeline size whose crop still keeps every hippocampus voxel of the
#    pipeline's cases, and compute how much memory it saves per batch.

# %% tags=["solution", "hide-cell"]
# Solution 1: resample a label map to 0.7 mm with order=1 (linear) and order=0 (nearest).
lab = cases[0].label
lab_vol = data.Volume(lab.array.astype(np.float32), lab.spacing, lab.affine)
linear = data.resample_to_spacing(lab_vol, 0.7, order=1).array
nearest = data.resample_to_spacing(lab_vol, 0.7, order=0).array
n_values = len(np.unique(linear))
rounded = np.rint(linear)
dice = {k: 2 * np.sum((rounded == k) & (nearest == k))
        / (np.sum(rounded == k) + np.sum(nearest == k)) for k in (1, 2)}
print(f"order=1: {n_values} distinct values; order=0: {np.unique(nearest).tolist()}")
print("Dice of the rounded linear labels against nearest neighbour:",
      {k: round(float(v), 3) for k, v in dice.items()})
report.glue("ex1_values", n_values)
report.glue("ex1_dice_1", float(dice[1]))
report.glue("ex1_dice_2", float(dice[2]))

# %% [markdown] tags=["solution"]
# :::{dropdown} Solution 1
# Linear interpolation gives {glue:text}`ex1_values` distinct values instead of the labels `0`, `1`,
# `2`: fractions that are no class at all. Rounding them does not help where background meets
# label `2`: the halfway value rounds to `1`, an anterior rim around the posterior hippocampus
# that no annotator drew. Against nearest neighbour, the rounded map scores Dice
# {glue:text}`ex1_dice_1:.3f` (label `1`) and {glue:text}`ex1_dice_2:.3f` (label `2`): a
# label map already damaged before any network sees it, and every Dice computed on it inherits the
# error.
# :::

# %% tags=["solution", "hide-cell"]
# Solution 2
spread_full_range = p99_spread(normaliser("percentile", percentiles=(0, 100)))
print(f"p99 spread with (0, 100): {spread_full_range:.3f}; "
      f"with (0.5, 99.5): {spread['percentile']:.3f}; min-max: {spread['minmax']:.3f}")
report.glue("ex2_spread", spread_full_range)

# %% [markdown] tags=["solution"]
# :::{dropdown} Solution 2
# With `(0, 100)` the clipping does nothing and the method becomes min-max: the spread of the 99th
# percentile is {glue:text}`ex2_spread:.3f`, against {glue:text}`spread_percentile:.3f` with
# `(0.5, 99.5)` and {glue:text}`spread_minmax:.3f` for min-max. A single bright voxel then sets the
# scale of the whole volume.
# :::

# %% tags=["solution", "hide-cell"]
# Solution 3
rot = pairs["rotation"]
fixed_img = sitk.GetImageFromArray(rot["fixed"].array.astype(np.float32))
moving_img = sitk.GetImageFromArray(rot["moving"].array.astype(np.float32))
euler0 = sitk.CenteredTransformInitializer(
    fixed_img, moving_img, sitk.Euler2DTransform(),
    sitk.CenteredTransformInitializerFilter.GEOMETRY)
results = {"translation": register_pair(rot, sitk.TranslationTransform(2))[0],
           "Euler 2D": register_pair(rot, euler0)[0]}
f_rot = rot["fixed"].array.astype(np.float32)
residual = {name: float(np.sqrt(np.mean((resampled(rot, t) - f_rot) ** 2)))
            for name, t in results.items()}
angle = float(np.degrees(sitk.Euler2DTransform(results["Euler 2D"]).GetAngle()))
print(f"true rotation {rot['transform']['rotation_deg']} deg; "
      f"Euler 2D found {angle:.2f} deg")
print("RMS difference to the fixed image:", {k: round(v, 2) for k, v in residual.items()})
report.glue("ex3_angle", abs(angle))
report.glue("ex3_truth", float(rot["transform"]["rotation_deg"]))
report.glue("ex3_rms_translation", residual["translation"])
report.glue("ex3_rms_euler", residual["Euler 2D"])

# %% [markdown] tags=["solution"]
# :::{dropdown} Solution 3
# A translation cannot express a rotation: the best shift leaves an RMS difference of
# {glue:text}`ex3_rms_translation:.1f` grey levels to the fixed image. The Euler transform
# (rotation about the image centre plus a shift, initialised at the centre by
# `CenteredTransformInitializer`) finds {glue:text}`ex3_angle:.2f` degrees against a true
# {glue:text}`ex3_truth:.0f`, and leaves {glue:text}`ex3_rms_euler:.1f`. The transform model must
# be able to express the true motion; the optimiser cannot make up for a wrong model.
# :::

# %% tags=["solution", "hide-cell"]
# Solution 4: crop and pad act per axis: search each axis alone (the others left large).
def keeps_all(size):
    p = monai_pipeline(size)
    out = [p({"image": c.image.array, "label": c.label.array})["label"] for c in subset]
    return all(int((np.asarray(o) > 0).sum()) == int((c.label.array > 0).sum())
               for o, c in zip(out, subset))


smallest = list(PAD_3_2)
for axis in range(3):
    while smallest[axis] > 1:
        trial = [PAD_3_2[a] if a != axis else smallest[axis] - 1 for a in range(3)]
        if not keeps_all(trial):
            break
        smallest[axis] -= 1
assert keeps_all(smallest)
bytes_per = 4 * len(subset)  # float32 images, one batch of the pipeline's cases
saved = bytes_per * (np.prod(cfg["size"]) - np.prod(smallest)) / 2**20
print(f"smallest size keeping every voxel: {tuple(smallest)}; saves {saved:.2f} MiB per "
      f"batch of {len(subset)} against {cfg['size']}")
report.glue("ex4_size", " x ".join(map(str, smallest)))
report.glue("ex4_saved_mib", float(saved))

# %% [markdown] tags=["solution"]
# :::{dropdown} Solution 4
# For these cases the smallest size is {glue:text}`ex4_size` voxels. A batch of them as `float32`
# then takes {glue:text}`ex4_saved_mib:.2f` MiB less than at the configured size (negative: the
# configured size was already smaller, and a crop that small would cut hippocampus voxels). The
# labels and the network's activations shrink in the same proportion; on more cases the bound can
# only grow, so check it on the whole training set.
# :::

# %% [markdown]
# ## Summary
# Resampling fixes geometry, normalisation fixes intensity, windowing and cropping choose what the
# network sees, and registration puts images in one space. Each is one call to `corelib.data`,
# SimpleITK or MONAI, and each was checked against something known (the check cell lists them)
# before any network sees the data.
