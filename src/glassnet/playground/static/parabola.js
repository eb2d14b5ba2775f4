// Gradient descent on f(x) = x²: the article's figure, with a learning-rate slider.
// The path comes from the server (glassnet's gradient_descent_path); this page only draws it.
"use strict";

const $ = (id) => document.getElementById(id);
const X0 = 8, STEPS = 20;
window.glassnet = { parabolaPath: null, learningRate: null, verdict: null };

function verdict(path) {
  const first = Math.abs(path[0]), last = Math.abs(path[path.length - 1]);
  const oscillates = path.slice(1).some((x, i) => x !== null && path[i] !== null && Math.sign(x) * Math.sign(path[i]) < 0);
  if (last === null || !isFinite(last) || last > first) return "too large: x jumps across the valley and diverges";
  if (last > 0.5) return `too small: after ${STEPS} steps x is still ${last.toFixed(3)}`;
  return oscillates ? `good, though it oscillates: |x| ${first} → ${last.toPrecision(3)}`
                    : `good: |x| ${first} → ${last.toPrecision(3)}`;
}

function draw(path) {
  const canvas = $("parabola"), ctx = canvas.getContext("2d");
  // Wide enough for every point of a diverging path (up to a point: 1000).
  const RANGE = Math.min(1000, Math.max(10, ...path.filter((x) => x !== null).map(Math.abs)));
  const W = canvas.width, H = canvas.height, top = RANGE * RANGE;
  const px = (x) => (x + RANGE) / (2 * RANGE) * W, py = (y) => H - 10 - y / top * (H - 20);
  ctx.clearRect(0, 0, W, H);
  ctx.beginPath();
  for (let i = 0; i <= 200; i++) {
    const x = -RANGE + i * RANGE / 100;
    if (i === 0) ctx.moveTo(px(x), py(x * x)); else ctx.lineTo(px(x), py(x * x));
  }
  ctx.strokeStyle = "#999"; ctx.lineWidth = 2; ctx.stroke();
  ctx.beginPath();
  let shown = 0;
  path.forEach((x, i) => {
    if (x === null || Math.abs(x) > RANGE) return;
    if (shown++ === 0) ctx.moveTo(px(x), py(x * x)); else ctx.lineTo(px(x), py(x * x));
  });
  ctx.strokeStyle = "#f59322"; ctx.lineWidth = 1.5; ctx.stroke();
  path.forEach((x, i) => {
    if (x === null || Math.abs(x) > RANGE) return;
    ctx.beginPath(); ctx.arc(px(x), py(x * x), i === 0 ? 6 : 4, 0, 2 * Math.PI);
    ctx.fillStyle = i === 0 ? "#000" : "#0877bd"; ctx.fill();
  });
}

function table(path, rate) {
  const rows = ["<tr><th>t</th><th>x_t</th><th>f(x_t) = x_t²</th><th>f'(x_t) = 2x_t</th></tr>"];
  path.forEach((x, t) => {
    const cell = (v) => (v === null || !isFinite(v) ? "overflow" : v.toPrecision(5));
    rows.push(`<tr><td>${t}</td><td>${cell(x)}</td><td>${cell(x === null ? null : x * x)}</td>` +
              `<td>${cell(x === null ? null : 2 * x)}</td></tr>`);
  });
  $("steps").innerHTML = rows.join("");
  katex.render(`x_{t+1} = x_t - \\alpha f'(x_t) = x_t - 2\\alpha x_t = (1 - 2\\alpha)\\, x_t = ` +
               `${(1 - 2 * rate).toFixed(3)}\\, x_t`, $("rule"), { displayMode: true, throwOnError: false });
}

async function update(rate) {
  $("rate-value").textContent = String(rate);
  const response = await fetch(`/parabola/path?learning_rate=${rate}&x0=${X0}&steps=${STEPS}`);
  const path = (await response.json()).x;
  Object.assign(window.glassnet, { parabolaPath: path, learningRate: rate, verdict: verdict(path) });
  $("verdict").textContent = window.glassnet.verdict;
  draw(path);
  table(path, rate);
}

function start() {
  const slider = $("rate");
  const fromSlider = () => Number(Math.pow(10, Number(slider.value)).toPrecision(2));
  slider.oninput = () => update(fromSlider());
  document.querySelectorAll("button[data-rate]").forEach((button) => {
    button.onclick = () => { slider.value = Math.log10(Number(button.dataset.rate)); update(Number(button.dataset.rate)); };
  });
  update(0.1);
  slider.value = -1;
}

window.addEventListener("DOMContentLoaded", start);
