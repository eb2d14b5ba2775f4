"""Regenerate ``docs/images/playground.png``: the playground in a real browser, mid-training.

Starts the playground server on a free port of 127.0.0.1, opens the page in Debian's
Chromium (through Playwright, headless), trains the articles' circles network for 60
epochs with the step/play buttons, clicks one training point (so the trace panel shows
its numbers) and photographs the top of the page. With Pillow installed the picture is
reduced to a 64-colour palette, so the file stays small (it must stay under 300 KB).

Needs ``bash .ci/install-chromium.sh`` and ``pip install -e ".[test]"``.

Usage::

    python scripts/make_playground_screenshot.py [--out docs/images/playground.png]
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from playwright.sync_api import sync_playwright

from glassnet.playground.server import running_server

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "docs" / "images" / "playground.png"
SIZE_LIMIT = 300 * 1024


def _shrink(path: Path) -> None:
    try:
        from PIL import Image
    except ImportError:
        return
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=64, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("Chromium is not installed: run bash .ci/install-chromium.sh")
    with running_server() as (url, _), sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1300, "height": 760})
        page.goto(url + "/#showTest=1")
        page.wait_for_function("() => window.glassnet && window.glassnet.framesDrawn > 0")
        page.click("#play")
        page.wait_for_function("() => window.glassnet.epoch >= 60")
        page.click("#play")
        page.wait_for_function("() => !window.glassnet.running && window.glassnet.diagnosis.length >= 0")
        point = page.evaluate("() => window.glassnet.pointPixel('train', 0)")
        box = page.locator("#heatmap").bounding_box()
        assert box is not None, "the output plot is on the page"
        page.mouse.click(box["x"] + point["x"], box["y"] + point["y"])
        page.wait_for_function("() => window.glassnet.trace !== null")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(args.out), clip={"x": 0, "y": 0, "width": 1300, "height": 760})
        browser.close()
    _shrink(args.out)
    size = args.out.stat().st_size
    print(f"wrote {args.out} ({size / 1024:.0f} KB)")
    if size > SIZE_LIMIT:
        raise SystemExit(f"{args.out} is {size / 1024:.0f} KB, over the {SIZE_LIMIT // 1024} KB limit")


if __name__ == "__main__":
    main()
