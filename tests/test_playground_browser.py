"""The playground in a real browser: Debian's Chromium driven by Playwright.

One server and one browser for the whole module; every test opens its own page (a new tab,
so a new session). Tests wait on ``window.glassnet`` with ``wait_for_function``, never sleep.
Skipped, with the reason, only where Chromium or Playwright is not installed
(``bash .ci/install-chromium.sh`` and ``pip install -e ".[test]"`` install both).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("starlette", reason="the playground needs its extra: pip install -e '.[playground]'")
sync_api = pytest.importorskip("playwright.sync_api",
                               reason="the browser tests need Playwright: pip install -e '.[test]'")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None,
                                reason="Chromium is not installed: run bash .ci/install-chromium.sh")

from glassnet.playground.server import running_server  # noqa: E402
from glassnet.playground.settings import Settings  # noqa: E402
from glassnet.viz.gradient_descent import gradient_descent_path, parabola_derivative  # noqa: E402

SRC = Path(__file__).resolve().parents[1] / "src"
TIMEOUT = 30_000   # ms; a shared 2-core machine can be slow


@pytest.fixture(scope="module")
def server():
    with running_server() as (url, app):
        yield url, app


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield chromium
        chromium.close()


def _hash(**changes) -> str:
    settings = {**Settings().to_dict(), **changes}
    parts = [f"{key}={urllib.parse.quote(','.join(map(str, v)) if isinstance(v, list) else str(v))}"
             for key, v in settings.items()]
    return "#" + "&".join(parts)


class Tab:
    """One page with its console errors recorded."""

    def __init__(self, browser, url: str, fragment: str = "") -> None:
        self.page = browser.new_page(viewport={"width": 1400, "height": 1000})
        self.console_errors: list[str] = []
        self.page.on("console", lambda m: self.console_errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda error: self.console_errors.append(str(error)))
        self.page.set_default_timeout(TIMEOUT)
        self.page.goto(url + "/" + fragment)
        self.wait("g.modelVersion >= 1 && g.framesDrawn >= 1")

    def wait(self, condition: str, timeout: int = TIMEOUT) -> None:
        self.page.wait_for_function(f"() => {{ const g = window.glassnet; return !!g && ({condition}); }}",
                                    timeout=timeout)

    def get(self, expression: str):
        return self.page.evaluate(f"() => {{ const g = window.glassnet; return {expression}; }}")

    def steps(self, n: int) -> None:
        """Train exactly n more epochs with the step button."""
        start = self.get("g.epoch")
        for k in range(1, n + 1):
            self.page.click("#step")
            self.wait(f"g.epoch >= {start + k} && !g.running")

    def heatmap_pixels(self) -> np.ndarray:
        """Every 4th pixel of every 4th row of the output plot: (100, 100, 4) RGBA."""
        data = self.page.evaluate("""() => {
            const all = document.getElementById('heatmap').getContext('2d').getImageData(0, 0, 400, 400).data;
            const out = [];
            for (let r = 0; r < 400; r += 4) for (let c = 0; c < 400; c += 4) {
                const k = 4 * (400 * r + c); out.push(all[k], all[k + 1], all[k + 2], all[k + 3]);
            }
            return out; }""")
        return np.array(data, dtype=np.uint8).reshape(100, 100, 4)

    def session(self, app):
        return app.state.sessions[self.get("g.token")]

    def close(self) -> None:
        self.page.close()


@pytest.fixture
def tab_factory(browser, server):
    url, _ = server
    tabs: list[Tab] = []

    def open_tab(fragment: str = "") -> Tab:
        tab = Tab(browser, url, fragment)
        tabs.append(tab)
        return tab

    yield open_tab
    errors = [error for tab in tabs for error in tab.console_errors]
    for tab in tabs:
        tab.close()
    assert errors == [], f"console errors: {errors}"


def test_loads_without_console_errors_and_shows_state(tab_factory):
    tab = tab_factory()
    assert tab.get("g.layerSizes") == [2, 4, 6, 6, 4, 1]
    assert tab.get("g.epoch") == 0
    assert tab.page.locator(".node").count() == 7 + 4 + 6 + 6 + 4 + 1
    assert tab.page.locator("#equations .katex").count() > 10        # KaTeX rendered glassnet's equations
    assert tab.page.locator("#links line").count() == 2 * 4 + 4 * 6 + 6 * 6 + 6 * 4 + 4 * 1


def test_play_trains_loss_falls_and_canvas_changes(tab_factory):
    tab = tab_factory()
    first_loss = tab.get("g.trainLoss")
    before = tab.heatmap_pixels()
    tab.page.click("#play")
    tab.wait("g.epoch >= 20")
    tab.page.click("#play")            # pause
    tab.wait("!g.running")
    assert tab.get("g.trainLoss") < 0.5 * first_loss
    after = tab.heatmap_pixels()
    assert np.abs(after.astype(int) - before.astype(int)).sum(axis=2).astype(bool).mean() > 0.05
    assert tab.get("g.framesDrawn") >= 2 and tab.get("g.step") == tab.get("g.epoch") * 25


def test_adding_a_layer_and_a_neuron_changes_drawing_and_equations(tab_factory):
    tab = tab_factory()
    nodes = tab.page.locator(".node").count()
    tab.page.click("#add-layer")
    tab.wait("g.layerSizes.length === 7")
    assert tab.get("g.layerSizes") == [2, 4, 6, 6, 4, 4, 1]
    assert tab.page.locator(".node").count() == nodes + 4
    assert tab.get("g.equationShapes[4].W") == "(4, 4)"
    assert tab.page.locator("#eq-layer-5 .shape-W").inner_text() == "(4, 4)"
    tab.page.click(".layer-head button[data-layer='1'][data-delta='1']")      # a neuron in layer 1
    tab.wait("g.layerSizes[1] === 5")
    assert tab.get("g.equationShapes[0].W") == "(2, 5)"
    assert tab.get("g.equationShapes[1].W") == "(5, 6)"
    assert tab.page.locator("#eq-layer-1 .shape-Z").inner_text() == "(10, 5)"   # batch size 10
    assert "#" in tab.page.url and "layers=5%2C6%2C6%2C4%2C4" in tab.page.url


def test_clicking_a_point_shows_the_numbers_of_model_trace(tab_factory, server):
    tab = tab_factory()
    tab.steps(3)
    point = tab.get("g.pointPixel('train', 7)")
    box = tab.page.locator("#heatmap").bounding_box()
    tab.page.mouse.click(box["x"] + point["x"], box["y"] + point["y"])
    tab.wait("g.trace !== null")
    shown = tab.get("g.trace")
    session = tab.session(server[1])
    index = shown["index"]
    A0 = session.A0_train if shown["set"] == "train" else session.A0_test
    Y = session.Y_train if shown["set"] == "train" else session.Y_test
    expected = session.model.trace(A0[index], Y[index])
    for step, want in zip(shown["steps"], expected.steps, strict=True):
        assert step["phase"] == want["phase"]
        for key in ("a_prev", "W", "b", "z", "a", "dZ", "dW", "db", "dA_prev"):
            if want.get(key) is not None:
                np.testing.assert_allclose(np.array(step[key], dtype=float), want[key], rtol=1e-6, atol=1e-7)
    assert shown["loss"] == pytest.approx(expected.loss, rel=1e-6)
    panel = tab.page.locator("#trace").inner_text()
    first_w = expected.step("forward", 1)["W"][0, 0]
    assert f"{first_w:.4f}" in panel
    assert tab.page.locator("#trace .katex").count() > 10


def test_hovering_and_editing_a_weight_changes_the_prediction(tab_factory, server):
    tab = tab_factory()
    session = tab.session(server[1])
    weight = tab.get("g.weight(1, 'W', 0, 1)")
    assert weight == pytest.approx(session.model.layers[0].get_weights()[0][0, 1], rel=1e-6)
    # Lines cross, so the events go to this line directly (as the mouse over it would send them).
    link = tab.page.locator("#link-1-0-1")
    link.dispatch_event("mousemove", {"clientX": 300, "clientY": 200})
    tab.wait("!document.getElementById('weight-tip').hidden")
    assert f"{weight:.4f}" in tab.page.locator("#weight-tip").inner_text()
    before_pixels = tab.heatmap_pixels()
    before = session.model.predict(session.A0_test[:20]).copy()
    link.dispatch_event("click", {"clientX": 300, "clientY": 200})
    tab.page.fill("#weight-value", "4.5")
    frames = tab.get("g.framesDrawn")
    tab.page.press("#weight-value", "Enter")
    tab.wait(f"g.framesDrawn > {frames} && Math.abs(g.weight(1, 'W', 0, 1) - 4.5) < 1e-6")
    assert session.model.layers[0].get_weights()[0][0, 1] == pytest.approx(4.5)
    assert not np.allclose(session.model.predict(session.A0_test[:20]), before)
    assert (tab.heatmap_pixels() != before_pixels).any()
    tab.page.click("#node-2-3")                       # a unit: edit its bias
    tab.page.fill("#weight-value", "-2")
    tab.page.press("#weight-value", "Enter")
    tab.wait("Math.abs(g.weight(2, 'b', 0, 3) + 2) < 1e-6")
    assert session.model.layers[1].get_weights()[1][3] == pytest.approx(-2.0)


def test_exported_script_reproduces_the_page(tab_factory, server, tmp_path):
    tab = tab_factory(_hash(dataset="xor", seed=5, layers=[5, 3], activations=["tanh", "relu"],
                            optimizer="momentum", learning_rate=0.03, regularization="l2",
                            regularization_rate=0.001))
    tab.steps(4)
    accuracy, test_loss, token = tab.get("g.accuracy"), tab.get("g.testLoss"), tab.get("g.token")
    with urllib.request.urlopen(f"{server[0]}/download/{token}/train.py") as response:
        script = response.read().decode()
    path = tmp_path / "train.py"
    path.write_text(script)
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    result = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    printed = dict(re.findall(r"test (accuracy|loss): ([0-9.]+)", result.stdout))
    assert float(printed["accuracy"]) == pytest.approx(accuracy, abs=1e-6)
    assert float(printed["loss"]) == pytest.approx(test_loss, abs=1e-6)
    assert "epochs: 4" in result.stdout
    with urllib.request.urlopen(f"{server[0]}/download/{token}/model.glassnet") as response:
        (tmp_path / "m.glassnet").write_bytes(response.read())
    from glassnet.models import load_model

    loaded = load_model(tmp_path / "m.glassnet")
    session = tab.session(server[1])
    np.testing.assert_array_equal(loaded.predict(session.A0_test), session.model.predict(session.A0_test))
    onnxruntime = pytest.importorskip("onnxruntime")
    with urllib.request.urlopen(f"{server[0]}/download/{token}/model.onnx") as response:
        (tmp_path / "m.onnx").write_bytes(response.read())
    run = onnxruntime.InferenceSession(str(tmp_path / "m.onnx"))
    onnx_output = run.run(None, {run.get_inputs()[0].name: session.A0_test.astype(np.float32)})[0]
    np.testing.assert_allclose(onnx_output, session.model.predict(session.A0_test), rtol=1e-4, atol=1e-5)


def test_the_url_reproduces_the_run_and_two_tabs_are_independent(tab_factory):
    first = tab_factory(_hash(dataset="spiral", seed=11, layers=[8, 8], activations=["tanh", "tanh"],
                              features=["x1", "x2", "sin_x1"], batch_size=20))
    first.steps(5)
    second = tab_factory(first.page.url[first.page.url.index("#"):])
    assert second.get("g.layerSizes") == first.get("g.layerSizes") == [3, 8, 8, 1]
    assert second.get("g.token") != first.get("g.token")
    second.steps(5)
    assert second.get("g.trainLoss") == first.get("g.trainLoss")
    assert second.get("g.testLoss") == first.get("g.testLoss")
    # Changing one tab leaves the other alone.
    second.page.click("#remove-layer")
    second.wait("g.layerSizes.length === 3")
    first.steps(1)
    assert first.get("g.layerSizes") == [3, 8, 8, 1] and first.get("g.epoch") == 6


def test_malformed_messages_get_errors_and_the_server_keeps_serving(tab_factory):
    tab = tab_factory()
    tab.page.evaluate("() => window.glassnet.sendRaw('{not json')")
    tab.wait("g.errors.length >= 1")
    bad_settings = tab.get("({...g.settings, layers: [4, 1000]})")
    tab.page.evaluate("(s) => window.glassnet.send({type: 'configure', settings: s})", bad_settings)
    tab.wait("g.errors.length >= 2")
    tab.page.evaluate("() => window.glassnet.send({type: 'play', turbo: true})")
    tab.wait("g.errors.length >= 3")
    tab.page.evaluate("() => window.glassnet.send({type: 'set_weight', layer: 9, param: 'W', row: 0, "
                      "column: 0, value: 1})")
    tab.wait("g.errors.length >= 4")
    tab.page.evaluate("() => window.glassnet.sendRaw('x'.repeat(400000))")
    tab.wait("g.errors.length >= 5")
    errors = tab.get("g.errors")
    assert "JSON" in errors[0]
    assert "settings.layers[1]" in errors[1] and "16" in errors[1]
    assert "turbo" in errors[2]
    assert "layer" in errors[3]
    assert "at most" in errors[4]
    assert tab.page.locator("#errors").is_visible()
    tab.steps(1)                             # the same session still trains
    assert tab_factory().get("g.epoch") == 0   # and the server serves a new tab


def test_three_classes_with_softmax(tab_factory):
    tab = tab_factory(_hash(dataset="gaussian3", loss="categorical_crossentropy", layers=[6],
                            activations=["relu"], learning_rate=0.03))
    assert tab.get("g.layerSizes") == [2, 6, 3]
    assert "softmax" in tab.page.locator("#eq-layer-2").inner_text()
    tab.page.click("#play")
    tab.wait("g.epoch >= 15 && g.accuracy > 0.9")
    tab.page.click("#play")
    pixels = tab.heatmap_pixels()[:, :, :3].reshape(-1, 3).astype(int)
    green = (pixels[:, 1] > pixels[:, 0] + 30) & (pixels[:, 1] > pixels[:, 2] + 30)
    assert green.mean() > 0.05             # the third class has its own region


def test_your_own_data_by_clicks_and_csv(tab_factory, tmp_path):
    tab = tab_factory()
    tab.page.click("#dataset-custom")
    tab.wait("g.settings.dataset === 'custom'")
    box = tab.page.locator("#heatmap").bounding_box()
    for k, (x, y) in enumerate([(60, 60), (80, 70), (330, 320), (300, 340), (70, 320), (330, 70)]):
        tab.page.select_option("#custom-class", str(k % 2))
        version = tab.get("g.modelVersion")
        tab.page.mouse.click(box["x"] + x, box["y"] + y)
        tab.wait(f"g.modelVersion > {version}")
    assert tab.get("g.settings.dataset") == "custom"
    csv = tmp_path / "points.csv"
    rows = [f"{x:.2f},{x / 2:.2f},{int(x > 0)}" for x in np.linspace(-5, 5, 40)]
    csv.write_text("x1,x2,label\n" + "\n".join(rows))
    version = tab.get("g.modelVersion")
    tab.page.set_input_files("#csv", str(csv))
    tab.wait(f"g.modelVersion > {version}")
    tab.steps(2)
    bad = tmp_path / "bad.csv"
    bad.write_text("1,2,3,4\n")
    tab.page.set_input_files("#csv", str(bad))
    tab.wait("g.errors.length >= 1")
    assert "three numbers" in tab.get("g.errors[0]")


@pytest.mark.filterwarnings("ignore:Epoch .*diverged:RuntimeWarning")   # the page's own message instead
def test_a_diverging_run_is_stopped_and_explained(tab_factory):
    tab = tab_factory(_hash(dataset="plane", loss="mean_squared_error", optimizer="sgd", learning_rate=10,
                            features=["x1", "x2", "x1^2", "x2^2"], layers=[8], activations=["relu"]))
    tab.page.click("#play")
    tab.wait("g.stopped !== null")
    assert "diverged" in tab.get("g.stopped") and "learning rate" in tab.get("g.stopped")
    tab.wait("!g.running && g.diagnosis.length > 0")
    assert tab.page.locator("#stopped").is_visible()


def test_gradient_descent_on_a_parabola_page(browser, server):
    page = browser.new_page()
    page.goto(server[0] + "/parabola")
    page.wait_for_function("() => window.glassnet.verdict !== null", timeout=TIMEOUT)
    page.click("button[data-rate='1.05']")
    page.wait_for_function("() => window.glassnet.learningRate === 1.05", timeout=TIMEOUT)
    assert "too large" in page.evaluate("() => window.glassnet.verdict")
    path = page.evaluate("() => window.glassnet.parabolaPath")
    np.testing.assert_allclose(path, gradient_descent_path(parabola_derivative, 8.0, 1.05, 20))
    page.click("button[data-rate='0.01']")
    page.wait_for_function("() => window.glassnet.learningRate === 0.01", timeout=TIMEOUT)
    assert "too small" in page.evaluate("() => window.glassnet.verdict")
    page.close()


def test_info_and_downloads_refuse_unknown_sessions(server):
    with urllib.request.urlopen(server[0] + "/info") as response:
        info = json.loads(response.read())
    assert "relu" in info["activations"] and info["limits"]["max_units"] == 16
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(server[0] + "/download/nope/train.py")
    assert error.value.code == 404
