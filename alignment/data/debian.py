"""Debian packages as data sources: `apt-get download` + `dpkg -x`.

Nothing is installed: the .deb is downloaded into the corpus cache and
unpacked there. A .deb already present in the download folder (e.g. copied
by hand on a machine without apt) is used as is.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from ..core.errors import XmodalError
from .cache import Stages, atomic_dir

_NOT_FOUND = ("unable to locate package", "can't select", "has no installation candidate",
              "no packages found", "couldn't find any package")


def find_deb(pkg: str, debs: Path) -> Path | None:
    """The downloaded .deb of `pkg` in `debs`, if any."""
    hits = sorted(Path(debs).glob(f"{pkg}_*.deb"))
    return hits[-1] if hits else None


def require_tool(exe: str, purpose: str) -> str:
    """Path of an external program (Debian package of the same name), or a
    one-line error saying what needs it and how to install it."""
    path = shutil.which(exe)
    if path is None:
        raise XmodalError(f"{exe} not found: {purpose} (apt-get install {exe})")
    return path


def download(pkg: str, debs: Path, *, log=print) -> Path:
    """Download `pkg`'s .deb into `debs` (no install) and return its path.

    Runs `apt-get update` once if apt does not know the package yet."""
    debs = Path(debs)
    debs.mkdir(parents=True, exist_ok=True)
    have = find_deb(pkg, debs)
    if have is not None:
        return have
    if shutil.which("apt-get") is None:
        raise XmodalError(
            f"{pkg}: apt-get is not available, so the Debian package cannot be downloaded "
            f"(run on Debian/Ubuntu, or put {pkg}_*.deb into {debs} by hand)")
    for attempt in (1, 2):
        proc = subprocess.run(["apt-get", "download", pkg], cwd=debs,
                              capture_output=True, text=True)
        have = find_deb(pkg, debs)
        if proc.returncode == 0 and have is not None:
            return have
        err = (proc.stderr or proc.stdout).strip()
        if attempt == 1 and any(s in err.lower() for s in _NOT_FOUND):
            log(f"apt does not know {pkg} yet: running apt-get update once")
            subprocess.run(["apt-get", "update"], capture_output=True, text=True)
            continue
        last = err.splitlines()[-1] if err else f"exit code {proc.returncode}"
        raise XmodalError(f"{pkg}: apt-get download failed: {last} "
                          "(check network access to the Debian mirror, or run apt-get update)")
    raise AssertionError("unreachable")


def extract(deb: Path, dest: Path) -> Path:
    """`dpkg -x deb dest`, into a temp dir renamed to `dest` when complete."""
    if shutil.which("dpkg") is None:
        raise XmodalError(f"{deb.name}: dpkg is not available to unpack the package "
                          "(run on Debian/Ubuntu)")
    with atomic_dir(Path(dest)) as tmp:
        proc = subprocess.run(["dpkg", "-x", str(deb), str(tmp)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise XmodalError(f"{deb.name}: dpkg -x failed: {proc.stderr.strip()[-300:]} "
                              "(delete the .deb to download it again)")
    return Path(dest)


def fetch_package(pkg: str, root: Path, *, log=print) -> Path:
    """Download and unpack `pkg` for the corpus in `root`; resumable.

    Returns the unpack folder (`root/pkg/<pkg>`), whose layout mirrors `/`."""
    stages = Stages(root)
    dest = Path(root) / "pkg" / pkg
    if stages.done(f"extract-{pkg}") and dest.is_dir():
        return dest
    log(f"downloading {pkg}")
    deb = download(pkg, Path(root) / "debs", log=log)
    stages.mark(f"download-{pkg}", {"deb": deb.name, "bytes": deb.stat().st_size})
    log(f"unpacking {deb.name}")
    extract(deb, dest)
    stages.mark(f"extract-{pkg}", {"deb": deb.name})
    return dest
