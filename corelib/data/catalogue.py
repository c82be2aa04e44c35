"""The dataset catalogue: this is the one place a dataset is defined.

Each :class:`~corelib.data.registry.DatasetCard` below says what a dataset is, its licence and
citation, the files it needs, where they are looked for (in order) and, for downloaded data, the
download address. To add a dataset, add a card to :data:`CARDS` here and write its loader in the
module named in the comment above its group (:mod:`corelib.data.packaged` or
:mod:`corelib.data.remote`); the loader finds the files with ``locate("<name>")``.

This module imports only the registry: download functions are referenced with :func:`_lazy`, and
the loaders import the addresses and checksums they share with a card from here.
"""
from __future__ import annotations

import gzip
import importlib
import re
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

from corelib.data.registry import DatasetCard, cache, debian, mirror, pip_package

# ------------------------------------------------------------ download addresses and checksums
MSD_TASK = "Task04_Hippocampus"
# The address and md5 that MONAI's DecathlonDataset uses for the official task tar.
MSD_URL = "https://msd-for-monai.s3-us-west-2.amazonaws.com/Task04_Hippocampus.tar"
MSD_MD5 = "9d24dba78a72977dbd1d2e110310f31b"
# The figshare files that ANTsPy's ``ants.get_data`` downloads.
ANTS_URLS = {
    "r16": "https://ndownloader.figshare.com/files/28726512",
    "r27": "https://ndownloader.figshare.com/files/28726515",
    "r30": "https://ndownloader.figshare.com/files/28726518",
    "r62": "https://ndownloader.figshare.com/files/28726521",
    "r64": "https://ndownloader.figshare.com/files/28726524",
    "r85": "https://ndownloader.figshare.com/files/28726527",
}
MEDMNIST_URL = "https://zenodo.org/record/6496656/files/{flag}.npz?download=1"
BREASTMNIST_MD5 = "750601b1f35ba3300ea97c75c52ff8f6"
# BCCD at the upstream commit the offline mirror was taken from (GitHub's archive of that commit).
BCCD_COMMIT = "d272fb14cdff6e473fafeeeba32aba5f560e9e43"
BCCD_URL = f"https://github.com/Shenggan/BCCD_Dataset/archive/{BCCD_COMMIT}.tar.gz"
# SRI24 as the R package muschellij2/sri24 ships it (inst/extdata), at a fixed commit.
SRI24_URL = ("https://raw.githubusercontent.com/muschellij2/sri24/"
             "1910b84536976ba5c72498ac19a6ebca40d8d943/inst/extdata/{file}")
SRI24_FILES = {"t1": "spgr.nii.gz", "pd": "erly.nii.gz", "t2": "late.nii.gz",
               "tissues": "tissues.nii.gz", "lpba40": "lpba40.nii.gz", "lpba40_names": "LPBA40-labels.txt"}
# Siemens raw k-space (twix) example files of the twixtools repository, at a fixed commit.
TWIX_COMMIT = "ab8210e15ea38b3f35daa945e273acbac3f01d9f"
TWIX_URL = f"https://raw.githubusercontent.com/pehses/twixtools/{TWIX_COMMIT}/example_data/{{file}}"
TWIX_SHA256 = {
    "gre.dat": "10ce71c8cba94fb47989fe69d45c86673508f178e8b4c2399e805f27936b01ca",
    "epi.dat": "5311aa6eb58e76ffea5ca5c314299f85a838c7ac35ad5b273cd48863356f3954",
}
SRI24_SHA256 = {
    "spgr.nii.gz": "f3901d9eb4b942a222f517f5d8eddb3b4e1411b18e0d00e8db6cb6f4b32cee88",
    "erly.nii.gz": "8120884af3dc03d88817d6d24c0e92485c451e7af1742bec0b09d99e8ad6cb89",
    "late.nii.gz": "db90add8cfcec30074f3d251f4ddb076f2862e4f430a5c6721007cf05a7d5284",
}


# ---------------------------------------------------------------------------------------- helpers
def _pip_version(dist: str) -> str:
    """``"dist 1.2.3"``, or ``"dist (not installed)"``."""
    try:
        return f"{dist} {metadata.version(dist)}"
    except metadata.PackageNotFoundError:
        return f"{dist} (not installed)"


def _deb_version(package: str, source: str) -> str:
    """Debian package version from its changelog (first line), e.g. ``mricron-data 1.2-4``."""
    log = Path(f"/usr/share/doc/{package}/changelog.Debian.gz")
    try:
        with gzip.open(log, "rt", errors="replace") as fh:
            head = fh.readline()
        match = re.match(rf"{re.escape(source)} \(([^)]+)\)", head)
        return f"{package} {match.group(1)}" if match else package
    except OSError:
        return f"{package} (not installed)"


def _lazy(module: str, function: str, *args: Any) -> Callable[[Path], None]:
    """A download callable ``folder -> module.function(*args, folder)``, imported on call."""
    def download(folder: Path) -> None:
        getattr(importlib.import_module(module), function)(*args, folder)
    return download


_ITK_DIR = "/usr/share/doc/insighttoolkit5-examples/examples/Data"

CARDS: tuple[DatasetCard, ...] = (
    # ============ packaged with Debian/pip: never downloaded (loaders in corelib.data.packaged)
    DatasetCard(
        name="mni152",
        title="MNI ICBM152 2009a nonlinear symmetric template (nilearn copy)",
        files=tuple(f"mni_icbm152_{k}_tal_nlin_sym_09a_converted.nii.gz" for k in ("t1", "gm", "wm")),
        sources=(pip_package("nilearn", "datasets/data"), mirror("mni152")),
        licence="ICBM 2009a template: free use with copyright notice (McConnell Brain Imaging Centre, "
                "MNI, McGill); nilearn: BSD-3-Clause",
        citation="Fonov V. et al. Unbiased average age-appropriate atlases for pediatric studies. "
                 "NeuroImage 54(1):313-327, 2011; Fonov V. et al. NeuroImage 47:S102, 2009.",
        chapters=("registration", "segmentation", "preprocessing"),
        version=_pip_version("nilearn"),
        description="Skull-stripped T1 template (nilearn rescales it to [0, 1]) with GM/WM "
                    "probability maps, 1 mm (197x233x189) or resampled to 2 mm.",
    ),
    DatasetCard(
        name="colin27",
        title="Colin27 (ch2) single-subject T1 with AAL and Brodmann atlases (MRIcron templates)",
        files=("ch2.nii.gz", "ch2bet.nii.gz", "ch2better.nii.gz", "aal.nii.gz", "aal.nii.txt",
               "brodmann.nii.gz"),
        sources=(debian("mricron-data", "/usr/share/mricron/templates"), mirror("colin27")),
        licence="BSD-3-Clause (Debian mricron-data copyright, Chris Rorden)",
        citation="Holmes C.J. et al. Enhancement of MR images using registration for signal averaging. "
                 "J Comput Assist Tomogr 22(2):324-333, 1998; Tzourio-Mazoyer N. et al. Automated "
                 "anatomical labeling of activations in SPM. NeuroImage 15(1):273-289, 2002.",
        chapters=("registration", "segmentation"),
        version=_deb_version("mricron-data", "mricron"),
        description="ch2 with skull (1 mm, 181x217x181), ch2bet brain only, ch2better 0.5 mm "
                    "(301x370x316), AAL 116 labels, Brodmann areas; MNI space, RAS affine.",
    ),
    DatasetCard(
        name="head_ct",
        title="Head CT 'ProMED CT 0051' from the InVesalius examples (Cranium.inv3)",
        files=("Cranium.inv3",),
        sources=(debian("invesalius-examples", "/usr/share/doc/invesalius-examples/examples"),
                 mirror("head_ct")),
        licence="GPL-2 (Debian invesalius-examples copyright, CTI Renato Archer)",
        citation="Amorim P. et al. InVesalius: an interactive rendering framework for health care "
                 "support. ISVC 2015, LNCS 9474:45-54, Springer.",
        chapters=("ct", "segmentation", "reconstruction"),
        version=_deb_version("invesalius-examples", "invesalius-examples"),
        description="Real head CT in Hounsfield units, 108 slices of 256x256, "
                    "spacing 1.5 x 0.957 x 0.957 mm.",
    ),
    DatasetCard(
        name="itk_examples",
        title="ITK example data: BrainWeb T1/PD slices, registration pairs, KmeansTest volume",
        files=("BrainT1Slice.png", "BrainProtonDensitySlice.png", "BrainT1SliceBorder20.png",
               "BrainProtonDensitySliceBorder20.png", "BrainProtonDensitySliceShifted13x17y.png",
               "BrainProtonDensitySliceRotated10.png", "BrainProtonDensitySliceR10X13Y17.png",
               "BrainProtonDensitySliceR10X13Y17S12.png"),
        sources=(debian("insighttoolkit5-examples", _ITK_DIR), mirror("itk_examples")),
        licence="Apache-2.0 (Debian insighttoolkit5-examples copyright, Insight Software Consortium)",
        citation="McCormick M. et al. ITK: enabling reproducible research and open science. Front "
                 "Neuroinform 8:13, 2014; Cocosco C.A. et al. BrainWeb: online interface to a 3D MRI "
                 "simulated brain database. NeuroImage 5(4):S425, 1997.",
        chapters=("registration", "segmentation", "preprocessing"),
        version=_deb_version("insighttoolkit5-examples", "insighttoolkit5"),
        description="2D BrainWeb slices (217x181, 1 mm); PD slices moved by known transforms; "
                    "KmeansTest 3D T1 (128x128x62, 2x2x3 mm) with a 7-class k-means labelling "
                    "(files KmeansTest_T1UCharRaw.nii.gz, KmeansTest_T1KmeansPrelimSegmentation.nii.gz, "
                    "checked by load_kmeans_test).",
    ),
    DatasetCard(
        name="dicom_samples",
        title="DICOM samples of pydicom-data: chest radiograph, head CT, shoulder MR, liver MR",
        files=("RG1_UNCR.dcm", "693_UNCR.dcm", "MR2_UNCR.dcm", "MR-SIEMENS-DICOM-WithOverlays.dcm"),
        sources=(pip_package("data_store", "data", distribution="pydicom-data"),
                 mirror("dicom_samples")),
        licence="MIT (pydicom-data package); sample images from D. Clunie's public DICOM samples",
        citation="Mason D. et al. pydicom: an open source DICOM library. https://github.com/pydicom, "
                 "pydicom-data https://github.com/pydicom/pydicom-data",
        chapters=("dicom", "preprocessing"),
        version=_pip_version("pydicom-data"),
        description="RG1 chest CR (1955x1841, MONOCHROME1), 693 CT slice (512x512, 0.48 mm, HU), "
                    "MR2 shoulder SE (1024x1024, 0.195 mm), Siemens liver MR with a lesion overlay.",
    ),
    DatasetCard(
        name="dipy_samples",
        title="dipy sample files shipped in the wheel: anisotropic b0, T1 slice, 2D registration toys",
        files=("aniso_vox.nii.gz", "t1_coronal_slice.npy", "C.npy", "circle.npy"),
        sources=(pip_package("dipy", "data/files"), mirror("dipy_samples")),
        licence="BSD-3-Clause (dipy)",
        citation="Garyfallidis E. et al. Dipy, a library for the analysis of diffusion MRI data. "
                 "Front Neuroinform 8:8, 2014.",
        chapters=("preprocessing", "registration"),
        version=_pip_version("dipy"),
        description="aniso_vox b0 (58x58x24, 4x4x5 mm), t1_coronal_slice (256x256, spacing not "
                    "recorded), C and circle toy images (256x256) for 2D SyN.",
    ),
    DatasetCard(
        name="phantoms",
        title="Computed phantoms: Shepp-Logan image, analytic k-space, birdcage coil maps",
        files=(),
        sources=(pip_package("phantominator"),),
        licence="MIT (phantominator); BSD-3-Clause (sigpy)",
        citation="Shepp L.A., Logan B.F. The Fourier reconstruction of a head section. IEEE Trans "
                 "Nucl Sci 21(3):21-43, 1974; Ong F., Lustig M. SigPy. ISMRM 2019.",
        chapters=("reconstruction", "mri"),
        version=f"{_pip_version('phantominator')}; {_pip_version('sigpy')}",
        description="Nothing is read from disk: the phantoms are computed.",
    ),
    # ============ downloaded when online, mirrored offline (loaders in corelib.data.remote)
    DatasetCard(
        name="msd_hippocampus",
        title="Medical Segmentation Decathlon, Task04 Hippocampus",
        files=(f"{MSD_TASK}/dataset.json",),
        sources=(mirror("msd"),
                 cache("msd", url=MSD_URL, download=_lazy("corelib.data.remote", "_fetch_msd"),
                       md5=MSD_MD5)),
        licence="CC BY-SA 4.0",
        citation="Antonelli M. et al., The Medical Segmentation Decathlon, Nat Commun 13, 4128 (2022); "
                 "Simpson A.L. et al., arXiv:1902.09063 (2019)",
        chapters=("3.1", "3.2"),
        version="MSD 2018 release, Task04_Hippocampus.tar",
        description="260 T1 MRI crops (about 35x50x35, 1 mm) with anterior (1) and posterior (2) "
                    "hippocampus labels.",
    ),
    DatasetCard(
        name="ants_slices",
        title="ANTs 2D brain slices r16, r27, r30, r62, r64, r85",
        files=tuple(f"{n}slice.jpg" for n in ANTS_URLS),
        sources=(mirror("ants_slices"),
                 cache("ants_slices", url=ANTS_URLS["r16"].rsplit("/", 1)[0],
                       download=_lazy("corelib.data.remote", "_fetch_ants"))),
        licence="Apache-2.0",
        citation="Avants B.B. et al., A reproducible evaluation of ANTs similarity metric performance "
                 "in brain image registration, NeuroImage 54(3), 2033-2044 (2011); Tustison N.J. et al., "
                 "The ANTsX ecosystem, Sci Rep 11, 9068 (2021)",
        chapters=("3.1",),
        version="ANTsPy get_data slices (figshare 28726512-28726527)",
        description="Six 256x256 T1 brain slices of different subjects, for 2D registration.",
    ),
    DatasetCard(
        name="medmnist",
        title="MedMNIST v2 (BreastMNIST by default)",
        files=("breastmnist.npz",),
        sources=(mirror("medmnist"),
                 cache("medmnist", url=MEDMNIST_URL.format(flag="breastmnist"),
                       download=_lazy("corelib.data.remote", "_fetch_medmnist", "breastmnist"),
                       md5=BREASTMNIST_MD5)),
        licence="CC BY 4.0",
        citation="Yang J. et al., MedMNIST v2: a large-scale lightweight benchmark for 2D and 3D "
                 "biomedical image classification, Sci Data 10, 41 (2023); BreastMNIST from "
                 "Al-Dhabyani W. et al., Data in Brief 28, 104863 (2020)",
        chapters=("4.1",),
        version="MedMNIST v2 (Zenodo 6496656)",
        description="28x28 2D classification sets in the official npz layout.",
    ),
    DatasetCard(
        name="bccd",
        title="BCCD blood cell detection (light-microscopy blood smears, Pascal VOC boxes)",
        files=("BCCD/ImageSets/Main/train.txt", "BCCD/ImageSets/Main/val.txt",
               "BCCD/ImageSets/Main/test.txt", "BCCD/Annotations/BloodImage_00000.xml",
               "BCCD/JPEGImages/BloodImage_00000.jpg"),
        sources=(mirror("bccd"),
                 cache("bccd", url=BCCD_URL, download=_lazy("corelib.data.remote", "_fetch_bccd"))),
        licence="MIT (upstream LICENSE)",
        citation="Shenggan, BCCD Dataset: a small-scale dataset for blood cell detection, "
                 "https://github.com/Shenggan/BCCD_Dataset (MIT), built from cosmicad/dataset and "
                 "akshaylamba/all_CELL_data",
        chapters=("4.2",),
        version=f"BCCD_Dataset commit {BCCD_COMMIT[:7]}",
        description="364 blood-smear images (640x480 RGB JPEG) with 4,888 boxes: RBC 4,155, WBC 372, "
                    "Platelets 361; upstream split 205/87/72 (train/val/test). Label noise: two "
                    "zero-area RBC boxes (dropped by load_bccd), RBCs not all boxed in crowded fields.",
    ),
    DatasetCard(
        name="sri24",
        title="SRI24 multichannel atlas of the normal adult brain (T1, PD, T2, tissues, LPBA40)",
        files=tuple(f"inst/extdata/{f}" for f in SRI24_FILES.values()),
        sources=(mirror("sri24"),
                 cache("sri24", url=SRI24_URL.format(file=""),
                       download=_lazy("corelib.data.remote", "_fetch_sri24"))),
        licence="CC BY-SA 3.0",
        citation="Rohlfing T., Zahr N.M., Sullivan E.V., Pfefferbaum A. The SRI24 multichannel atlas "
                 "of normal adult human brain structure. Hum Brain Mapp 31(5):798-819, 2010",
        chapters=("2.1", "2.2", "5"),
        version="SRI24 via R package muschellij2/sri24 (commit 1910b84)",
        description="One averaged brain (24 subjects, 3 T), skull-stripped and co-registered: T1 (SPGR), "
                    "PD and T2 (early and late FSE echoes), 240x240x155 at 1 mm; tissue map (1 CSF, "
                    "2 GM, 3 WM) and 56 LPBA40 structures.",
    ),
    DatasetCard(
        name="twix_example",
        title="Siemens raw k-space examples of twixtools (2D GRE and EPI of a phantom, 2 coils)",
        files=tuple(f"example_data/{f}" for f in TWIX_SHA256),
        sources=(mirror("twixtools_example_data"),
                 cache("twix_example", url=TWIX_URL.format(file=""),
                       download=_lazy("corelib.data.remote", "_fetch_twix"))),
        licence="MIT (twixtools LICENSE)",
        citation="Ehses P., twixtools: file reader for Siemens twix (.dat) raw data, "
                 "https://github.com/pehses/twixtools (MIT)",
        chapters=("2.1",),
        version=f"twixtools example_data, commit {TWIX_COMMIT[:7]}",
        description="Real raw data (Skyra 3 T) of a structured phantom, 2 receive channels, 4 mm "
                    "slice, FOV 200 mm: gre.dat, a fully sampled 2D GRE (160 lines x 320 readout "
                    "samples with 2x oversampling); epi.dat, a single-shot EPI (needs ghost "
                    "correction). Read with pip twixtools.",
    ),
)
