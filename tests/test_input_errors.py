"""Issue 11: a wrong input to a public corelib function raises an error that names the argument.

One table per class of problem the issue lists. Each case is ``(call, exception, pattern)``; the
pattern names the argument (or the thing) that is wrong. Legal inputs that look unusual are
tested in ``test_legal_edge_cases`` so that the checks stay conservative.
"""
from __future__ import annotations

import io
import plistlib
import tarfile

import numpy as np
import pytest
import torch
from torch import nn

from corelib import metrics, report, runtime, train, viz
from corelib import classification as cl
from corelib import data
from corelib import registration as reg
from corelib import segmentation as seg
from corelib.classification import features as fx
from corelib.data import preprocess, remote
from corelib.data.ct_invesalius import read_inv3
from corelib.data.io import Volume
from corelib.registration import classical, learned
from corelib.restoration import denoise, lowdose, superres
from corelib.segmentation import atlas, volumes

NAN, INF = float("nan"), float("inf")
RNG = np.random.default_rng(0)
IMG2 = RNG.random((16, 16)).astype(np.float32)
VOL3 = RNG.random((6, 8, 8)).astype(np.float32)
MASK3 = np.zeros((6, 8, 8), bool)
MASK3[2:4, 3:5, 3:5] = True


def _with_nan(a: np.ndarray) -> np.ndarray:
    a = a.copy()
    a.flat[5] = np.nan
    return a


def _pv():
    return volumes.pad_volumes([VOL3], [MASK3.astype(np.int64)], (6, 8, 8))


def _run(case):
    call, exc, pattern = case
    with pytest.raises(exc, match=pattern):
        call()


# ----------------------------------------------------------------------- NaN or infinite parameters
NAN_PARAMETERS = {
    "rician sigma nan": (lambda: denoise.add_rician_noise(IMG2, NAN), ValueError, "sigma"),
    "rician image nan": (lambda: denoise.add_rician_noise(_with_nan(IMG2), 0.1), ValueError, "image"),
    "window width nan": (lambda: preprocess.window_level(IMG2, 40, NAN), ValueError, "width"),
    "window center inf": (lambda: preprocess.window_level(IMG2, INF, 80), ValueError, "center"),
    "viz ct_window width nan": (lambda: viz.ct_window(40, NAN), ValueError, "width"),
    "dose i0 inf": (lambda: lowdose.simulate_low_dose(np.zeros((16, 16)), INF, 0.1, 8), ValueError, "i0"),
    "dose i0 nan": (lambda: lowdose.simulate_low_dose(np.zeros((16, 16)), NAN, 0.1, 8), ValueError, "i0"),
    "pixel_cm nan": (lambda: lowdose.project(np.zeros((16, 16)), NAN, 8), ValueError, "pixel_cm"),
    "doses nan": (lambda: lowdose.make_low_dose_set(np.zeros((1, 16, 16)), 0.1, (NAN,), 8), ValueError, "doses"),
    "warp image nan pixel": (lambda: classical.warp(_with_nan(IMG2), np.zeros((2, 16, 16))), ValueError,
                             "image contains 1 NaN"),
    "warp_tensor moving nan": (lambda: learned.warp_tensor(torch.tensor(_with_nan(IMG2))[None, None],
                                                           torch.zeros(1, 2, 16, 16)), ValueError, "moving"),
    "blur sigma nan": (lambda: superres.blur_downsample(IMG2, 2, sigma=NAN), ValueError, "sigma"),
    "interpolate input nan": (lambda: superres.interpolate(_with_nan(IMG2), 2), ValueError, "low"),
    "resample spacing nan": (lambda: preprocess.resample_to_spacing(Volume(VOL3, (1, 1, 1)), (1, NAN, 1)),
                             ValueError, "spacing"),
    "intensity bias nan": (lambda: atlas.augment_intensity(VOL3, seed=0, bias=NAN), ValueError, "bias"),
    "deform rotate nan": (lambda: atlas.deform(VOL3, seed=0, rotate_deg=NAN), ValueError, "rotate_deg"),
    "combo alpha nan": (lambda: seg.ComboLoss(alpha=NAN), ValueError, "alpha"),
    "psnr test nan": (lambda: metrics.psnr(IMG2, _with_nan(IMG2), 1.0), ValueError, "test"),
    "fit lr nan": (lambda: train.fit(nn.Linear(1, 1), [(torch.ones(1, 1), torch.ones(1, 1))], nn.MSELoss(),
                                     steps=1, lr=NAN, progress=False), ValueError, "lr"),
    "registration smooth nan": (lambda: reg.registration_loss(reg.RegNet(2, (4, 4)), torch.zeros(1, 1, 8, 8),
                                                              torch.zeros(1, 1, 8, 8), smooth=NAN),
                                ValueError, "smooth"),
}


@pytest.mark.parametrize("case", NAN_PARAMETERS.values(), ids=NAN_PARAMETERS.keys())
def test_nan_or_infinite_parameters(case):
    _run(case)


# ------------------------------------------------------------- zero, negative, inconsistent sizes
SIZES = {
    "zero voxel spacing": (lambda: preprocess.resample_to_spacing(Volume(VOL3, (1, 0, 1)), 1.0), ValueError,
                           "vol.spacing must be positive"),
    "zero target spacing": (lambda: preprocess.resample_to_spacing(Volume(VOL3, (1, 1, 1)), 0), ValueError,
                            "spacing must be positive"),
    "spacing per axis count": (lambda: preprocess.resample_to_spacing(Volume(VOL3, (1, 1, 1)), (1, 1)),
                               ValueError, "spacing must be one number or 3"),
    "negative crop margin": (lambda: preprocess.crop_to_mask(Volume(VOL3, (1, 1, 1)), MASK3, margin=-1),
                             ValueError, "margin must be an integer at least 0"),
    "2-tuple margin for 3D": (lambda: preprocess.crop_to_mask(Volume(VOL3, (1, 1, 1)), MASK3, margin=(1, 1)),
                              ValueError, "margin must be one integer or 3"),
    "percentiles reversed": (lambda: preprocess.normalize_intensity(VOL3, "percentile", percentiles=(99, 1)),
                             ValueError, "percentiles must be"),
    "percentile above 100": (lambda: preprocess.normalize_intensity(VOL3, "percentile", percentiles=(1, 101)),
                             ValueError, "percentiles"),
    "negative case count": (lambda: remote.load_hippocampus(-1), ValueError, "cases must be a positive integer"),
    "zero pairs": (lambda: reg.make_pairs([0, 1, 2], 0), ValueError, "n_pairs"),
    "pad_or_crop zero size": (lambda: reg.pad_or_crop(IMG2, (0, 4)), ValueError, "shape"),
    "interpolate factor 0": (lambda: superres.interpolate(IMG2, 0), ValueError, "factor"),
    "thick slices axis 5": (lambda: superres.thick_slices(np.zeros((4, 4, 4)), 2, axis=5), ValueError,
                            "axis=5 is out of range"),
    "blur axes out of range": (lambda: superres.blur_downsample(IMG2, 2, axes=(0, 3)), ValueError, "axes=3"),
    "affine levels empty": (lambda: classical.affine_register(IMG2, IMG2, levels=()), ValueError, "levels is empty"),
    "affine levels zero": (lambda: classical.affine_register(IMG2, IMG2, levels=(2, 0)), ValueError, "levels"),
    "demons iterations per level": (lambda: classical.demons_register(IMG2, IMG2, levels=(2, 1), iterations=(5,)),
                                    ValueError, "iterations must be one integer or 2"),
    "random crops n=0": (lambda: volumes.random_crops(_pv(), (4, 4, 4), 0), ValueError, "n must be"),
    "random crops 2D size for 3D": (lambda: volumes.random_crops(_pv(), (4, 4), 2), ValueError, "size must be"),
    "predict_3d overlap 1": (lambda: volumes.predict_3d(nn.Identity(), VOL3, (4, 4, 4), overlap=1.0),
                             ValueError, "overlap"),
    "structure box multiple 0": (lambda: atlas.structure_box(MASK3, 1, 0), ValueError, "multiple"),
    "montage n=0": (lambda: viz.montage(VOL3, n=0), ValueError, "n must be a positive integer"),
    "three_plane spacing nan": (lambda: viz.three_plane(VOL3, spacing=(1, NAN, 1)), ValueError, "spacing"),
    "patch kernel 0": (lambda: seg.SmallVNet(kernel=0), ValueError, "kernel"),
    "unet no channels": (lambda: seg.unet(channels=()), ValueError, "channels is empty"),
    "regnet field factor 0": (lambda: reg.RegNet(2, (4, 4), field_factor=0), ValueError, "field_factor"),
    "integrate steps 0": (lambda: reg.integrate_velocity(torch.zeros(1, 2, 8, 8), steps=0), ValueError, "steps"),
    "rigid shape 3D": (lambda: reg.rigid_displacement(torch.zeros(1, 3), (4, 4, 4)), ValueError, "shape"),
    "glrlm levels 1": (lambda: fx.glrlm_features(IMG2, levels=1), ValueError, "levels"),
    "stream batch 0": (lambda: cl.BatchStream(torch.zeros(4, 1, 8, 8), torch.zeros(4, dtype=torch.long),
                                              batch_size=0), ValueError, "batch_size"),
    "poisson accel 0.5": (lambda: data.poisson_mask(32, accel=0.5), ValueError, "accel"),
}


@pytest.mark.parametrize("case", SIZES.values(), ids=SIZES.keys())
def test_zero_negative_or_inconsistent_sizes(case):
    _run(case)


# ------------------------------------------------------------ arguments silently replaced before
REPLACED = {
    "warp mode unknown": (lambda: reg.warp_tensor(torch.zeros(1, 1, 8, 8), torch.zeros(1, 2, 8, 8), mode="cubic"),
                          ValueError, "mode must be one of"),
    "warp padding unknown": (lambda: reg.warp_tensor(torch.zeros(1, 1, 8, 8), torch.zeros(1, 2, 8, 8),
                                                     padding_mode="edge"), ValueError, "padding_mode must be one of"),
    "3 score columns binary": (lambda: metrics.auc_acc([0, 1, 0, 1], np.full((4, 3), 0.3)), ValueError,
                               "binary y_score must be"),
    "3 score columns evaluate_binary": (lambda: cl.evaluate_binary([0, 1, 0, 1], np.full((4, 3), 0.3)),
                                        ValueError, "score must be"),
    "glcm levels above 256": (lambda: fx.glcm_features(IMG2, levels=300), ValueError, "levels"),
    "features uint16": (lambda: fx.first_order_features(np.full((8, 8), 1000, np.uint16)), ValueError,
                        "img has dtype uint16"),
    "features float 0..255": (lambda: fx.first_order_features(np.full((8, 8), 200.0)), ValueError,
                              r"float img must lie in \[0, 1\]"),
    "to_tensor uint16": (lambda: cl.to_tensor(np.zeros((2, 8, 8), np.uint16)), ValueError, "images have dtype uint16"),
    "to_tensor float 0..255": (lambda: cl.to_tensor(np.full((2, 8, 8), 200.0)), ValueError, "float images"),
    "psnr complex": (lambda: metrics.psnr(IMG2 + 1j, IMG2, 1.0), TypeError, "reference must be real"),
    "psnr data_range cannot match": (lambda: metrics.psnr(IMG2 * 255, IMG2 * 255, 1.0), ValueError,
                                     "data_range=1.0 cannot match"),
    "ssim data_range cannot match": (lambda: metrics.ssim(IMG2 * 255, IMG2 * 255, 1.0), ValueError, "data_range"),
    "run_card one string": (lambda: runtime.run_card(datasets="medmnist"), TypeError, "datasets must be a list"),
    "load_hippocampus one string": (lambda: remote.load_hippocampus("hippocampus_001"), TypeError, "cases must be"),
}


@pytest.mark.parametrize("case", REPLACED.values(), ids=REPLACED.keys())
def test_arguments_not_silently_replaced(case):
    _run(case)


# ----------------------------------------------- mismatched lengths, repeated ids, empty collections
LENGTHS = {
    "fields vs pairs": (lambda: reg.evaluate_fields([np.zeros((2, 8, 8))], np.zeros((3, 8, 8), np.uint8),
                                                    np.array([[0, 1], [1, 2]])), ValueError,
                        "fields and pairs must have the same length, got 1 and 2"),
    "pairs index out of range": (lambda: reg.evaluate_fields([np.zeros((2, 8, 8))], np.zeros((3, 8, 8), np.uint8),
                                                             np.array([[0, 5]])), ValueError, "pairs hold indices"),
    "make_pairs repeated ids": (lambda: reg.make_pairs([3, 3, 4], 2), ValueError, "indices has repeated items"),
    "empty split": (lambda: data.split_by_subject([]), ValueError, "ids is empty"),
    "hippocampus empty list": (lambda: remote.load_hippocampus([]), ValueError, "cases is empty"),
    "hippocampus repeated ids": (lambda: remote.load_hippocampus(["hippocampus_001"] * 2), ValueError,
                                 "cases has repeated items"),
    "summary names vs labels": (lambda: seg.summary_row(_table(), (1, 2), names=("a",)), ValueError,
                                "names and labels must have the same length"),
    "pad_volumes ids": (lambda: volumes.pad_volumes([VOL3], None, (6, 8, 8), ids=["a", "b"]), ValueError,
                        "images and ids"),
    "evaluate ids": (lambda: seg.evaluate([MASK3.astype(int)], [MASK3.astype(int)], (1,), ids=["a", "b"]),
                     ValueError, "preds and ids"),
    "doses empty": (lambda: lowdose.make_low_dose_set(np.zeros((1, 16, 16)), 0.1, ()), ValueError, "doses is empty"),
    "deep supervision weights zero": (lambda: seg.deep_supervision(nn.MSELoss(), [0, 0]), ValueError, "weights"),
}


def _table():
    import pandas as pd

    return pd.DataFrame({"dice_1": [0.8], "hd95_1": [1.0], "asd_1": [0.5],
                         "dice_2": [0.7], "hd95_2": [2.0], "asd_2": [0.6]})


@pytest.mark.parametrize("case", LENGTHS.values(), ids=LENGTHS.keys())
def test_mismatched_lengths_repeats_and_empty(case):
    _run(case)


# --------------------------------------------------------- profiles, claims, intervals, training
def test_pick_profiles_must_define_the_same_keys():
    with pytest.raises(ValueError, match="only in quick \\['b'\\]"):
        runtime.pick(quick={"a": 1, "b": 2}, full={"a": 3})


def test_reversed_intervals_are_refused():
    with pytest.raises(ValueError, match="reversed"):
        report.decide(0.2, -0.1)
    assert report.decide(0.0, 0.0) == report.decide(-0.1, 0.1)  # touching the margin is not clearing it


def test_unknown_claim_id_is_refused(tmp_path, monkeypatch):
    survey = tmp_path / "survey_map.md"
    survey.write_text("| C-DN-a | claim: something |\n", encoding="utf-8")
    monkeypatch.setattr(report, "MAP_PATH", survey)
    verdict = report.compare(np.arange(10.0) + 1, np.arange(10.0), n_boot=200)
    with pytest.raises(ValueError, match="claim id 'C-DN-z' is not in survey_map.md"):
        report.claim("C-DN-z", verdict, notebook="x/y")


def test_fit_with_nan_validation_says_so():
    model = nn.Linear(1, 1)
    batches = [(torch.ones(2, 1), torch.ones(2, 1))]
    with pytest.raises(ValueError, match="val_fn returned val_loss=nan at step 1"):
        train.fit(model, batches, nn.MSELoss(), steps=1, val_fn=lambda m: {"val_loss": float("nan")},
                  progress=False, device="cpu")


# ------------------------------------------------------------- clear messages instead of vague ones
def _inv3_without_spacing(path):
    raw = np.zeros((2, 2, 2), np.int16).tobytes()
    main = plistlib.dumps({"matrix": {"filename": "matrix.dat", "dtype": "int16", "shape": [2, 2, 2]},
                           "modality": "CT"})
    with tarfile.open(path, "w:gz") as tar:
        for name, blob in (("main.plist", main), ("matrix.dat", raw)):
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return path


def _missing_label_entries(tmp_path):
    img, lab = tmp_path / "hippocampus_001.nii.gz", tmp_path / "hippocampus_001_label.nii.gz"
    img.write_bytes(b"")
    return [("hippocampus_001", img, lab)]


CLEAR = {
    "similarity NCC spelled wrong": (lambda: reg.registration_loss(reg.RegNet(2, (4, 4)), torch.zeros(1, 1, 8, 8),
                                                                   torch.zeros(1, 1, 8, 8), similarity="cc"),
                                     ValueError, "similarity must be one of 'ncc', 'mse'"),
    "loss name None": (lambda: seg.make_loss(None), ValueError, "unknown loss None; choose one of"),
    "affine metric unknown": (lambda: classical.affine_register(IMG2, IMG2, metric="mi"), ValueError,
                              "metric must be one of 'mse', 'ncc', 'mattes'"),
    "labels not in results table": (lambda: seg.summary_row(_table(), (1, 3)), ValueError,
                                    r"labels \[3\] are not in the results table, which has labels \[1, 2\]"),
    "psnr axis out of range": (lambda: metrics.psnr(VOL3, VOL3 * 0.9, 1.0, per_slice=True, axis=3), ValueError,
                               "axis=3 is out of range"),
    "predict_2d axis out of range": (lambda: volumes.predict_2d(nn.Identity(), VOL3, axis=3), ValueError, "axis=3"),
    "glcm levels 0": (lambda: fx.glcm_features(IMG2, levels=0), ValueError, "levels must be an integer in"),
    "3D shape to a 2D function": (lambda: viz.show_grid([VOL3]), ValueError, r"images\[0\] must be 2D"),
    "complex image to viz": (lambda: viz.show_grid([IMG2 * 1j]), TypeError, r"images\[0\] is complex"),
    "singular affine": (lambda: atlas.resample_to_grid(VOL3, np.diag([1.0, 0.0, 1.0, 1.0]), np.eye(4), (4, 4, 4)),
                        ValueError, "affine is singular"),
    "seed 2**64": (lambda: runtime.seed_everything(2**64), ValueError, "seed must be an integer"),
    "2D net given 3 channels": (lambda: seg.unet(2, in_channels=1, channels=(4, 8))(torch.zeros(1, 3, 8, 8)),
                                ValueError, "expected 1 input channels, got 3"),
    "2D net given a 3D volume": (lambda: seg.unet(2, in_channels=1, channels=(4, 8))(torch.zeros(1, 1, 4, 8, 8)),
                                 ValueError, "expected a \\(B, C, H, W\\) tensor"),
    "classifier targets out of range": (lambda: cl.train_classifier(cl.build_net("alexnet", width=0.25),
                                                                    torch.zeros(4, 1, 28, 28),
                                                                    torch.tensor([0, 1, 5, 0]),
                                                                    torch.zeros(2, 1, 28, 28),
                                                                    torch.tensor([0, 1]), steps=1, progress=False),
                                        ValueError, "y holds classes 0..5, but the model has 2 outputs"),
    "one_hot labels out of range": (lambda: reg.one_hot(torch.full((1, 1, 4, 4), 3), 3), ValueError,
                                    "outside the num_classes=3 classes"),
    "medmnist flag None": (lambda: data.load_medmnist(None), TypeError, "flag must be a string"),
    "ants slice None": (lambda: data.load_ants_slice(None), TypeError, "name must be a string"),
    "dataset name None": (lambda: data.card(None), KeyError, "unknown dataset None; known datasets"),
    "float step count": (lambda: runtime.steps(2.5), ValueError, "steps must be a positive integer"),
}


@pytest.mark.parametrize("case", CLEAR.values(), ids=CLEAR.keys())
def test_clear_messages(case):
    _run(case)


def test_threads_variable_is_named(monkeypatch):
    monkeypatch.setenv("CORELIB_THREADS", "abc")
    with pytest.raises(ValueError, match="CORELIB_THREADS='abc'"):
        runtime.set_threads()


def test_read_nifti_on_a_folder_says_folder(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a folder, not a NIfTI file"):
        data.read_nifti(tmp_path)


def test_inv3_without_spacing_is_corrupt_not_a_key_error(tmp_path):
    path = _inv3_without_spacing(tmp_path / "x.inv3")
    with pytest.raises(data.CorruptFileError, match="no valid 'spacing'"):
        read_inv3(path)


def test_missing_label_file_is_not_an_unknown_case(tmp_path, monkeypatch):
    monkeypatch.setattr(remote, "_task_dir", lambda: tmp_path)
    monkeypatch.setattr(remote, "_training_entries", lambda task: _missing_label_entries(tmp_path))
    with pytest.raises(data.DataNotFoundError, match="hippocampus_001_label.nii.gz is missing"):
        remote.load_hippocampus(["hippocampus_001"])


# ------------------------------------------------------------- legal inputs stay legal
def test_legal_edge_cases():
    # NumPy integers are integers
    assert runtime.steps(np.int64(3)) == 3
    hist = train.fit(nn.Linear(1, 1), [(torch.ones(2, 1), torch.ones(2, 1))], nn.MSELoss(), steps=np.int64(2),
                     progress=False, device="cpu")
    assert hist.steps == 2
    # names are matched ignoring case where the issue asks for it
    assert isinstance(seg.make_loss("Dice"), nn.Module)
    loss = reg.registration_loss(reg.RegNet(2, (4, 4)), torch.rand(1, 1, 8, 8), torch.rand(1, 1, 8, 8),
                                 similarity="NCC")
    assert torch.isfinite(loss)
    # a reference slightly outside data_range is fine (e.g. a clipped prediction up to 1.2)
    assert np.isfinite(metrics.psnr(np.clip(IMG2 * 1.5, 0, 1.5), IMG2, 1.0))
    # binary scores as two columns, uint8 and [0, 1] float images, bool masks, zero sigma
    assert metrics.auc_acc([0, 1, 0, 1], np.array([[0.8, 0.2], [0.1, 0.9], [0.6, 0.4], [0.3, 0.7]]))[0] == 1.0
    assert fx.first_order_features(np.full((8, 8), 255, np.uint8))["mean"] == pytest.approx(1.0)
    assert cl.to_tensor(np.ones((2, 8, 8))).max() == 1.0
    assert np.array_equal(denoise.add_rician_noise(np.ones((4, 4)), 0.0), np.ones((4, 4), np.float32))
    # percentiles (0, 100) are minmax; a margin of 0 per axis; negative axis counts from the end
    assert preprocess.normalize_intensity(VOL3, "percentile", percentiles=(0, 100)).max() == pytest.approx(1.0)
    assert preprocess.bounding_box(MASK3, (0, 0, 0)) == (slice(2, 4), slice(3, 5), slice(3, 5))
    assert superres.thick_slices(np.ones((4, 4, 4)), 2, axis=-1).shape == (4, 4, 2)
    # a warp of a finite image with a zero field is the image
    assert classical.warp(IMG2, np.zeros((2, 16, 16))).shape == IMG2.shape
