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
    subprocess.run("pip install -q 'corelib @ git+https://github.com/corelib-book/medimg-dl-companion'",
                   shell=True, check=True)
    subprocess.run("apt-get -qq update && apt-get -qq install -y --no-install-recommends "
                   "mricron-data invesalius-examples insighttoolkit5-examples", shell=True, check=True)

# %%
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
    ["Acquisition\nCT, MRI, US, X-ray", "Restoration\ndenoise, super-resolve,\nreconstruct",
     "Preprocessing\nregister, crop ROI,\nnormalise", "Analysis\nsegment, classify,\ndetect",
     "Decision\ndiagnosis, prognosis"])
plt.show()

# %% [markdown]
# ## MRI in NIfTI: the MNI152 2009a template
# A NIfTI file holds a 3D array and a 4x4 **affine** that maps voxel indices $(i, j, k, 1)$ to
# world coordinates in mm. Its diagonal holds the spacing (with signs for the direction of each
# axis); `nib.aff2axcodes` names the direction each array axis points to.

# %%
t1 = data.load_mni152("t1")
print(t1)
print("affine:\n", np.round(t1.affine, 2))
print("axis directions:", nib.aff2axcodes(t1.affine))
brain = data.load_mni152("brain").array > 0
print(f"brain mask: {brain.sum() * np.prod(t1.spacing) / 1e6:.2f} litres")

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
                    titles=["T1 (scaled to 0-1)", "grey matter probability", "white matter probability"],
                    window=(0, 1), colorbar=True)
plt.show()

# %% [markdown]
# ## One subject at two resolutions: Colin27 and the AAL atlas
# Colin27 is one person scanned 27 times and averaged. `ch2better` is the same head at 0.5 mm;
# the AAL atlas labels 116 brain regions in the same space.

# %%
ch2 = data.load_colin27("ch2")
ch2better = data.load_colin27("ch2better")
aal = data.load_colin27("aal")
for name, v in [("ch2", ch2), ("ch2better", ch2better), ("aal", aal)]:
    print(f"{name:10s} shape={v.shape}  spacing={v.spacing}  axes={nib.aff2axcodes(v.affine)}")
names = data.aal_labels()
print(f"AAL: {len(names)} labelled regions, e.g. {list(names.items())[:3]}")

# %%
assert aal.shape == ch2.shape, "AAL and ch2 share one 1 mm grid"
k_aal = aal.shape[2] // 2 + 10
fig, ax = plt.subplots(figsize=(5, 5.5))
viz.overlay_labels(np.rot90(ch2.array[:, :, k_aal]), np.rot90(aal.array[:, :, k_aal]), ax=ax, alpha=0.45)
ax.set_title(f"Colin27 with the AAL atlas (axial slice {k_aal})")
plt.show()

# %% [markdown]
# ## CT in Hounsfield units: a real head CT
# CT measures X-ray attenuation and reports it in **Hounsfield units** (HU): water is 0, air is
# about -1000, bone several hundred to over 1000. A display has 256 grey levels, so a reader picks
# a **window** (centre, width): the brain window shows soft tissue, the bone window shows the skull.

# %%
ct = data.load_head_ct()
print(ct)
masks = data.head_ct_masks(ct)
hu = ct.array
for name, m in masks.items():
    print(f"{name:5s}: {m.mean() * 100:5.1f}% of voxels, median {np.median(hu[m]):7.1f} HU")

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
    print(f"{kind:10s} modality={m.get('Modality')!s:3s} shape={v.shape} spacing={v.spacing} "
          f"slope={m.get('RescaleSlope')} intercept={m.get('RescaleIntercept')}")

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
fig = viz.show_grid([bw["t1"].array, bw["pd"].array, shift["fixed"].array, shift["moving"].array],
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
# 260 T1 crops around the hippocampus with two labels (anterior = 1, posterior = 2), the
# segmentation and registration data of Chapter 3. A few volumes were stored as 8-bit integers and
# the rest as floats, so intensities differ between cases: normalisation (Chapter 1.2) matters.

# %%
cases = data.load_hippocampus()
shapes = np.array([c.image.shape for c in cases])
maxima = np.array([c.image.array.max() for c in cases])
fg = np.array([[np.sum(c.label.array == k) for k in (1, 2)] for c in cases])
print(f"{len(cases)} cases; shape min {shapes.min(0)}, max {shapes.max(0)}; spacing {cases[0].image.spacing}")
print(f"image maxima range from {maxima.min():.0f} to {maxima.max():.0f}")
print(f"foreground fraction: {fg.sum() / np.prod(shapes, axis=1).sum() * 100:.1f}% of voxels")

# %%
case = cases[0]
hippo_names = {1: "anterior", 2: "posterior"}
fig = viz.three_plane(case.image.array, spacing=case.image.spacing, labels=case.label.array,
                      label_names=hippo_names)
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
fig = viz.show_grid([v.array for v in ants.values()], titles=list(ants), ncols=6, colorbar=False)
plt.show()

# %% [markdown]
# ## Classification: MedMNIST v2 BreastMNIST
# 780 breast ultrasound images at 28x28 pixels with the official train/validation/test split;
# label 1 is benign or normal, 0 malignant. Chapter 4 classifies them.

# %%
breast = data.load_medmnist("breastmnist")
for split in ("train", "val", "test"):
    y = breast[f"{split}_labels"]
    print(f"{split:5s}: {len(y):4d} images, {np.bincount(y).tolist()} per class")

# %%
x, y = breast["train_images"], breast["train_labels"]
examples = [x[np.flatnonzero(y == c)[i]] for c in (0, 1) for i in range(6)]
titles = [breast["class_names"][c] if i == 0 else "" for c in (0, 1) for i in range(6)]
fig = viz.show_grid(examples, titles=titles, ncols=6, colorbar=False, window=(0, 255))
plt.show()

# %% [markdown]
# ## Check: what this lab relies on
# Chapter 1 reproduces no claim of the survey; it checks the facts later chapters rely on and
# records them for the scorecard page.

# %%
# NBVAL_CHECK_OUTPUT
checks = {
    "datasets found": sum(r["found"] == "yes" for r in rows),
    "datasets registered": len(rows),
    "MNI152 spacing (mm)": t1.spacing,
    "Colin27 ch2better spacing (mm)": ch2better.spacing,
    "CT air median (HU)": float(np.median(hu[hu < -900])),
    "hippocampus cases": len(cases),
    "BreastMNIST split sizes": tuple(len(breast[f"{s}_labels"]) for s in ("train", "val", "test")),
}
for k_, v_ in checks.items():
    print(f"{k_}: {v_}")
assert checks["datasets found"] == checks["datasets registered"], "some datasets are missing"
assert -1050 < checks["CT air median (HU)"] < -950, "CT is not in Hounsfield units"
assert checks["BreastMNIST split sizes"] == (546, 78, 156)
report.record("ch1_foundations/01_data_tour", {k_: v_ for k_, v_ in checks.items()})

# %% [markdown]
# ## Exercises
# 1. Flip the MNI152 template left-right by changing only its affine (not the array). What do
#    `nib.aff2axcodes` and `viz.three_plane` show, and why is this a classic source of bugs?
# 2. Choose a window that shows both the ventricles and the skull of the head CT. What do you lose?
# 3. Compare the intensity histograms of a uint8-stored and a float-stored hippocampus case. Which
#    normalisation would make them comparable?
# 4. Run `data.status()` after unsetting `CORELIB_DATA_MIRROR`: which datasets does the book then
#    download, and from where?
#
# ## Summary
# A medical image is an array with geometry and units. NIfTI keeps the geometry in an affine;
# DICOM keeps it (and much more) in tags; CT values are physical (HU) while MRI values are not. The
# book's datasets are all real and all loadable offline; the next lab prepares them for learning.
