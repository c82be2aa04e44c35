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
# # 1.1 A tour of the data: real medical images, their formats and their geometry
#
# *Survey §1 and Fig. 1* {cite}`wang2020survey`
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/corelib-book/medimg-dl-companion/blob/main/notebooks/ch1_foundations/01_data_tour.ipynb)
#
# The survey follows an image from **acquisition** through **preprocessing** to **analysis**. Every
# later chapter trains on real images, so this first lab opens each dataset the book uses and looks
# at what a medical image *is*: an array of numbers **plus geometry** (voxel spacing, orientation,
# a voxel-to-world affine) **plus units** (Hounsfield units for CT; arbitrary units for MRI).
#
# **What you will learn**
# - how NIfTI stores a volume and its affine, and how to read spacing and orientation from it;
# - how DICOM stores a slice with its tags, and how CT pixel values become Hounsfield units;
# - how CT windowing chooses what a reader sees;
# - which real datasets this book uses, where each comes from, and how to check they are present.

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
    debs = "mricron-data invesalius-examples insighttoolkit5-examples"
    subprocess.run("apt-get -qq update && apt-get -qq install -y --no-install-recommends "
                   + debs, shell=True, check=True)

# %%
import hashlib

import matplotlib.pyplot as plt
import nibabel as nib
import numpy as np

import corelib.data as data
from corelib import report, runtime as rt, viz

report.set_notebook("ch1_foundations/01_data_tour")
card = rt.run_card(seed=0, datasets=data.names())

# %% [markdown]
# ## Where the data comes from
# Every dataset has a card in `corelib.data`'s registry: its files, where each source looks (an
# offline mirror, an installed package, or a download into a cache), its licence and citation.
# `status()` says for each one whether it was found and, if not, the command that gets it.

# %%
rows = data.status()

# %% [markdown]
# ## The pipeline of the survey (Fig. 1)
# Images are acquired (CT, MRI, ultrasound, X-ray), preprocessed (denoised, registered, cropped to
# a region of interest, normalised) and then analysed (segmented, classified, detected). Each box
# is a chapter of this book.

# %%
fig = viz.pipeline_figure(
    ["Acquisition\nCT, MRI, US, X-ray",
     "Restoration\ndenoise, super-resolve,\nreconstruct",
     "Preprocessing\nregister, crop ROI,\nnormalise",
     "Analysis\nsegment, classify,\ndetect",
     "Decision\ndiagnosis, prognosis"])
plt.show()

# %% [markdown]
# ## MRI in NIfTI: the MNI152 2009a template
# A NIfTI file holds a 3D array and a $4 \times 4$ **affine** that maps voxel indices $(i, j, k, 1)$ to
# world coordinates in mm. Its diagonal holds the spacing (with signs for the direction of each
# axis); `nib.aff2axcodes` names the direction each array axis points to.

# %%
t1 = data.load_mni152("t1")
print(t1)
print("affine:\n", np.round(t1.affine, 2))
print("axis directions:", nib.aff2axcodes(t1.affine))
brain = data.load_mni152("brain").array > 0
brain_litres = brain.sum() * np.prod(t1.spacing) / 1e6
print(f"brain mask: {brain_litres:.2f} litres")

# %%
fig = viz.three_plane(t1.array, spacing=t1.spacing)
fig.suptitle("MNI152 2009a T1 template (1 mm): axial, coronal, sagittal")
plt.show()

# %% [markdown]
# The tissue probability maps that come with the template (grey and white matter) are what a
# segmentation network would learn to predict.

# %%
gm, wm = data.load_mni152("gm").array, data.load_mni152("wm").array
k = t1.shape[2] // 2
axial = lambda vol: np.rot90(vol[:, :, k])  # noqa: E731  (anterior up)
fig = viz.show_grid([axial(t1.array) / t1.array.max(), axial(gm), axial(wm)],
                    titles=["T1 (scaled to 0-1)", "grey matter probability",
                            "white matter probability"],
                    window=(0, 1), colorbar=True)
plt.show()

# %% [markdown]
# ## One subject at two resolutions: Colin27 and the AAL atlas
# Colin27 is one person scanned 27 times and averaged {cite}`holmes1998colin27`. `ch2better` is
# the same head at {glue:text}`ch2better_mm:.1f` mm; the AAL atlas {cite:p}`tzourio2002aal` labels
# {glue:text}`aal_regions` brain regions in the same space.

# %%
ch2 = data.load_colin27("ch2")
ch2better = data.load_colin27("ch2better")
aal = data.load_colin27("aal")
for name, v in [("ch2", ch2), ("ch2better", ch2better), ("aal", aal)]:
    print(f"{name:10s} shape={v.shape}  spacing={v.spacing}  "
          f"axes={nib.aff2axcodes(v.affine)}")
names = data.aal_labels()
print(f"AAL: {len(names)} labelled regions, e.g. {list(names.items())[:3]}")
report.glue("ch2better_mm", float(max(ch2better.spacing)))
report.glue("aal_regions", len(names))

# %%
assert aal.shape == ch2.shape, "AAL and ch2 share one 1 mm grid"
k_aal = aal.shape[2] // 2 + 10
fig, ax = plt.subplots(figsize=(5, 5.5))
viz.overlay_labels(np.rot90(ch2.array[:, :, k_aal]), np.rot90(aal.array[:, :, k_aal]),
                   ax=ax, alpha=0.45)
ax.set_title(f"Colin27 with the AAL atlas (axial slice {k_aal})")
plt.show()

# %% [markdown]
# ## CT in Hounsfield units: a real head CT
# CT measures X-ray attenuation and reports it in **Hounsfield units** (HU), defined so that
# water is $0$ HU and air $-1000$ HU; bone lies at several hundred HU and above. A display has far
# fewer grey levels than the scanner has HU values, so a reader picks a **window** (centre, width):
# the brain window shows soft tissue, the bone window shows the skull. Where does this scan's air
# actually sit? Its median is {glue:text}`ct_air_median:.0f` HU (the voxels below $-900$ HU).

# %%
ct = data.load_head_ct()
print(ct)
masks = data.head_ct_masks(ct)
hu = ct.array
for name, m in masks.items():
    print(f"{name:5s}: {m.mean() * 100:5.1f}% of voxels, "
          f"median {np.median(hu[m]):7.1f} HU")
air_median = float(np.median(hu[hu < -900]))
report.check(-1050 < air_median < -950,
             "the head CT is in Hounsfield units (air near -1000)")
report.glue("ct_air_median", air_median)
report.headline("head CT, median of the air voxels", air_median, unit="HU",
                published="-1000 HU by the definition of the Hounsfield scale")

# %%
fig, ax = plt.subplots(figsize=(8, 3.2))
ax.hist(hu.ravel(), bins=200, range=(-1100, 2000), color="0.3")
ax.set(yscale="log", xlabel="HU", ylabel="voxels", title="Histogram of the head CT")
for label, x_hu in [("air", -1000), ("water", 0), ("bone", 700)]:
    ax.axvline(x_hu, ls="--", c="C1")
    ax.text(x_hu, ax.get_ylim()[1] * 0.2, f" {label}", color="C1")
plt.show()

# %%
s = hu.shape[0] // 2
fig, axes = plt.subplots(1, 3, figsize=(13, 4.5))
for ax, name in zip(axes, ("brain", "soft", "bone")):
    lo, hi = viz.ct_window(*viz.CT_WINDOWS[name])
    im = ax.imshow(hu[s], cmap="gray", vmin=lo, vmax=hi)
    ax.set_title(f"{name} window [{lo:.0f}, {hi:.0f}] HU")
    ax.axis("off")
    fig.colorbar(im, ax=ax, fraction=0.046, label="HU")
plt.show()

# %% [markdown]
# ## DICOM: one file per slice, with tags
# DICOM stores pixel data with hundreds of tags. For CT, the stored integers become HU through
# `RescaleSlope` and `RescaleIntercept`; `PixelSpacing` gives the in-plane size in mm.

# %%
dicoms = {kind: data.load_dicom(kind) for kind in ("chest_xray", "ct", "mr")}
for kind, v in dicoms.items():
    m = v.meta
    print(f"{kind:10s} modality={m.get('Modality')!s:3s} shape={v.shape} "
          f"spacing={v.spacing} slope={m.get('RescaleSlope')} "
          f"intercept={m.get('RescaleIntercept')}")

# %%
fig = plt.figure(figsize=(11, 3.8))
for i, (kind, v) in enumerate(dicoms.items()):
    ax = fig.add_subplot(1, 3, i + 1)
    img = v.array if v.array.ndim == 2 else v.array[v.array.shape[0] // 2]
    lo, hi = viz.ct_window("soft") if kind == "ct" else np.percentile(img, [1, 99])
    im = ax.imshow(img, cmap="gray", vmin=lo, vmax=hi)
    unit = "HU (soft-tissue window)" if kind == "ct" else "stored value (a.u.)"
    ax.set_title(f"{kind} ({v.meta.get('Modality')})")
    ax.axis("off")
    fig.colorbar(im, ax=ax, fraction=0.046, label=unit)
plt.show()

# %% [markdown]
# ## MRI contrasts and known transforms: BrainWeb slices from ITK
# The same brain slice in T1 and proton-density (PD) contrast, and copies moved by known
# translations and rotations: ground truth for registration (Chapter 3).

# %%
bw = data.load_brainweb_slices()
pairs = data.load_registration_slices()
print("BrainWeb:", {k: v.shape for k, v in bw.items()})
for name, p in pairs.items():
    print(f"{name:24s} truth: {p['transform']}")

# %%
shift = pairs["shift"]
fig = viz.show_grid([bw["t1"].array, bw["pd"].array, shift["fixed"].array,
                     shift["moving"].array],
                    titles=["BrainWeb T1", "BrainWeb PD", "fixed",
                            f"moving: shifted by {shift['transform']['translation']} px"],
                    ncols=4, window=(0, 255), colorbar_label="8-bit grey level")
plt.show()

# %% [markdown]
# ## Anisotropic MRI: a dipy sample
# Clinical MRI often has thick slices. Spacing that differs between axes must be respected when
# displaying (aspect ratio) and before 3D convolutions (resampling, Chapter 1.2).

# %%
b0 = data.load_dipy_sample("b0")
print(b0)
fig = viz.three_plane(b0.array, spacing=b0.spacing)
fig.suptitle(f"dipy b0 volume, spacing {tuple(round(s, 2) for s in b0.spacing)} mm")
plt.show()

# %% [markdown]
# ## Phantoms: images with a known truth
# The Shepp-Logan phantom and its analytic k-space (the raw data an MR scanner measures) are the
# ground truth for reconstruction experiments in Chapter 2.

# %%
phantom = data.shepp_logan(256)
kspace = data.kspace_phantom(256)
fig, axes = plt.subplots(1, 2, figsize=(9, 4.3))
im0 = axes[0].imshow(phantom, cmap="gray")
axes[0].set_title("Shepp-Logan phantom")
im1 = axes[1].imshow(np.log1p(np.abs(np.squeeze(kspace))), cmap="magma")
axes[1].set_title("analytic k-space, log(1 + |k|)")
for ax, im in zip(axes, (im0, im1)):
    ax.axis("off")
    fig.colorbar(im, ax=ax, fraction=0.046)
plt.show()

# %% [markdown]
# ## Labelled MRI: the Decathlon hippocampus task
# T1 crops around the hippocampus with two labels (anterior `1`, posterior `2`), the segmentation
# and registration data of Chapter 3 {cite:p}`simpson2019msd,antonelli2022msd`. The next cell
# counts them and their intensity ranges.

# %%
cases = data.load_hippocampus()
shapes = np.array([c.image.shape for c in cases])
maxima = np.array([c.image.array.max() for c in cases])
fg = np.array([[np.sum(c.label.array == k) for k in (1, 2)] for c in cases])
print(f"{len(cases)} cases; shape min {shapes.min(0)}, max {shapes.max(0)}; "
      f"spacing {cases[0].image.spacing}")
print(f"image maxima range from {maxima.min():.0f} to {maxima.max():.0f}")
fg_percent = fg.sum() / np.prod(shapes, axis=1).sum() * 100
print(f"foreground fraction: {fg_percent:.1f}% of voxels")
n_byte_range = int((maxima <= 255).sum())
report.glue("hippo_cases", len(cases))
report.glue("hippo_byte_range", n_byte_range)
report.glue("hippo_max_lo", float(maxima.min()))
report.glue("hippo_max_hi", float(maxima.max()))
report.glue("hippo_fg_percent", float(fg_percent))

# %% [markdown]
# There are {glue:text}`hippo_cases` cases. Their maxima run from {glue:text}`hippo_max_lo:.0f` to
# {glue:text}`hippo_max_hi:.0f`: {glue:text}`hippo_byte_range` cases stay within the range of an
# `uint8` integer (`0`–`255`), the others reach far above it, so raw intensities are not comparable
# between cases and normalisation (Chapter 1.2) matters. The hippocampus covers
# {glue:text}`hippo_fg_percent:.1f`% of the voxels.

# %%
case = cases[0]
hippo_names = {1: "anterior", 2: "posterior"}
fig = viz.three_plane(case.image.array, spacing=case.image.spacing,
                      labels=case.label.array, label_names=hippo_names)
fig.suptitle(f"{case.case_id}: anterior (1) and posterior (2) hippocampus")
plt.show()

# %% [markdown]
# Scroll through the volume with the slider when running the notebook; the static book shows the
# montage of evenly spaced slices drawn beside it.

# %%
static_fig, widget = viz.slice_scroller(case.image.array, axis=2, labels=case.label.array)

# %% [markdown]
# ## 2D inter-subject brains: the ANTs slices
# Six T1 slices of different people, the classic 2D registration examples.

# %%
ants = {name: data.load_ants_slice(name) for name in data.ANTS_SLICE_NAMES}
fig = viz.show_grid([v.array for v in ants.values()], titles=list(ants), ncols=6,
                    colorbar=False)
plt.show()

# %% [markdown]
# ## Classification: MedMNIST v2 BreastMNIST
# Breast ultrasound images with the official train/validation/test split
# {cite:p}`yang2023medmnist`; label `1` is benign or normal, `0` malignant. Chapter 4 classifies
# them. Here: {glue:text}`breast_total` images of {glue:text}`breast_side` x
# {glue:text}`breast_side` pixels.

# %%
breast = data.load_medmnist("breastmnist")
for split in ("train", "val", "test"):
    y = breast[f"{split}_labels"]
    print(f"{split:5s}: {len(y):4d} images, {np.bincount(y).tolist()} per class")
splits = tuple(len(breast[f"{s}_labels"]) for s in ("train", "val", "test"))
report.glue("breast_total", sum(splits))
report.glue("breast_side", int(breast["train_images"].shape[-1]))

# %%
x, y = breast["train_images"], breast["train_labels"]
examples = [x[np.flatnonzero(y == c)[i]] for c in (0, 1) for i in range(6)]
titles = [breast["class_names"][c] if i == 0 else "" for c in (0, 1) for i in range(6)]
fig = viz.show_grid(examples, titles=titles, ncols=6, colorbar=False, window=(0, 255))
plt.show()

# %% [markdown]
# Before any classifier is trained on these splits, look for images that appear in more than one
# split: a test image that is also a training image measures memory, not generalisation. The cell
# below hashes every image's pixels and lists the exact copies across splits.

# %%
copies: dict[str, list[tuple[str, int, int]]] = {}
for split in ("train", "val", "test"):
    for i, image in enumerate(breast[f"{split}_images"]):
        key = hashlib.sha1(image.tobytes()).hexdigest()
        copies.setdefault(key, []).append((split, i, int(breast[f"{split}_labels"][i])))
repeated = [group for group in copies.values() if len({s for s, _, _ in group}) > 1]
conflicting = [g for g in repeated if len({label for _, _, label in g}) > 1]
for group in repeated:
    print(" = ".join(f"{s} image {i} (label {label})" for s, i, label in group))
report.glue("breast_copies", len(repeated))
report.glue("breast_copies_conflicting", len(conflicting))

# %% [markdown]
# Exact copies across splits in this copy of BreastMNIST: {glue:text}`breast_copies`, of which
# {glue:text}`breast_copies_conflicting` carry different labels in the two splits (printed above).
# A copy with two labels cannot be classified correctly both times; chapter 4 keeps the official
# split unchanged, so its test scores include such an image.

# %% [markdown]
# ## Check: what this lab relies on
# Chapter 1 reproduces no claim of the survey, so it records no verdict; it checks the facts later
# chapters rely on (all datasets present, CT in HU, the published case counts and splits) and
# records them for the scorecard page.

# %%
checks = {
    "datasets found": sum(r["found"] == "yes" for r in rows),
    "datasets registered": len(rows),
    "MNI152 spacing (mm)": t1.spacing,
    "Colin27 ch2better spacing (mm)": ch2better.spacing,
    "CT air median (HU)": air_median,
    "hippocampus cases": len(cases),
    "BreastMNIST split sizes": splits,
}
for k_, v_ in checks.items():
    print(f"{k_}: {v_}")
assert checks["datasets found"] == checks["datasets registered"], "datasets are missing"
assert len(cases) == 260, "the MSD Task04 training set has 260 labelled cases"
assert splits == (546, 78, 156), "BreastMNIST's official split"
report.record("ch1_foundations/01_data_tour", dict(checks))
report.headline("datasets found offline", checks["datasets found"])
report.glue("n_found", checks["datasets found"])
report.glue("n_registered", checks["datasets registered"])

# %% [markdown]
# ## Exercises
# 1. Flip the MNI152 template left-right by changing only its affine (not the array). What do
#    `nib.aff2axcodes` and `viz.three_plane` show, and why is this a classic source of bugs?
# 2. Choose a window that shows both the ventricles and the skull of the head CT. What do you lose?
# 3. Compare the intensity histograms of the hippocampus case with the smallest maximum and the one
#    with the largest. Which normalisation would make them comparable?
# 4. Which datasets would the book download if `CORELIB_DATA_MIRROR` were not set, and from where?
#    (Read the cards' sources: `data.card(name).sources`.)

# %% tags=["solution", "hide-cell"]
# Solution 1: negate the first column of the affine (axis i now points the other way)
# and move the origin to the far end, so the voxels cover the same box in world space.
flipped = t1.affine.copy()
flipped[:3, 0] *= -1
flipped[:3, 3] = t1.affine[:3, :3] @ [t1.shape[0] - 1, 0, 0] + t1.affine[:3, 3]
codes_before, codes_after = nib.aff2axcodes(t1.affine), nib.aff2axcodes(flipped)
print("axis codes before:", codes_before, " after:", codes_after)
report.glue("ex1_codes_before", "".join(codes_before))
report.glue("ex1_codes_after", "".join(codes_after))
# viz.three_plane draws the array with its spacing only: the figure is identical, although
# the world now says left where it said right: a viewer ignoring the affine shows nothing.

# %% [markdown] tags=["solution"]
# :::{dropdown} Solution 1
# The axis codes change from {glue:text}`ex1_codes_before` to {glue:text}`ex1_codes_after`, while
# `viz.three_plane` (which draws the array and its spacing, not the affine) shows the same picture.
# Left and right are told apart only by the affine: code that drops it (saving an array without
# its header, or a viewer that ignores it) silently mirrors the brain, and a brain looks almost
# symmetric, so nobody notices.
# :::

# %% tags=["solution", "hide-cell"]
# Solution 2: one wide window spanning CSF (about 0-15 HU) and cortical bone (> 1000 HU).
wide = viz.ct_window(400, 2400)
soft_lo, soft_hi = 0, 80  # the brain/soft-tissue range used by data.head_ct_masks
grey_levels = 256 * (soft_hi - soft_lo) / (wide[1] - wide[0])
grey_levels_brain = 256 * (soft_hi - soft_lo) / viz.CT_WINDOWS["brain"][1]
fig, ax = plt.subplots(figsize=(4.5, 4.5))
im = ax.imshow(hu[s], cmap="gray", vmin=wide[0], vmax=wide[1])
ax.set_title(f"wide window [{wide[0]:.0f}, {wide[1]:.0f}] HU")
ax.axis("off")
fig.colorbar(im, ax=ax, fraction=0.046, label="HU")
plt.show()
print(f"grey levels left for 0-80 HU: {grey_levels:.0f} "
      f"(brain window: {grey_levels_brain:.0f})")
report.glue("ex2_levels_wide", grey_levels)
report.glue("ex2_levels_brain", grey_levels_brain)

# %% [markdown] tags=["solution"]
# :::{dropdown} Solution 2
# A window centred at $400$ HU with width $2400$ HU shows both the skull and the dark ventricles,
# but brain tissue ($0$ to $80$ HU) then gets only {glue:text}`ex2_levels_wide:.0f` of the display's
# grey levels instead of {glue:text}`ex2_levels_brain:.0f` in the brain window: the contrast
# between grey and white matter (a few HU) disappears. Radiologists look at two windows instead.
# :::

# %% tags=["solution", "hide-cell"]
# Solution 3
lo_case, hi_case = cases[int(np.argmin(maxima))], cases[int(np.argmax(maxima))]
fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
for ax, transform, title in [(axes[0], lambda x: x, "raw"),
                             (axes[1], data.normalize_intensity, "z-score per volume")]:
    for c, colour in [(lo_case, "C0"), (hi_case, "C3")]:
        ax.hist(transform(c.image.array).ravel(), bins=60, histtype="step", density=True,
                color=colour, label=c.case_id)
    ax.set(title=title, xlabel="intensity", ylabel="density")
axes[0].legend()
plt.show()
p99 = {c.case_id: np.percentile(data.normalize_intensity(c.image.array), 99)
       for c in (lo_case, hi_case)}
print("99th percentile after z-score:", {k: round(float(v), 2) for k, v in p99.items()})
report.glue("ex3_ratio_raw", float(hi_case.image.array.max() / lo_case.image.array.max()))

# %% [markdown] tags=["solution"]
# :::{dropdown} Solution 3
# Raw, the two histograms barely overlap: the largest maximum is {glue:text}`ex3_ratio_raw:.0f`
# times the smallest. A per-volume normalisation (z-score, or percentile clipping to $[0, 1]$)
# puts both on one scale; Chapter 1.2 measures how well each one does across all cases.
# :::

# %% tags=["solution", "hide-cell"]
# Solution 4: every card lists where it is looked for; 'cache' sources download from url.
for name in data.names():
    urls = [src.url for src in data.card(name).sources if src.kind == "cache" and src.url]
    kinds = [src.kind for src in data.card(name).sources]
    print(f"{name:18s} {'/'.join(kinds):24s} {urls[0] if urls else '(not downloaded)'}")
n_download = sum(any(src.kind == "cache" and src.url for src in data.card(name).sources)
                 for name in data.names())
report.glue("ex4_n_download", n_download)

# %% [markdown] tags=["solution"]
# :::{dropdown} Solution 4
# Without the mirror, {glue:text}`ex4_n_download` datasets have a download address and go into the
# cache on the first online run; the others come from installed packages (the cards' `debian`
# or `pip` sources) and `data.status()` says what to install. Running
# `data.status()` in a fresh shell without `CORELIB_DATA_MIRROR` shows the same from the files
# actually present.
# :::

# %% [markdown]
# ## Summary
# A medical image is an array with geometry and units. NIfTI keeps the geometry in an affine;
# DICOM keeps it (and much more) in tags; CT values are physical (HU) while MRI values are not.
# This run found {glue:text}`n_found` of the {glue:text}`n_registered` registered datasets offline;
# the next lab prepares them for learning.
