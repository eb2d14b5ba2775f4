"""What a release ships: the wheel and the sdist carry the license and the third-party
notices (the MNIST slice's CC BY-SA attribution, the bundled KaTeX's MIT license).

The distributions are built with setuptools' own build backend from a copy of the
project in a temporary folder (nothing is written into the working tree, no network).
"""

import pathlib
import shutil
import subprocess
import sys
import tarfile
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def dists(tmp_path_factory):
    project = tmp_path_factory.mktemp("project")
    for name in ("pyproject.toml", "README.md", "LICENSE", "THIRD_PARTY_NOTICES.md"):
        shutil.copy(ROOT / name, project / name)
    shutil.copytree(ROOT / "src", project / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    out = project / "out"
    completed = subprocess.run(
        [sys.executable, "-c",
         "import setuptools.build_meta as b; b.build_wheel('out'); b.build_sdist('out')"],
        cwd=project, capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    (wheel,), (sdist,) = out.glob("*.whl"), out.glob("*.tar.gz")
    return wheel, sdist


def test_license_is_mit_for_the_glassnet_authors():
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License\n\nCopyright (c) 2026 the glassnet authors\n")
    assert "THE SOFTWARE IS PROVIDED \"AS IS\"" in text


def test_notices_attribute_the_mnist_slice_and_katex():
    notices = (ROOT / "THIRD_PARTY_NOTICES.md").read_text()
    for needed in ("Yann LeCun, Corinna Cortes", "Christopher J. C. Burges", "CC BY-SA 3.0",
                   "https://creativecommons.org/licenses/by-sa/3.0/", "KaTeX 0.19.1",
                   "Khan Academy and other contributors"):
        assert needed in notices, needed
    katex_license = (ROOT / "docs" / "javascripts" / "katex" / "LICENSE").read_text().strip()
    assert katex_license in notices  # the MIT text reproduced in full


def test_wheel_carries_license_notices_and_the_data_readme(dists):
    wheel, _ = dists
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        info = next(name.split("/")[0] for name in names if name.endswith(".dist-info/METADATA"))
        assert {f"{info}/licenses/LICENSE", f"{info}/licenses/THIRD_PARTY_NOTICES.md"} <= names
        assert "glassnet/datasets/data/README.md" in names  # the slice's provenance travels with it
        metadata = zf.read(f"{info}/METADATA").decode()
    assert "License-Expression: MIT" in metadata
    assert "License-File: THIRD_PARTY_NOTICES.md" in metadata


def test_sdist_carries_license_and_notices(dists):
    _, sdist = dists
    with tarfile.open(sdist) as tar:
        names = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    assert {"LICENSE", "THIRD_PARTY_NOTICES.md", "pyproject.toml"} <= names
