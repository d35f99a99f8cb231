"""Vendor the book's browser libraries, so the built book works with no network.

The HTML book needs three JavaScript libraries that Sphinx and MyST-NB would otherwise load from
CDNs: MathJax (typesets the math), RequireJS and ``@jupyter-widgets/html-manager`` (render the
saved widget state). This script takes each, at the version pinned below, from the npm registry
with ``npm pack`` (the registry checks the tarball's integrity hash), copies the files the book
uses with their licences into ``book/_static/vendor/`` and writes ``MANIFEST.json`` (versions,
tarball integrity, sha256 of every vendored file). The vendored files are committed; building the
book never touches the network. ``tests/test_book_offline.py`` checks the files against the
manifest and the html-manager pin against the installed ipywidgets.

Re-vendor (e.g. after upgrading ipywidgets) with::

    python scripts/vendor_web_assets.py          # needs npm and the registry
    python scripts/vendor_web_assets.py --check  # offline: the files still match MANIFEST.json

To move ipywidgets, pick the html-manager release whose ``@jupyter-widgets/controls`` dependency
equals the one of the installed ``jupyterlab_widgets`` (``npm view
@jupyter-widgets/html-manager@X dependencies``) and change ``HTML_MANAGER`` below.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENDOR = ROOT / "book" / "_static" / "vendor"

MATHJAX = "3.2.2"          # the last MathJax 3 (Sphinx 7's mathjax3_config is for MathJax 3)
REQUIREJS = "2.3.8"
# controls ^5.0.13 and base ^6.0.12, as jupyterlab_widgets 3.0.17 (ipywidgets 8.1.9)
HTML_MANAGER = "1.0.15"

# Per package: npm spec, target folder, and the files taken from the tarball's package/ folder
# (shell patterns). MathJax: the full TeX bundle (every TeX extension inside, so nothing is
# autoloaded), its CHTML fonts, and the menu/accessibility components it may load. html-manager:
# the AMD embed bundle and the Font Awesome fonts a browser can use (woff2, woff, ttf; the eot
# and svg files are for old Internet Explorer and iOS only).
PACKAGES = {
    "mathjax": {
        "spec": f"mathjax@{MATHJAX}",
        "files": ["LICENSE", "es5/tex-chtml-full.js", "es5/output/chtml/fonts/woff-v2/*.woff",
                  "es5/a11y/*.js", "es5/ui/*.js"],
        "strip": "es5/",
    },
    "requirejs": {
        "spec": f"requirejs@{REQUIREJS}",
        "files": ["require.js"],
        "strip": "",
    },
    "html-manager": {
        "spec": f"@jupyter-widgets/html-manager@{HTML_MANAGER}",
        "files": ["dist/embed-amd.js", "dist/*.woff2", "dist/*.woff", "dist/*.ttf",
                  "dist/embed.js.LICENSE.txt"],
        "strip": "dist/",
    },
}

REQUIREJS_LICENSE = """\
RequireJS {version}: the header of require.js reads "@license RequireJS {version} Copyright jQuery
Foundation and other contributors. Released under MIT license,
https://github.com/requirejs/requirejs/blob/master/LICENSE". The npm package ships no licence
file; this is the MIT licence it names.

Copyright jQuery Foundation and other contributors, https://jquery.org/

Permission is hereby granted, free of charge, to any person obtaining a copy of this software and
associated documentation files (the "Software"), to deal in the Software without restriction,
including without limitation the rights to use, copy, modify, merge, publish, distribute,
sublicense, and/or sell copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or
substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT
NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM,
DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT
OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
"""


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def npm_pack(spec: str, dest: Path) -> tuple[Path, dict]:
    """Download one package tarball; return its path and npm's record (version, integrity)."""
    out = subprocess.run(["npm", "pack", spec, "--json", "--pack-destination", str(dest)],
                         check=True, capture_output=True, text=True, cwd=dest).stdout
    record = json.loads(out)[0]
    return dest / record["filename"], record


def ipywidgets_license() -> str:
    """html-manager's npm package has no licence file; it lives in the ipywidgets repository,
    whose BSD-3-Clause LICENSE the ipywidgets wheel ships."""
    dist = metadata.distribution("ipywidgets")
    for f in dist.files or []:
        if f.name == "LICENSE":
            return Path(dist.locate_file(f)).read_text()
    raise FileNotFoundError("no LICENSE in the installed ipywidgets; reinstall ipywidgets.")


def vendor() -> dict:
    """Fetch, copy and describe every package; return the manifest."""
    if VENDOR.exists():
        shutil.rmtree(VENDOR)
    manifest = {"note": "written by scripts/vendor_web_assets.py; do not edit", "packages": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name, pkg in PACKAGES.items():
            tarball, record = npm_pack(pkg["spec"], Path(tmp))
            target = VENDOR / name
            with tarfile.open(tarball) as tar:
                for member in tar.getmembers():
                    rel = member.name.removeprefix("package/")
                    if not member.isfile() or not any(fnmatch.fnmatch(rel, p)
                                                       for p in pkg["files"]):
                        continue
                    dest = target / rel.removeprefix(pkg["strip"])
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    dest.write_bytes(tar.extractfile(member).read())
            if name == "requirejs":
                (target / "LICENSE").write_text(REQUIREJS_LICENSE.format(
                    version=record["version"]))
            if name == "html-manager":
                (target / "LICENSE").write_text(ipywidgets_license())
                (target / "embed.js.LICENSE.txt").rename(target / "THIRD-PARTY-NOTICES.txt")
            manifest["packages"][name] = {
                "npm": pkg["spec"], "version": record["version"],
                "integrity": record["integrity"],
                "dependencies": _dependencies(tarball),
                "files": {p.relative_to(target).as_posix(): sha256(p)
                          for p in sorted(target.rglob("*")) if p.is_file()},
            }
    (VENDOR / "MANIFEST.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def _dependencies(tarball: Path) -> dict:
    with tarfile.open(tarball) as tar:
        return json.load(tar.extractfile("package/package.json")).get("dependencies", {})


def check() -> list[str]:
    """Problems with the vendored files (missing, changed, unlisted), or an empty list."""
    manifest = json.loads((VENDOR / "MANIFEST.json").read_text())
    problems = []
    for name, pkg in manifest["packages"].items():
        target = VENDOR / name
        for rel, digest in pkg["files"].items():
            path = target / rel
            if not path.is_file():
                problems.append(f"{name}/{rel}: missing")
            elif sha256(path) != digest:
                problems.append(f"{name}/{rel}: changed since vendoring")
        listed = set(pkg["files"])
        problems += [f"{name}/{p.relative_to(target).as_posix()}: not in MANIFEST.json"
                     for p in target.rglob("*")
                     if p.is_file() and p.relative_to(target).as_posix() not in listed]
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="only verify the vendored files against MANIFEST.json (offline)")
    args = parser.parse_args(argv)
    if args.check:
        problems = check()
        print("\n".join(problems) or "vendored web assets match MANIFEST.json")
        return 1 if problems else 0
    manifest = vendor()
    for name, pkg in manifest["packages"].items():
        size = sum((VENDOR / name / f).stat().st_size for f in pkg["files"])
        print(f"{name} {pkg['version']}: {len(pkg['files'])} files, {size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
