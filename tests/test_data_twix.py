"""The twix raw k-space card and loader (real Siemens raw data of twixtools), offline on the mirror."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from corelib.data import fetch, remote
from corelib.data.registry import CACHE_ENV, MIRROR_ENV, CorruptFileError, DataNotFoundError

SHARED = Path(os.environ.get(MIRROR_ENV, "").strip() or Path(__file__).resolve().parents[2] / "shared" / "data")
needs_twix = pytest.mark.skipif(not (SHARED / "twixtools_example_data").is_dir(),
                                reason="offline mirror of the twixtools examples not present")


@needs_twix
def test_gre_from_mirror(monkeypatch, capsys):
    monkeypatch.setenv(MIRROR_ENV, str(SHARED))
    scan = remote.load_twix("gre")
    k = scan.kspace
    assert k.dtype == np.complex64 and k.shape == (2, 160, 160)
    assert np.all(np.isfinite(k))
    # the k-space centre holds the most energy; the root-sum-of-squares image shows an object
    power = (np.abs(k) ** 2).sum(axis=0)
    assert np.unravel_index(power.argmax(), power.shape) in {(r, c) for r in range(75, 86)
                                                            for c in range(75, 86)}
    coil = np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(k, axes=(-2, -1))), axes=(-2, -1))
    rss = np.sqrt((np.abs(coil) ** 2).sum(axis=0))
    assert rss[50:110, 50:110].mean() > 3 * rss[:10, :10].mean()
    assert scan.meta["coils"] == 2 and scan.meta["object"] == "phantom"
    out = capsys.readouterr()
    assert out.err == "" and out.out == "", "twixtools' progress output must be silenced"


def test_twix_offline_without_mirror(monkeypatch, tmp_path):
    (tmp_path / "mirror").mkdir()
    monkeypatch.setenv(MIRROR_ENV, str(tmp_path / "mirror"))
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))

    def no_network(url, dest, **kwargs):
        raise OSError(f"network is unreachable: {url}")

    monkeypatch.setattr(fetch, "download", no_network)
    with pytest.raises((DataNotFoundError, OSError)):
        remote.load_twix("gre")


@needs_twix
def test_corrupt_twix_file_is_an_error(monkeypatch, tmp_path):
    folder = tmp_path / "mirror" / "twixtools_example_data" / "example_data"
    folder.mkdir(parents=True)
    for name in ("gre.dat", "epi.dat"):
        data = (SHARED / "twixtools_example_data" / "example_data" / name).read_bytes()
        if name == "gre.dat":
            data = data[:-10] + b"0123456789"
        (folder / name).write_bytes(data)
    monkeypatch.setenv(MIRROR_ENV, str(tmp_path / "mirror"))
    with pytest.raises(CorruptFileError, match="sha256"):
        remote.load_twix("gre")
    with pytest.raises(ValueError, match="kind"):
        remote.load_twix("epi")
