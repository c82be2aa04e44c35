"""Loaders of the package-shipped datasets: shapes, geometry, values, and clear errors."""
from __future__ import annotations

import dataclasses
import io
import shutil
import tarfile

import numpy as np
import pytest

import corelib.data as data
from corelib.data import registry
from corelib.data.ct_invesalius import read_inv3
from corelib.data.registry import CorruptFileError, DataNotFoundError, debian

PACKAGED = ("mni152", "colin27", "head_ct", "itk_examples", "dicom_samples", "dipy_samples",
            "phantoms")


def test_every_card_is_registered_and_found() -> None:
    for name in PACKAGED:
        c = data.card(name)
        assert c.licence and c.citation and c.sources and c.version, name
        assert c.found_in() is not None, f"{name} not found: {data.status(print_table=False)}"


# ---------------------------------------------------------------------------------------- MNI152
def test_mni152_t1_and_brain_mask_2mm() -> None:
    t1 = data.load_mni152("t1")
    assert t1.shape == (197, 233, 189) and t1.spacing == (1.0, 1.0, 1.0)
    assert t1.array.dtype == np.float32 and 0.0 <= t1.array.min() and t1.array.max() <= 1.0
    brain = data.load_mni152("brain", resolution=2)
    assert brain.shape == (99, 117, 95) and brain.spacing == (2.0, 2.0, 2.0)
    assert brain.array.dtype == bool and 0.1 < brain.array.mean() < 0.5
    np.testing.assert_allclose(np.diag(brain.affine)[:3], 2.0)
    np.testing.assert_allclose(brain.affine[:3, 3], t1.affine[:3, 3])  # same origin


# ---------------------------------------------------------------------------------------- Colin27
def test_colin27_aal_labels() -> None:
    aal = data.load_colin27("aal")
    labels = data.aal_labels()
    assert aal.shape == (181, 217, 181) and aal.spacing == (1.0, 1.0, 1.0)
    assert len(labels) == 116 and labels[1] == "Precentral_L" and labels[116] == "Vermis_10"
    values = set(np.unique(aal.array).tolist())
    assert 0 in values and values - {0} <= set(labels) and len(values) == 117
    assert aal.meta["labels"] == labels


def test_colin27_ch2better_is_half_mm() -> None:
    vol = data.load_colin27("ch2better")
    assert vol.shape == (301, 370, 316) and vol.spacing == (0.5, 0.5, 0.5)


# ---------------------------------------------------------------------------------------- head CT
def test_head_ct_hounsfield_units_and_masks() -> None:
    ct = data.load_head_ct()
    assert ct.shape == (108, 256, 256) and ct.array.dtype == np.int16
    np.testing.assert_allclose(ct.spacing, (1.5, 0.9570312, 0.9570312))
    hu = ct.array
    assert -1100 < np.median(hu[:, :20, :20]) < -900  # air in the corner
    assert 0 < np.median(hu[54, 100:140, 110:150]) < 80  # brain
    assert hu.max() > 1000
    assert ct.meta["units"] == "HU" and ct.meta["window"] == {"level": -18.0, "width": 406.0}
    masks = data.head_ct_masks(ct)
    assert set(masks) == {"body", "bone", "soft"}
    assert 0.2 < masks["body"].mean() < 0.5 and 0.02 < masks["bone"].mean() < 0.15
    assert (hu[masks["bone"]] >= 300).all() and not (masks["soft"] & ~masks["body"]).any()
    ct.array[:] = 0  # the in-process cache hands out copies
    assert data.load_head_ct().array.max() > 1000


def test_inv3_rejects_truncated_and_unsafe_archives(tmp_path) -> None:
    src = data.locate("head_ct") / "Cranium.inv3"
    cut = tmp_path / "cut.inv3"
    cut.write_bytes(src.read_bytes()[: 2_000_000])
    with pytest.raises(CorruptFileError, match="cut.inv3"):
        read_inv3(cut)
    evil = tmp_path / "evil.inv3"
    with tarfile.open(evil, "w:gz") as tar:
        info = tarfile.TarInfo("../evil.plist")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"abc"))
    with pytest.raises(CorruptFileError, match="unsafe"):
        read_inv3(evil)
    assert not (tmp_path.parent / "evil.plist").exists()


# ------------------------------------------------------------------------------------ ITK examples
def test_brainweb_slices_are_aligned() -> None:
    s = data.load_brainweb_slices()
    assert s["t1"].shape == s["pd"].shape == (217, 181) and s["t1"].spacing == (1.0, 1.0)


def test_registration_pairs_known_translation() -> None:
    pairs = data.load_registration_slices()
    shift = pairs["shift"]
    assert shift["transform"] == {"rotation_deg": 0.0, "translation": (13.0, 17.0), "scale": 1.0}
    fixed, moving = shift["fixed"].array, shift["moving"].array
    assert fixed.shape == moving.shape == (257, 221)
    np.testing.assert_array_equal(moving[17 + 40:-40, 13 + 40:-40], fixed[40:-40 - 17, 40:-40 - 13])
    assert pairs["similarity"]["transform"]["scale"] == pytest.approx(1 / 1.2)
    assert pairs["rigid"]["transform"]["rotation_deg"] == 10.0


def test_kmeans_test_volume_has_seven_classes() -> None:
    t1, labels = data.load_kmeans_test()
    assert t1.shape == labels.shape == (128, 128, 62) and t1.spacing == (2.0, 2.0, 3.0)
    assert np.unique(labels.array).tolist() == list(range(7))


# ------------------------------------------------------------------------------------------ DICOM
def test_dicom_ct_in_hounsfield_units() -> None:
    ct = data.load_dicom("ct")
    ds = ct.meta["dataset"]
    raw = ds.pixel_array.astype(np.float32)
    inside = ~ct.meta["padding"]
    np.testing.assert_allclose(ct.array[inside], raw[inside] * float(ds.RescaleSlope)
                               + float(ds.RescaleIntercept))
    assert ct.meta["units"] == "HU" and ct.meta["Modality"] == "CT"
    assert ct.array.min() == -1024 and ct.spacing == pytest.approx((0.478516, 0.478516))
    assert ct.meta["RescaleIntercept"] == -1024 and ct.meta["PatientPosition"] == "HFS"


def test_dicom_other_samples() -> None:
    xr = data.load_dicom("chest_xray")
    assert xr.shape == (1955, 1841) and xr.meta["inverted"] and not xr.meta["spacing_known"]
    lesion = data.load_dicom("mr_lesion")
    assert lesion.meta["Modality"] == "MR" and lesion.meta["overlay"].shape == lesion.shape
    assert lesion.meta["overlay"].any()


def test_read_dicom_bad_files(tmp_path) -> None:
    src = data.locate("dicom_samples") / "693_UNCR.dcm"
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(src.read_bytes()[: src.stat().st_size // 2])
    with pytest.raises(CorruptFileError, match="cut.dcm"):
        data.read_dicom(cut)
    text = tmp_path / "not_dicom.dcm"
    text.write_text("hello")
    with pytest.raises(CorruptFileError, match="not_dicom.dcm"):
        data.read_dicom(text)


# ----------------------------------------------------------------------------------- dipy, phantoms
def test_dipy_samples() -> None:
    b0 = data.load_dipy_sample("b0")
    assert b0.shape == (58, 58, 24) and b0.spacing == (4.0, 4.0, 5.0) and b0.affine is not None
    assert data.load_dipy_sample("t1_slice").shape == (256, 256)


def test_phantoms_kspace_matches_image() -> None:
    n = 64
    img = data.shepp_logan(n)
    assert img.shape == (n, n) and img.dtype == np.float32 and img.max() == pytest.approx(1.0)
    k = data.kspace_phantom(n)
    assert k.shape == (n, n) and k.dtype == np.complex64
    recon = np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(k))).real
    assert np.median(np.abs(recon - img)) < 0.02  # equal up to Gibbs ringing at the edges
    assert np.corrcoef(recon.ravel(), img.ravel())[0, 1] > 0.9
    maps = data.coil_maps(n, 4)
    np.testing.assert_allclose((np.abs(maps) ** 2).sum(0), 1.0, atol=1e-5)
    ks = data.kspace_phantom(n, ncoils=4)
    coils = np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(ks, axes=(-2, -1))), axes=(-2, -1))
    combined = (np.conj(maps) * coils).sum(0)
    np.testing.assert_allclose(combined.real, recon, atol=1e-3)
    assert 0.15 < data.poisson_mask(n, accel=4).mean() < 0.4


# ------------------------------------------------------------------------------------- bad inputs
@pytest.mark.parametrize("loader", [data.load_mni152, data.load_colin27, data.load_dicom,
                                    data.load_dipy_sample])
def test_unknown_kind_lists_valid_kinds(loader) -> None:
    with pytest.raises(ValueError, match="valid kinds"):
        loader("nope")


@pytest.mark.parametrize("name, package, loader", [
    ("colin27", "mricron-data", lambda: data.load_colin27("ch2")),
    ("head_ct", "invesalius-examples", data.load_head_ct),
    ("itk_examples", "insighttoolkit5-examples", data.load_brainweb_slices),
])
def test_missing_debian_package_says_how_to_install(monkeypatch, tmp_path, name, package, loader):
    fake = dataclasses.replace(data.card(name), sources=(debian(package, str(tmp_path / "no")),))
    monkeypatch.setitem(registry._REGISTRY, name, fake)
    with pytest.raises(DataNotFoundError) as err:
        loader()
    assert f"apt-get install -y --no-install-recommends {package}" in str(err.value)


def test_corrupt_head_ct_names_the_file(monkeypatch, tmp_path) -> None:
    folder = tmp_path / "ct"
    folder.mkdir()
    src = data.locate("head_ct") / "Cranium.inv3"
    with open(src, "rb") as fin, open(folder / "Cranium.inv3", "wb") as fout:
        shutil.copyfileobj(fin, fout, length=1 << 20)
        fout.truncate(5_000_000)
    fake = dataclasses.replace(data.card("head_ct"),
                               sources=(debian("invesalius-examples", str(folder)),))
    monkeypatch.setitem(registry._REGISTRY, "head_ct", fake)
    with pytest.raises(CorruptFileError, match=str(folder / "Cranium.inv3")):
        data.load_head_ct()
