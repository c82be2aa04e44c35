"""Run notebooks in the full profile on a borrowed GPU machine, as plain scripts, into the ledger.

The GPU machine this project gets now and then has Python 3.12 and its own CUDA torch, no network,
no Jupyter and few of our dependencies; at most 64 MiB travels with the repository to it. So:

``bundle``  (here)   pick the notebooks to run, collect the cp312 wheels of what is missing there and
                     only the data files those notebooks read, laid out as the offline mirror, into
                     ``bundle/`` (git-ignored); print its size and refuse it above the limit (or, with
                     ``--parts``, split it into parts that travel in consecutive calls).
``install`` (there)  install the bundle's wheels into ``bundle/site`` (no index, no dependencies).
``run``     (there)  run each chosen notebook's percent-format ``.py`` with plain ``python`` in the full
                     profile, with a wall-clock limit each, and write its ledger entry: the notebook's
                     results (metrics, glued values, checks, claim verdicts) plus wall time, peak GPU
                     memory, GPU name and corelib commit. ``--smoke`` does the same on a CPU with
                     training cut short (that is how CI-less machines test the runner).
``plan``             list the notebooks in the order the runner takes them: no ledger entry first, then
                     the oldest, so successive GPU runs cover the whole book in turn.

One call on the GPU machine (see the book's "Running on a GPU" page)::

    python3 scripts/gpu_run.py install && python3 scripts/gpu_run.py run --out "$OUT"
"""
from __future__ import annotations

import argparse
import ast
import importlib.metadata as md
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "bundle"
LEDGER = ROOT / "ledger"
LIMIT_MB = 64.0
NOTEBOOK_LIMIT_S = 300  # CONTRIBUTING.md: at most 5 minutes per notebook on one H100-class GPU
# Distributions already on the GPU machine (device KINDS.md, read 2026-11-17), normalised names.
ON_GPU_MACHINE = {
    "torch", "torchvision", "torchaudio", "triton", "numpy", "scipy", "scikit-image", "scikit-learn",
    "pandas", "matplotlib", "pillow", "tqdm", "pyyaml", "packaging", "networkx", "imageio", "tifffile",
    "lazy-loader", "joblib", "threadpoolctl", "contourpy", "cycler", "fonttools", "kiwisolver",
    "pyparsing", "python-dateutil", "six", "filelock", "fsspec", "typing-extensions", "sympy", "mpmath",
    "jinja2", "markupsafe", "torchmetrics", "lightning-utilities", "einops", "h5py", "requests",
    "urllib3", "idna", "certifi", "charset-normalizer", "pygments", "rich", "markdown-it-py", "mdurl",
    "typer", "click", "shellingham", "tabulate", "psutil", "opencv-python-headless", "numba", "llvmlite",
    "setuptools", "wheel", "pip", "attrs", "narwhals", "zipp", "protobuf", "pytest", "annotated-doc",
}
NEVER_NEEDED = {"corelib", "myst-nb", "jupyter-book", "nbval", "jupytext", "ipykernel"}
# Carried for every notebook: imported lazily on every run (run card, NIfTI reading, show_source).
ALWAYS = ("monai", "nibabel", "ipython")
# Lazy imports that only some datasets' loaders make.
DATASET_DISTRIBUTIONS = {"dicom_samples": ("pydicom",), "phantoms": ("phantominator", "sigpy"),
                         "dipy_samples": ("dipy",), "twix_example": ("twixtools",)}
# Files a loader reads beyond the card's own list (the card lists what proves the data is there).
EXTRA_FILES = {"itk_examples": ("KmeansTest_T1UCharRaw.nii.gz", "KmeansTest_T1KmeansPrelimSegmentation.nii.gz")}
WHOLE_FOLDER = {"msd_hippocampus", "bccd"}  # the cards name only index files; the loaders read every case
PIP_PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64",
                 "manylinux2014_x86_64", "manylinux1_x86_64")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# ----------------------------------------------------------------------------- what a notebook needs
def _imports(path: Path, module_level: bool = False) -> set[str]:
    """Modules named in the import statements of ``path``; with ``module_level`` only those run on import
    (not the lazy imports inside functions, which are needed only when that function is called)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = ast.walk(tree)
    if module_level:
        nodes = [n for top in tree.body if not isinstance(top, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                 for n in ast.walk(top)]
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return found


def _corelib_file(module: str) -> Path | None:
    parts = module.split(".")
    for candidate in (ROOT.joinpath(*parts).with_suffix(".py"), ROOT.joinpath(*parts, "__init__.py")):
        if candidate.is_file():
            return candidate
    return None


def third_party_modules(notebook: Path) -> set[str]:
    """Top-level third-party modules the notebook imports, and those the corelib modules it reaches
    import when they are imported. A corelib function's lazy import (e.g. pydicom in ``read_dicom``)
    is needed only by notebooks that call it: list such a package in the dataset's or notebook's
    imports (the notebook may import it itself), or add it to ``EXTRA_DISTRIBUTIONS``."""
    seen, todo, outside = set(), [notebook], set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for module in _imports(path, module_level=path != notebook):
            top = module.split(".")[0]
            if top == "corelib":
                for prefix in _prefixes(module):
                    f = _corelib_file(prefix)
                    if f is not None:
                        todo.append(f)
            elif top not in sys.stdlib_module_names and not top.startswith("_"):
                outside.add(top)
    return outside


def _prefixes(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def distributions(modules: set[str], extra: tuple[str, ...] = ()) -> dict[str, str]:
    """``{distribution: version}`` to carry: the modules' distributions, ``extra`` ones and all their
    requirements, minus what the GPU machine has."""
    by_module = md.packages_distributions()
    todo = [d for m in modules for d in by_module.get(m, [])] + list(extra)
    out: dict[str, str] = {}
    while todo:
        name = todo.pop()
        key = _norm(name)
        if key in out or key in ON_GPU_MACHINE or key in NEVER_NEEDED:
            continue
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            continue
        out[key] = dist.version
        for req in dist.requires or []:
            if "extra ==" in req:
                continue
            todo.append(re.split(r"[\s;<>=!~\[(]", req, maxsplit=1)[0])
    return dict(sorted(out.items()))


def datasets(notebook: Path) -> list[str]:
    """The datasets a notebook names in ``rt.run_card(datasets=[...])`` (CONTRIBUTING.md: all it reads)."""
    tree = ast.parse(notebook.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "run_card":
            for kw in node.keywords:
                if kw.arg == "datasets":
                    try:
                        return list(ast.literal_eval(kw.value))
                    except ValueError:
                        sys.path.insert(0, str(ROOT))
                        import corelib.data as data

                        return data.names()  # e.g. datasets=data.names()
    return []


def dataset_files(name: str) -> list[tuple[Path, str]]:
    """``(file here, path in the mirror)`` for every file of dataset ``name`` that a loader reads."""
    sys.path.insert(0, str(ROOT))
    import corelib.data as data

    card = data.card(name)
    hit = card.found_in()
    if hit is None:
        raise SystemExit(f"dataset {name!r} is not found on this machine: {data.card(name).title}")
    folder = hit[1]
    mirror = next((s.path for s in card.sources if s.kind == "mirror"), name)
    if name in WHOLE_FOLDER:
        files = [p for p in folder.rglob("*") if p.is_file()]
    else:
        files = [folder / f for f in (*card.files, *EXTRA_FILES.get(name, ())) if (folder / f).is_file()]
    return [(f, f"{mirror}/{f.relative_to(folder).as_posix()}") for f in files]


def needs(notebook: Path) -> dict:
    """What one notebook needs on the GPU machine: distributions and data files (with sizes)."""
    names = datasets(notebook)
    extra = ALWAYS + tuple(d for n in names for d in DATASET_DISTRIBUTIONS.get(n, ()))
    dists = distributions(third_party_modules(notebook), extra)
    files = [(src, rel) for name in names for src, rel in dataset_files(name)]
    return {"notebook": notebook, "distributions": dists, "files": files,
            "data_mb": sum(src.stat().st_size for src, _ in files) / 2**20}


# ----------------------------------------------------------------------------- choosing notebooks
def notebooks() -> list[Path]:
    """Notebooks with a full profile (they call ``rt.pick``), in book order."""
    return [p for p in sorted(ROOT.glob("notebooks/*/*.py")) if "rt.pick(" in p.read_text(encoding="utf-8")]


def ledger_entry(notebook: Path, ledger: Path = LEDGER) -> dict | None:
    path = ledger / notebook.parent.name / f"{notebook.stem}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def plan(budget_s: float | None = None, ledger: Path = LEDGER) -> list[Path]:
    """Notebooks without a ledger entry first (book order), then the oldest entries; within ``budget_s``
    (each counted at its last measured GPU time, or the 5-minute limit when never run)."""
    entries = [(nb, ledger_entry(nb, ledger)) for nb in notebooks()]
    order = sorted(entries, key=lambda e: (e[1] is not None, (e[1] or {}).get("updated", "")))
    chosen, total = [], 0.0
    for nb, entry in order:
        cost = float((entry or {}).get("runner", {}).get("wall_s", NOTEBOOK_LIMIT_S))
        if budget_s is not None and total + cost > budget_s:
            continue
        chosen.append(nb)
        total += cost
    return chosen


# ----------------------------------------------------------------------------- the bundle (here)
def _tree_mb() -> float:
    out = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                         capture_output=True, text=True, check=True).stdout
    return sum((ROOT / f).stat().st_size for f in out.split("\0") if f and (ROOT / f).is_file()) / 2**20


def _download_wheels(dists: dict[str, str], dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    platforms = [a for p in PIP_PLATFORMS for a in ("--platform", p)]
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
           "--python-version", "3.12", "--implementation", "cp", *platforms, "-d", str(dest),
           *[f"{d}=={v}" for d, v in dists.items()]]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    noise = re.compile(r"^WARNING: Location .* is ignored")
    print("\n".join(ln for ln in (proc.stdout + proc.stderr).splitlines() if not noise.match(ln)).strip())
    if proc.returncode != 0:
        raise SystemExit("pip download failed (see above)")


def bundle(chosen: list[Path], limit_mb: float = LIMIT_MB, parts: bool = False, out: Path = BUNDLE) -> float:
    """Write ``out/`` (wheels, data, manifest) for ``chosen``; return its size in MiB."""
    wanted = [needs(nb) for nb in chosen]
    dists = {k: v for w in wanted for k, v in w["distributions"].items()}
    files = {rel: src for w in wanted for src, rel in w["files"]}
    if out.exists():
        shutil.rmtree(out)
    _download_wheels(dists, out / "wheels")
    for rel, src in files.items():
        (out / "data" / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, out / "data" / rel)
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short=12", "HEAD"],
                            capture_output=True, text=True).stdout.strip() or "unknown"
    manifest = {"commit": commit, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "notebooks": [nb.relative_to(ROOT).as_posix() for nb in chosen], "distributions": dists,
                "data": sorted(files)}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 2**20
    tree = _tree_mb()  # the repository that travels with it (bundle/ is git-ignored, carried by name)
    print(f"bundle for {len(chosen)} notebook(s): {len(dists)} wheels, {len(files)} data files, "
          f"{size:.1f} MiB (+ {tree:.1f} MiB of repository = {size + tree:.1f} of {limit_mb:.0f} MiB)")
    if size + tree > limit_mb:
        if not parts:
            raise SystemExit(f"the bundle is over the {limit_mb:.0f} MiB limit: choose fewer notebooks, "
                             "or split it with --parts and send the parts in consecutive calls")
        split(out, limit_mb - tree)
    return size


def split(out: Path, part_mb: float) -> list[Path]:
    """Move the bundle's files into ``out/part1``, ``out/part2``, ... each under ``part_mb``."""
    files = sorted((p for p in out.rglob("*") if p.is_file() and p.name != "manifest.json"),
                   key=lambda p: -p.stat().st_size)
    bins: list[list[Path]] = []
    sizes: list[float] = []
    for f in files:
        mb = f.stat().st_size / 2**20
        if mb > part_mb:
            raise SystemExit(f"{f.name} alone ({mb:.1f} MiB) is over a part's {part_mb:.1f} MiB")
        i = next((i for i, s in enumerate(sizes) if s + mb <= part_mb), None)
        if i is None:
            bins.append([]), sizes.append(0.0)
            i = len(bins) - 1
        bins[i].append(f)
        sizes[i] += mb
    parts = []
    for i, group in enumerate(bins, 1):
        part = out / f"part{i}"
        for f in group:
            dest = part / f.relative_to(out)
            dest.parent.mkdir(parents=True, exist_ok=True)
            f.rename(dest)
        shutil.copy2(out / "manifest.json", part / "manifest.json")
        parts.append(part)
        print(f"  part{i}: {sizes[i - 1]:.1f} MiB: carry bundle/part{i}, then "
              f"python3 scripts/gpu_run.py install --bundle bundle/part{i}")
    return parts


# ----------------------------------------------------------------------------- on the GPU machine
def install(bundle_dir: Path = BUNDLE, site: Path = BUNDLE / "site", data: Path = BUNDLE / "data") -> None:
    """Install the wheels of ``bundle_dir`` into ``site`` and move its data into ``data`` (kept between calls)."""
    wheels = sorted((bundle_dir / "wheels").glob("*.whl"))
    if wheels:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile",
                        "--upgrade", "--target", str(site), *map(str, wheels)], check=True)
    if (bundle_dir / "data").is_dir() and (bundle_dir / "data").resolve() != data.resolve():
        shutil.copytree(bundle_dir / "data", data, dirs_exist_ok=True)
    print(f"installed {len(wheels)} wheels into {site}; data in {data}")


def _gpu_name() -> str | None:
    try:
        import torch

        return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except Exception:  # torch missing or broken: the notebook run will say so
        return None


def run(chosen: list[Path], smoke: bool = False, limit_s: int = NOTEBOOK_LIMIT_S, ledger: Path = LEDGER,
        out: Path | None = None, site: Path = BUNDLE / "site", data: Path = BUNDLE / "data",
        results: Path | None = None) -> list[dict]:
    """Run each notebook as a script in the full profile; write ``ledger/<chapter>/<notebook>.json``."""
    manifest = json.loads((BUNDLE / "manifest.json").read_text()) if (BUNDLE / "manifest.json").is_file() else {}
    commit, bundled = manifest.get("commit"), set(manifest.get("notebooks", []))
    results = results or ROOT / "_build" / ("gpu-smoke-results" if smoke else "gpu-results")
    env = dict(os.environ, CORELIB_PROFILE="full", CORELIB_RESULTS=str(results), MPLBACKEND="Agg",
               PYTHONUNBUFFERED="1", PYTHONHASHSEED="0")
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in (site, ROOT) if p.exists())
    mirror = env.get("CORELIB_DATA_MIRROR")
    if commit:
        env["CORELIB_COMMIT"] = commit
    if smoke:
        env["CORELIB_SMOKE"] = "1"
    rows, log_lines = [], []
    for nb in chosen:
        rel = nb.relative_to(ROOT) if nb.is_relative_to(ROOT) else Path(nb.parent.name) / nb.name
        # The bundle's data holds only what its notebooks read: use it for those, or where no mirror is set.
        use_bundle = data.is_dir() and (str(rel) in bundled or not mirror)
        env["CORELIB_DATA_MIRROR"] = str(data) if use_bundle else (mirror or "")
        start = time.perf_counter()
        try:
            proc = subprocess.run([sys.executable, nb.name], cwd=nb.parent, env=env, capture_output=True,
                                  text=True, timeout=limit_s)
            code, output = proc.returncode, proc.stdout + proc.stderr
        except subprocess.TimeoutExpired as err:
            code, output = "timeout", f"{err.stdout or ''}{err.stderr or ''}\nstopped at the {limit_s} s limit"
        wall = time.perf_counter() - start
        log_lines += [f"===== {rel} (exit {code}, {wall:.1f} s)", str(output)[-20000:]]
        res_file = results / rel.parent.name / f"{nb.stem}.json"
        entry = json.loads(res_file.read_text()) if res_file.is_file() else {"notebook": f"{rel.parent.name}/{nb.stem}"}
        entry["runner"] = {"wall_s": round(wall, 1), "limit_s": limit_s, "exit": code, "smoke": smoke,
                           "gpu": _gpu_name(), "python": sys.version.split()[0]}
        if code == 0:
            dest = ledger / rel.parent.name / f"{nb.stem}.json"
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(json.dumps(entry, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        rows.append(entry)
        print(f"{'ok  ' if code == 0 else 'FAIL'} {wall:7.1f} s  {rel}  (exit {code})", flush=True)
    if out is not None:  # the device tool returns at most 8 files: one log and one archive
        out.mkdir(parents=True, exist_ok=True)
        ledger.mkdir(parents=True, exist_ok=True)  # an empty archive when every notebook failed
        (out / "gpu_run.log").write_text("\n".join(log_lines), encoding="utf-8")
        with tarfile.open(out / "ledger.tar.gz", "w:gz") as tar:
            tar.add(ledger, arcname="ledger")
    return rows


# ----------------------------------------------------------------------------- command line
def _chosen(names: list[str], budget_s: float | None) -> list[Path]:
    if names:
        paths = [(ROOT / n).with_suffix(".py") if not Path(n).is_absolute() else Path(n).with_suffix(".py")
                 for n in names]
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise SystemExit(f"no such notebook: {', '.join(missing)}")
        return paths
    return plan(budget_s)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    for name in ("bundle", "run", "plan"):
        p = sub.add_parser(name)
        p.add_argument("notebooks", nargs="*", help="notebooks/<chapter>/<name>(.py); default: the plan")
        p.add_argument("--budget-s", type=float, default=None, help="GPU seconds to fill (plan order)")
    sub.choices["bundle"].add_argument("--limit-mb", type=float, default=LIMIT_MB)
    sub.choices["bundle"].add_argument("--parts", action="store_true", help="split a bundle over the limit")
    sub.choices["run"].add_argument("--smoke", action="store_true", help="cut training short (CPU test)")
    sub.choices["run"].add_argument("--limit-s", type=int, default=NOTEBOOK_LIMIT_S)
    sub.choices["run"].add_argument("--ledger", type=Path, default=LEDGER)
    sub.choices["run"].add_argument("--out", type=Path, default=None, help="also write a log and an archive here")
    p = sub.add_parser("install")
    p.add_argument("--bundle", type=Path, default=BUNDLE)
    args = parser.parse_args(argv)
    if args.cmd == "install":
        install(args.bundle)
        return 0
    if args.cmd == "run" and not args.notebooks and (BUNDLE / "manifest.json").is_file():
        args.notebooks = json.loads((BUNDLE / "manifest.json").read_text())["notebooks"]
    chosen = _chosen(args.notebooks, args.budget_s)
    if args.cmd == "plan":
        for nb in chosen:
            entry = ledger_entry(nb)
            print(f"{nb.relative_to(ROOT)}  last full run: {(entry or {}).get('updated', 'never')}")
        return 0
    if args.cmd == "bundle":
        bundle(chosen, args.limit_mb, args.parts)
        return 0
    rows = run(chosen, args.smoke, args.limit_s, args.ledger, args.out)
    return 0 if all(r["runner"]["exit"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
