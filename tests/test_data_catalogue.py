"""The catalogue is the one list of datasets: each card registered once, complete, and nothing else."""
from __future__ import annotations

import corelib.data as data
from corelib.data import catalogue


def test_every_catalogue_card_is_registered_once_and_complete() -> None:
    names = [c.name for c in catalogue.CARDS]
    assert len(names) == len(set(names)), f"duplicate names in CARDS: {names}"
    for c in catalogue.CARDS:
        assert data.card(c.name) is c, c.name
        assert c.licence and c.citation and c.sources, c.name
    assert data.names() == sorted(names)


def test_lazy_downloads_call_the_remote_fetchers(monkeypatch, tmp_path) -> None:
    from corelib.data import remote

    calls = []
    for name in ("_fetch_msd", "_fetch_ants", "_fetch_medmnist", "_fetch_bccd", "_fetch_sri24",
                 "_fetch_twix"):
        monkeypatch.setattr(remote, name, lambda *args, name=name: calls.append((name, *args)))
    for c in catalogue.CARDS:
        for source in c.sources:
            if source.download is not None:
                source.download(tmp_path)
    assert calls == [("_fetch_msd", tmp_path), ("_fetch_ants", tmp_path),
                     ("_fetch_medmnist", "breastmnist", tmp_path), ("_fetch_bccd", tmp_path),
                     ("_fetch_sri24", tmp_path), ("_fetch_twix", tmp_path)]
