"""The built book works in a browser with no network.

The first tests need no browser: the vendored MathJax / RequireJS / html-manager files match
their manifest, the html-manager pin matches the installed ipywidgets, and the repository buttons
follow ``repository.url``. The browser test serves ``_build/html`` on loopback, opens every page
in headless Chromium (Debian's ``chromium``, driven by Playwright) with every other host blocked,
and checks that math is typeset, every widget view renders, moving a slider of each explorer
changes its figure, and no page asks for anything but the local server. It is skipped, with the
reason, when the book is not built (``make book``) or Chromium or Playwright is missing
(``apt-get install chromium``; ``pip install -e .[test]``); ``make test-book`` sets
``MAE_THEORY_REQUIRE_BROWSER=1``, which turns these skips into failures. Set
``MAE_THEORY_SCREENSHOTS`` to a folder to keep a screenshot of each explorer.
"""

from __future__ import annotations

import functools
import http.server
import importlib.util
import json
import os
import re
import shutil
import threading
import urllib.parse
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
VENDOR = ROOT / "book" / "_static" / "vendor"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync",
                  # no name resolves except the loopback one: the network is off for the page
                  "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]
WIDGET_VIEW = 'script[type="application/vnd.jupyter.widget-view+json"]'


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------- without a browser

def test_vendored_assets_match_their_manifest():
    vendor = _load(ROOT / "scripts" / "vendor_web_assets.py", "vendor_web_assets")
    assert vendor.check() == []
    manifest = json.loads((VENDOR / "MANIFEST.json").read_text())
    for name in ("mathjax", "requirejs", "html-manager"):
        assert "LICENSE" in manifest["packages"][name]["files"], name


def test_html_manager_matches_the_installed_ipywidgets():
    """The vendored widget manager embeds the same @jupyter-widgets/controls and base as the
    JupyterLab extension shipped with the installed ipywidgets (jupyterlab_widgets)."""
    from importlib import metadata

    dist = metadata.distribution("jupyterlab_widgets")
    lab = next(f for f in dist.files or [] if f.as_posix().endswith(
        "labextensions/@jupyter-widgets/jupyterlab-manager/package.json"))
    lab_deps = json.loads(Path(dist.locate_file(lab)).read_text())["dependencies"]
    ours = json.loads((VENDOR / "MANIFEST.json").read_text())["packages"]["html-manager"]
    for dep in ("@jupyter-widgets/base", "@jupyter-widgets/controls"):
        assert ours["dependencies"][dep] == lab_deps[dep], (
            f"{dep}: html-manager {ours['version']} has {ours['dependencies'][dep]}, the "
            f"installed ipywidgets {lab_deps[dep]}; re-vendor (scripts/vendor_web_assets.py).")


def test_config_loads_the_vendored_files_only():
    config = (ROOT / "_config.yml").read_text()
    paths = re.findall(r"([\w./-]+\.js)\b", config)
    assert len(paths) == 4 and all((VENDOR.parent / p).is_file() for p in paths), paths
    assert "http" not in config.split("nb_ipywidgets_js:")[1]


def test_repository_buttons_follow_the_repository_url():
    import repository_links as links  # book/_ext, on the test path (pyproject)

    launch = {"binderhub_url": "https://mybinder.org", "colab_url": "https://colab.x",
              "notebook_interface": "jupyterlab"}
    off = links.repository_buttons({"repository_url": "", "launch_buttons": launch})
    assert off == {"launch_buttons": {"notebook_interface": "jupyterlab"},
                   "use_repository_button": False}
    on = links.repository_buttons({"repository_url": " https://github.com/o/r ",
                                   "launch_buttons": launch})
    assert on["repository_url"] == "https://github.com/o/r" and on["use_repository_button"]
    assert on["launch_buttons"] == launch


# ---------------------------------------------------------------- in a browser

def _missing(reason: str):
    """Skip, or fail where the browser test is required (``make test-book``, CI)."""
    if os.environ.get("MAE_THEORY_REQUIRE_BROWSER"):
        pytest.fail(reason)
    pytest.skip(reason)


def _chromium() -> str | None:
    return os.environ.get("MAE_THEORY_CHROMIUM") or shutil.which("chromium") or shutil.which(
        "chromium-browser")


class _Quiet(http.server.SimpleHTTPRequestHandler):
    missing: list = []

    def log_message(self, *args):
        pass

    def send_error(self, code, *args, **kwargs):
        self.missing.append(f"{code} {self.path}")
        super().send_error(code, *args, **kwargs)


@pytest.fixture(scope="module")
def server():
    if not (HTML / "index.html").is_file():
        _missing("the book is not built: run `make book` first (tests/test_book_offline.py "
                    "checks _build/html)")
    handler = functools.partial(_Quiet, directory=str(HTML))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    chromium = _chromium()
    if chromium is None:
        _missing("Chromium is absent: `apt-get install chromium` (Debian) to run the offline "
                    "browser test of the built book")
    try:
        from playwright import sync_api
    except ImportError:
        _missing("Playwright is absent: pip install -e .[test]")
    with sync_api.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=chromium,
            headless=True, args=CHROMIUM_FLAGS, viewport={"width": 1200, "height": 900})
        yield context
        context.close()


def _pages() -> list[str]:
    return sorted(p.relative_to(HTML).as_posix() for p in HTML.rglob("*.html")
                  if not p.relative_to(HTML).parts[0].startswith("_"))


# text of the page outside code, without scripts: raw TeX delimiters here mean untypeset math
_PROSE = """() => { const b = document.body.cloneNode(true);
  b.querySelectorAll('pre, code, script, style, mjx-container, .widget-subarea')
   .forEach(e => e.remove()); return b.textContent; }"""
_VISIBLE_FRAMES = """() => Array.from(document.querySelectorAll('figure.mae-frame img'))
  .filter(i => i.offsetParent !== null).map(i => i.src)"""


def test_every_page_works_offline(server, browser):
    foreign, problems, explorers = [], [], []

    def route(r):
        host = urllib.parse.urlsplit(r.request.url).hostname
        if r.request.url.startswith(server) or host in (None, ""):
            return r.continue_()
        foreign.append(r.request.url)
        return r.abort()

    browser.route("**/*", route)
    page = browser.new_page()
    def script_error(err):
        # sphinx-thebe 0.3.1 writes its inline config script twice on every page (a harmless
        # redeclaration; thebe itself loads only when launched, and no launch button is shown)
        if "THEBE_JS_URL" not in str(err):
            problems.append(f"{page.url}: script error {err}")

    page.on("pageerror", script_error)
    _Quiet.missing.clear()
    pages = _pages()
    assert len(pages) >= 10, pages
    for rel in pages:
        page.goto(f"{server}/{rel}", wait_until="load", timeout=60_000)
        if page.locator('script[src*="mathjax"]').count():
            try:
                page.wait_for_function("() => window.MathJax && MathJax.startup && "
                                       "MathJax.startup.promise", timeout=30_000)
            except Exception:
                problems.append(f"{rel}: MathJax did not start")
                continue
            page.evaluate("() => MathJax.startup.promise")
            raw = re.findall(r"\\[(\[]", page.evaluate(_PROSE))
            if raw or not page.locator("mjx-container").count():
                problems.append(f"{rel}: math not typeset ({len(raw)} raw TeX delimiters)")
        n_views = page.locator(WIDGET_VIEW).count()
        if n_views:
            try:
                page.wait_for_function(
                    f"() => document.querySelectorAll('.widget-subarea > *').length >= {n_views}",
                    timeout=30_000)
            except Exception:
                shown = page.locator(".widget-subarea > *").count()
                problems.append(f"{rel}: {shown} of {n_views} widget views rendered")
                continue
        if page.locator("figure.mae-frame").count():
            explorers.append(rel)
            before = page.evaluate(_VISIBLE_FRAMES)
            handle = page.locator(".widget-slider .noUi-handle").first
            handle.focus()
            handle.press("ArrowRight")
            page.wait_for_timeout(300)
            after = page.evaluate(_VISIBLE_FRAMES)
            if len(before) != 1 or len(after) != 1 or before == after:
                problems.append(f"{rel}: moving the slider did not change the figure "
                                f"({len(before)} -> {len(after)} visible frames)")
            shots = os.environ.get("MAE_THEORY_SCREENSHOTS")
            if shots:
                Path(shots).mkdir(parents=True, exist_ok=True)
                box = page.locator(".widget-subarea",
                                   has=page.locator("figure.mae-frame")).first
                box.screenshot(path=str(Path(shots) / (Path(rel).stem + ".png")))
        for link in page.locator("a[href]").evaluate_all("as => as.map(a => a.href)"):
            if any(s in link for s in ("mybinder.org", "colab.research", "github.com/mae-theory")):
                problems.append(f"{rel}: link to {link} but no repository is configured")
    assert not foreign, f"pages asked for other hosts: {sorted(set(foreign))[:10]}"
    assert not problems, "\n".join(problems)
    assert not _Quiet.missing, f"files missing from the build: {_Quiet.missing[:10]}"
    assert len(explorers) >= 4, f"explorers found on {explorers}; expected chapters 1, 2, 4, 5"


def test_download_ipynb_link_works(server, browser):
    page = browser.new_page()
    chapter = next(p for p in _pages() if re.search(r"/0\d_.*\.html$", p))
    page.goto(f"{server}/{chapter}", wait_until="domcontentloaded")
    hrefs = page.locator('a[href$=".ipynb"]').evaluate_all("as => as.map(a => a.href)")
    assert hrefs, f"{chapter}: no .ipynb download link"
    response = page.request.get(hrefs[0])
    assert response.ok and json.loads(response.body())["cells"]
