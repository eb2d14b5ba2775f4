"""The documentation site builds with ``mkdocs build --strict`` and shows the mathematics.

Strict mode turns every warning into an error: a broken link or anchor, a page
missing from the nav, a cross-reference to an API object that does not exist,
or a docstring the NumPy-style parser cannot read.
"""

import functools
import html
import http.server
import os
import pathlib
import re
import shutil
import subprocess
import sys
import threading

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]

#: Every public module of glassnet and the API page that documents it.
API_PAGES = {
    "activations": "activations", "callbacks": "callbacks", "config": "utils",
    "datasets": "datasets", "demos": "demos", "diagnostics": "diagnostics",
    "distributed": "distributed", "equations": "equations", "explain": "explain",
    "functional": "models",
    "initializers": "initializers",
    "layers": "layers", "losses": "losses", "metrics": "metrics", "models": "models",
    "onnx": "onnx", "optimizers": "optimizers", "regularizers": "regularizers",
    "saving": "saving", "schedules": "schedules", "sklearn": "sklearn", "utils": "utils",
    "viz": "viz", "backend": "backend", "training": "training", "playground": "playground",
    "sequential": "models", "fileformat": "saving", "errors": "utils", "importers": "importers",
}
#: Modules without a page of their own: the command line and the summary table's helpers.
UNDOCUMENTED = {"cli", "summary"}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    site_dir = tmp_path_factory.mktemp("site")
    completed = subprocess.run(
        # No --quiet: it hides warnings from strict mode, which then passes.
        [sys.executable, "-m", "mkdocs", "build", "--strict",
         "--config-file", str(ROOT / "mkdocs.yml"), "--site-dir", str(site_dir)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},  # mkdocs-material's banner
    )
    return completed, site_dir


def _text(site_dir: pathlib.Path, page: str) -> str:
    """The visible text of a built page (tags removed, entities decoded)."""
    source = (site_dir / page / "index.html").read_text(encoding="utf-8")
    return html.unescape(re.sub(r"<[^>]+>", "", source))


def _html(site_dir: pathlib.Path, page: str) -> str:
    return (site_dir / page / "index.html").read_text(encoding="utf-8")


def test_mkdocs_build_strict_has_no_warnings(site):
    completed, _ = site
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    assert "WARNING" not in completed.stderr, completed.stderr[-3000:]


def test_every_public_module_has_an_api_page(site):
    _, site_dir = site
    package = ROOT / "src" / "glassnet"
    modules = {path.stem for path in package.glob("[!_]*.py")}
    modules |= {path.parent.name for path in package.glob("[!_]*/__init__.py")}
    assert modules - UNDOCUMENTED - set(API_PAGES) == set(), "add an API page to docs/api/"
    for module, page in API_PAGES.items():
        assert f'id="glassnet.{module}"' in _html(site_dir, f"api/{page}"), module


def test_dense_page_shows_the_docstring_equations_and_the_source(site):
    _, site_dir = site
    text = _text(site_dir, "api/layers")
    for line in (
        "Z = A_prev · W + b          A_prev (m, n_prev), W (n_prev, n), b (n,), Z (m, n)",
        "dZ      = dA * g'(Z)                  (m, n)",
        "dW      = A_prevᵀ · dZ / m            (n_prev, n)",
        "db      = Σ_rows dZ / m               (n,)",
        "dA_prev = dZ · Wᵀ                     (m, n_prev)",
    ):
        assert line in text, line
    page = _html(site_dir, "api/layers")
    assert 'id="glassnet.layers.Dense.backward"' in page
    # show_source: the code of Dense.backward is on the page, next to its equations.
    assert "xp.matmul(self.A_prev.T, dZ, out=self.dW)" in text


def test_mathematics_page_has_the_equations_and_links_into_the_code(site):
    _, site_dir = site
    page = _html(site_dir, "mathematics")
    math = re.findall(r'class="arithmatex">(.*?)</', page, flags=re.S)
    assert len(math) > 50  # typeset by the bundled KaTeX in the browser (tests below)
    equations = html.unescape(" ".join(math))
    for latex in (
        r"y \log \hat{y} + (1 - y) \log(1 - \hat{y})",  # binary cross-entropy
        r"= a - y",                                       # dZ for sigmoid + BCE
        r"W^{[l]} := W^{[l]} - \alpha\, dW^{[l]}",          # gradient descent
        r"x_{k+1} = x_k - \alpha\, f'(x_k) = (1 - 2\alpha)\, x_k",  # the parabola
    ):
        assert latex in equations, latex
    for target in (
        "api/layers/#glassnet.layers.Dense.forward",
        "api/layers/#glassnet.layers.Dense.backward",
        "api/models/#glassnet.sequential.Sequential.backward",
        "api/models/#glassnet.sequential.Sequential.train_step",
        "api/losses/#glassnet.losses.BinaryCrossentropy",
        "api/optimizers/#glassnet.optimizers.SGD",
        "api/callbacks/#glassnet.callbacks.EarlyStopping",
    ):
        assert f'href="../{target}"' in page, target


# --------------------------------------------------------------------------- formulas offline
def test_formulas_use_the_bundled_katex_and_no_cdn(site):
    _, site_dir = site
    page = _html(site_dir, "mathematics")
    assets = re.findall(r'<(?:script|link)\b[^>]*?(?:src|href)="([^"]+)"', page)
    remote = [url for url in assets if url.startswith(("http:", "https:", "//"))]
    assert remote == [], f"the page loads from the network: {remote}"
    for needed in ("katex/katex.min.js", "katex/contrib/auto-render.min.js", "katex-init.js",
                   "katex/katex.min.css"):
        assert f"javascripts/{needed}" in page, needed
        assert (site_dir / "javascripts" / needed).is_file(), needed
    katex = site_dir / "javascripts" / "katex"
    assert (katex / "LICENSE").read_text().startswith("The MIT License")
    fonts = set(re.findall(r"url\((fonts/[^)]+?\.woff2)\)", (katex / "katex.min.css").read_text()))
    assert len(fonts) == 20 and all((katex / font).is_file() for font in fonts)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass


def _rendered_dom(site_dir: pathlib.Path, page: str, profile: pathlib.Path) -> str:
    """``page`` of the built site as headless Chromium sees it after its scripts ran,
    served on 127.0.0.1 with every other host unresolvable (as offline)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Chromium is not installed; bash .ci/install-chromium.sh installs it")
    handler = functools.partial(_QuietHandler, directory=str(site_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        completed = subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
             "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
             "--virtual-time-budget=10000", "--dump-dom",
             f"http://127.0.0.1:{server.server_address[1]}/{page}/"],
            capture_output=True, text=True, timeout=120,
        )
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert completed.returncode == 0, completed.stderr[-2000:]
    return completed.stdout


def test_formulas_render_offline_in_headless_chromium(site, tmp_path):
    """The mathematics page in a real browser with no network: KaTeX typesets every
    formula (in the text and in the table of contents), none fails, no raw TeX is left."""
    _, site_dir = site
    dom = _rendered_dom(site_dir, "mathematics", tmp_path / "profile")
    typeset = dom.count('class="katex"')
    assert typeset >= len(re.findall(r'class="arithmatex"', _html(site_dir, "mathematics"))) > 50
    assert "katex-error" not in dom
    # The TeX source stays in each formula's MathML <annotation>; everywhere else it is gone.
    without_sources = re.sub(r"<annotation\b.*?</annotation>", "", dom, flags=re.S)
    visible = html.unescape(re.sub(r"<[^>]+>", "", without_sources))
    for delimiter in ("\\(", "\\[", "\\)", "\\]"):
        assert delimiter not in visible, delimiter
    assert "X : (n_x, m)" not in visible  # the formula the issue saw raw
