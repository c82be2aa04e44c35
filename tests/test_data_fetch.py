"""Downloads with checksums and archive extraction that cannot escape its folder (no network)."""
from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import pytest

from corelib.data.fetch import download, safe_extract
from corelib.data.registry import CorruptFileError, DataError


@pytest.fixture
def source(tmp_path: Path) -> tuple[Path, bytes]:
    payload = b"real data " * 1000
    path = tmp_path / "remote" / "file.bin"
    path.parent.mkdir()
    path.write_bytes(payload)
    return path, payload


def test_download_file_url_with_right_checksums(source, tmp_path):
    path, payload = source
    dest = tmp_path / "cache" / "file.bin"
    out = download(path.as_uri(), dest, sha256=hashlib.sha256(payload).hexdigest(),
                   md5=hashlib.md5(payload).hexdigest(), progress=False)
    assert out == dest and dest.read_bytes() == payload
    assert not dest.with_name("file.bin.part").exists()


def test_download_wrong_checksum_raises_and_leaves_nothing(source, tmp_path):
    path, _ = source
    dest = tmp_path / "cache" / "file.bin"
    with pytest.raises(CorruptFileError, match="file.bin"):
        download(path.as_uri(), dest, sha256="0" * 64, progress=False)
    with pytest.raises(CorruptFileError, match="md5"):
        download(path.as_uri(), dest, md5="0" * 32, progress=False)
    assert not dest.exists() and not dest.with_name("file.bin.part").exists()


def test_download_missing_url_raises(tmp_path):
    with pytest.raises(OSError):
        download((tmp_path / "nope.bin").as_uri(), tmp_path / "out.bin", progress=False)


def _tar(path: Path, members: list[tarfile.TarInfo], data: dict[str, bytes] | None = None) -> Path:
    data = data or {}
    with tarfile.open(path, "w") as tar:
        for m in members:
            body = data.get(m.name)
            if body is not None:
                m.size = len(body)
                tar.addfile(m, io.BytesIO(body))
            else:
                tar.addfile(m)
    return path


def _file(name: str) -> tarfile.TarInfo:
    return tarfile.TarInfo(name)


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


def test_safe_extract_good_tar_gz(tmp_path):
    archive = tmp_path / "good.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name, body in {"top/a.txt": b"a", "top/sub/b.txt": b"bb"}.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    out = safe_extract(archive, tmp_path / "out")
    assert (out / "top/a.txt").read_bytes() == b"a"
    assert (out / "top/sub/b.txt").read_bytes() == b"bb"


@pytest.mark.parametrize("bad", [
    _file("../evil.txt"),
    _file("ok/../../evil.txt"),
    _file("/tmp/evil.txt"),
    _link("ok/escape", "../../outside"),
    _link("ok/abs", "/etc/passwd"),
    _link("ok/hard", "../outside", tarfile.LNKTYPE),
    _link("top/link", "a.txt"),  # even a link that stays inside: no dataset needs one
])
def test_safe_extract_refuses_escaping_members(tmp_path, bad):
    archive = _tar(tmp_path / "bad.tar", [_file("first.txt"), bad],
                   {"first.txt": b"x", bad.name: b"evil"} if bad.isfile() else {"first.txt": b"x"})
    target = tmp_path / "out"
    with pytest.raises(DataError, match="refusing member") as err:
        safe_extract(archive, target)
    assert bad.name in str(err.value)
    assert not (target / "first.txt").exists()  # checked before anything was extracted
    assert not (tmp_path / "evil.txt").exists()


def test_safe_extract_refuses_a_link_chain_and_leaves_nothing(tmp_path):
    """``a`` -> ``.``, then ``a/b`` -> ``..``, then ``b/x``: each link looks inside, ``b/x`` is not."""
    members = [_link("a", "."), _link("a/b", ".."), _file("b/x")]
    archive = _tar(tmp_path / "chain.tar", members, {"b/x": b"evil"})
    target = tmp_path / "sub" / "out"
    with pytest.raises(DataError, match="refusing member 'a'"):
        safe_extract(archive, target)
    assert list(target.iterdir()) == []  # nothing extracted, not even the first link
    assert not (tmp_path / "sub" / "x").exists()


def test_safe_extract_truncated_archive(tmp_path):
    archive = tmp_path / "t.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("big.bin")
        body = bytes(range(256)) * 4000
        info.size = len(body)
        tar.addfile(info, io.BytesIO(body))
    archive.write_bytes(archive.read_bytes()[:500])
    with pytest.raises(CorruptFileError, match="t.tar.gz"):
        safe_extract(archive, tmp_path / "out")
