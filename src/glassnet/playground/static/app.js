// glassnet playground: the page. Plain JavaScript, no build step.
// The server (one WebSocket per tab) does all the mathematics with glassnet; this page draws
// what it sends: byte-grid heatmaps, weights, glassnet's equations (explain) and traces (trace).
"use strict";

const DOMAIN = 6;
const COLORS = { 0: [245, 147, 34], 1: [8, 119, 189], 2: [44, 160, 44] };
const WHITE = [255, 255, 255];
const DATASETS = [
  ["circle", "circle"], ["xor", "xor"], ["gaussian", "gaussian"], ["spiral", "spiral"],
  ["circles", "articles' circles"], ["moons", "moons"], ["spiral3", "spiral, 3 classes"],
  ["gaussian3", "3 gaussians"], ["plane", "plane (regr.)"], ["multigaussian", "multi-gauss (regr.)"],
  ["custom", "your own data"],
];
const TASKS = { spiral3: "multiclass", gaussian3: "multiclass", plane: "regression", multigaussian: "regression" };
const LOSSES = { binary: ["binary_crossentropy", "mean_squared_error"], multiclass: ["categorical_crossentropy"],
                 regression: ["mean_squared_error"] };
const LEARNING_RATES = [0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10];
const REG_RATES = [0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10];
const FEATURES = ["x1", "x2", "x1^2", "x2^2", "x1x2", "sin_x1", "sin_x2"];
const FEATURE_LABELS = { "x1": "x₁", "x2": "x₂", "x1^2": "x₁²", "x2^2": "x₂²", "x1x2": "x₁x₂",
                         "sin_x1": "sin x₁", "sin_x2": "sin x₂" };
const DEFAULTS = {
  dataset: "circles", noise: 0.05, train_ratio: 0.5, n_points: 500, features: ["x1", "x2"],
  layers: [4, 6, 6, 4], activations: ["relu", "relu", "relu", "relu"], loss: "binary_crossentropy",
  optimizer: "adam", learning_rate: 0.03, batch_size: 10, regularization: "none", regularization_rate: 0,
  initializer: "glorot_uniform", seed: 0, n_classes: 2,
};

const $ = (id) => document.getElementById(id);
const state = {
  settings: structuredClone(DEFAULTS), view: { showTest: false, discretize: false },
  info: null, model: null, frame: null, history: { train: [], test: [] }, socket: null,
  marks: {}, editing: null,
};

// Everything a test (or a curious learner) may read: window.glassnet.
const glassnet = window.glassnet = {
  connected: false, epoch: 0, step: 0, running: false, trainLoss: null, testLoss: null,
  accuracy: null, trainAccuracy: null, framesDrawn: 0, framesReceived: 0, modelVersion: 0,
  layerSizes: [], equationShapes: [], diagnosis: [], findings: [], errors: [], stopped: null,
  trace: null, settings: state.settings, token: null,
  send: (message) => send(message),
  sendRaw: (text) => state.socket.send(text),
  weight: (layer, param, row, column) => weightAt(layer, param, row, column),
  pointPixel: (set, index) => pointPixel(set, index),
};

// ------------------------------------------------------------------ URL <-> settings
function settingsToHash() {
  const s = state.settings, parts = [];
  for (const [key, value] of Object.entries(s)) {
    parts.push(`${key}=${encodeURIComponent(Array.isArray(value) ? value.join(",") : value)}`);
  }
  parts.push(`showTest=${state.view.showTest ? 1 : 0}`, `discretize=${state.view.discretize ? 1 : 0}`);
  return "#" + parts.join("&");
}

function settingsFromHash(hash) {
  const s = structuredClone(DEFAULTS);
  for (const part of hash.replace(/^#/, "").split("&").filter(Boolean)) {
    const [key, raw] = part.split("=");
    const value = decodeURIComponent(raw || "");
    if (key === "showTest" || key === "discretize") { state.view[key] = value === "1"; continue; }
    if (!(key in s)) continue;          // unknown keys in a link are ignored, not sent
    if (Array.isArray(DEFAULTS[key])) {
      const items = value === "" ? [] : value.split(",");
      s[key] = key === "layers" ? items.map(Number) : items;
    } else if (typeof DEFAULTS[key] === "number") {
      s[key] = Number(value);
    } else {
      s[key] = value;
    }
  }
  return s;
}

function taskOf(s) {
  if (s.dataset === "custom") return s.n_classes === 3 ? "multiclass" : "binary";
  return TASKS[s.dataset] || "binary";
}

// ------------------------------------------------------------------ connection
function connect() {
  const socket = state.socket = new WebSocket(`ws://${location.host}/ws`);
  socket.binaryType = "arraybuffer";
  socket.onopen = () => { glassnet.connected = true; configure(); };
  socket.onclose = () => { glassnet.connected = false; };
  socket.onmessage = (event) => {
    if (typeof event.data === "string") onMessage(JSON.parse(event.data));
    else onFrame(event.data);
  };
}

function send(message) {
  if (state.socket && state.socket.readyState === WebSocket.OPEN) state.socket.send(JSON.stringify(message));
}

function configure() {
  history.replaceState(null, "", settingsToHash());
  send({ type: "configure", settings: state.settings });
}

function onMessage(message) {
  const handlers = { model: onModel, error: onError, diagnosis: onDiagnosis, trace: onTrace, stopped: onStopped };
  (handlers[message.type] || (() => {}))(message);
}

function onError(message) {
  glassnet.errors.push(message.message);
  const box = $("errors");
  box.textContent = "The server refused a request: " + message.message;
  box.hidden = false;
}

function onStopped(message) {
  glassnet.stopped = message.reason;
  glassnet.running = false;
  $("stopped").textContent = message.reason;
  $("stopped").hidden = false;
  updatePlayButton();
}

// ------------------------------------------------------------------ a new model
function onModel(message) {
  state.model = message;
  state.settings = glassnet.settings = message.settings;
  state.history = { train: [], test: [] };
  state.marks = {};
  glassnet.modelVersion += 1;
  glassnet.token = message.token;
  glassnet.layerSizes = message.layerSizes;
  glassnet.epoch = 0; glassnet.step = 0; glassnet.stopped = null; glassnet.running = false;
  glassnet.diagnosis = []; glassnet.findings = [];
  $("stopped").hidden = true;
  history.replaceState(null, "", settingsToHash());
  syncControls();
  drawNetwork();
  drawEquations(message.explanation);
  updateDownloads();
  $("findings").innerHTML = "<li>train to see glassnet's diagnosis</li>";
}

function updateDownloads() {
  const token = state.model.token;
  $("dl-script").href = `/download/${token}/train.py`;
  $("dl-model").href = `/download/${token}/model.glassnet`;
  const onnx = $("dl-onnx");
  if (state.info && state.info.onnx) {
    onnx.href = `/download/${token}/model.onnx`;
  } else {
    onnx.removeAttribute("href");
    onnx.setAttribute("aria-disabled", "true");
    onnx.title = "ONNX export needs the onnx package: pip install 'glassnet[onnx]'";
  }
}

// ------------------------------------------------------------------ frames
function decodeFrame(buffer) {
  const view = new DataView(buffer);
  const n = view.getUint32(0, true);
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 4, n)));
  let offset = 4 + n;
  offset += (4 - (offset % 4)) % 4;
  const outputSize = header.outputMaps * header.grid * header.grid;
  const outputs = new Uint8Array(buffer, offset, outputSize);
  const nodes = new Uint8Array(buffer, offset + outputSize, header.nodes * header.nodeGrid * header.nodeGrid);
  offset += outputSize + nodes.length;
  offset += (4 - (offset % 4)) % 4;
  const weights = new Float32Array(buffer, offset, (buffer.byteLength - offset) / 4);
  return { header, outputs, nodes, weights };
}

function onFrame(buffer) {
  const frame = decodeFrame(buffer);
  glassnet.framesReceived += 1;
  if (!state.model) return;
  const units = FEATURES.length + state.model.layerSizes.slice(1).reduce((a, b) => a + b, 0);
  if (frame.header.nodes !== units) return;     // a frame of the previous network
  state.frame = frame;
  const h = frame.header;
  if (h.epoch > glassnet.epoch) {
    state.history.train.push(h.trainLoss);
    state.history.test.push(h.testLoss);
  }
  Object.assign(glassnet, { epoch: h.epoch, running: h.running, trainLoss: h.trainLoss, testLoss: h.testLoss,
                            accuracy: h.testAccuracy, trainAccuracy: h.trainAccuracy });
  const nTrain = state.model.train.x.length;
  glassnet.step = h.epoch * Math.ceil(nTrain / Math.max(1, Math.min(state.settings.batch_size, nTrain)));
  drawFrame();
}

function drawFrame() {
  const frame = state.frame;
  if (!frame) return;
  drawHeatmap(frame);
  drawNodeMaps(frame);
  styleLinks(frame.weights);
  drawLossCurve();
  const fmt = (v) => (v === null || v === undefined ? "NaN" : v.toFixed(3));
  $("epoch").textContent = String(frame.header.epoch).padStart(6, "0");
  $("train-loss").textContent = fmt(frame.header.trainLoss);
  $("test-loss").textContent = fmt(frame.header.testLoss);
  $("accuracy").textContent = frame.header.testAccuracy === undefined ? "-" : fmt(frame.header.testAccuracy);
  updatePlayButton();
  glassnet.framesDrawn += 1;
}

function mix(from, to, t) {
  return [0, 1, 2].map((i) => Math.round(from[i] + (to[i] - from[i]) * t));
}

function signedColor(value) {      // value in [-1, 1]: orange .. white .. blue
  return value < 0 ? mix(WHITE, COLORS[0], -value) : mix(WHITE, COLORS[1], value);
}

function outputColor(frame, index) {
  const { header, outputs } = frame;
  const size = header.grid * header.grid;
  if (header.outputMaps === 3) {
    const p = [0, 1, 2].map((k) => outputs[k * size + index] / 255);
    const best = p.indexOf(Math.max(...p));
    if (state.view.discretize) return mix(WHITE, COLORS[best], 0.75);
    const strength = Math.max(0, (p[best] - 1 / 3) * 1.5);
    return mix(WHITE, COLORS[best], strength);
  }
  let v = outputs[index] / 255 * 2 - 1;
  if (state.view.discretize) v = v >= 0 ? 0.75 : -0.75;
  return signedColor(v * 0.85);
}

function drawHeatmap(frame) {
  const G = frame.header.grid;
  const image = new ImageData(G, G);
  for (let i = 0; i < G * G; i++) {
    const c = outputColor(frame, i);
    image.data.set([c[0], c[1], c[2], 255], 4 * i);
  }
  const small = drawHeatmap.small || (drawHeatmap.small = document.createElement("canvas"));
  small.width = G; small.height = G;
  small.getContext("2d").putImageData(image, 0, 0);
  const canvas = $("heatmap"), ctx = canvas.getContext("2d");
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(small, 0, 0, canvas.width, canvas.height);
  drawPoints(ctx, canvas);
}

function toPixel(x, canvas) {
  return [(x[0] + DOMAIN) / (2 * DOMAIN) * canvas.width, (DOMAIN - x[1]) / (2 * DOMAIN) * canvas.height];
}

function pointColor(label) {
  if (state.model.task === "regression") return signedColor(Math.max(-1, Math.min(1, label)));
  return COLORS[label];
}

function drawPoints(ctx, canvas) {
  const sets = [["train", "#fff"]];
  if (state.view.showTest) sets.push(["test", "#000"]);
  for (const [name, stroke] of sets) {
    const data = state.model[name];
    for (let i = 0; i < data.x.length; i++) {
      const [px, py] = toPixel(data.x[i], canvas);
      const c = pointColor(data.y[i]);
      ctx.beginPath();
      ctx.arc(px, py, 3.5, 0, 2 * Math.PI);
      ctx.fillStyle = `rgb(${c[0]},${c[1]},${c[2]})`;
      ctx.fill();
      ctx.lineWidth = 1;
      ctx.strokeStyle = stroke;
      ctx.stroke();
    }
  }
  if (state.traced) {
    const [px, py] = toPixel(state.traced, canvas);
    ctx.beginPath(); ctx.arc(px, py, 7, 0, 2 * Math.PI);
    ctx.lineWidth = 2; ctx.strokeStyle = "#000"; ctx.stroke();
  }
}

function pointPixel(set, index) {
  const canvas = $("heatmap");
  const [px, py] = toPixel(state.model[set].x[index], canvas);
  return { x: px * canvas.clientWidth / canvas.width, y: py * canvas.clientHeight / canvas.height };
}

function drawLossCurve() {
  const canvas = $("loss-curve"), ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const all = state.history.train.concat(state.history.test).filter((v) => v !== null && isFinite(v));
  if (!all.length) return;
  const top = Math.max(...all) || 1, n = Math.max(state.history.train.length - 1, 1);
  for (const [series, color] of [[state.history.test, "#999"], [state.history.train, "#000"]]) {
    ctx.beginPath();
    series.forEach((v, i) => {
      const x = i / n * canvas.width, y = canvas.height - 2 - (v === null ? top : v) / top * (canvas.height - 4);
      if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
    });
    ctx.strokeStyle = color; ctx.lineWidth = 1.5; ctx.stroke();
  }
}

// ------------------------------------------------------------------ the network drawing
const NODE = 34, ROW = 42, TOP = 64;

function columnX(column, columns) {
  const width = Math.max($("network").clientWidth, 300);
  return 40 + column * (width - 80 - NODE) / Math.max(columns - 1, 1);
}

function nodePosition(column, row, columns) {
  return [columnX(column, columns), TOP + row * ROW];
}

function drawNetwork() {
  const net = $("network"), svg = $("links"), sizes = state.model.layerSizes;
  net.querySelectorAll(".node, .node-label, .layer-head").forEach((el) => el.remove());
  svg.innerHTML = "";
  const columns = sizes.length, active = state.settings.features;
  const rows = Math.max(FEATURES.length, ...sizes);
  net.style.height = `${TOP + rows * ROW + 20}px`;
  svg.setAttribute("width", net.clientWidth); svg.setAttribute("height", TOP + rows * ROW + 20);
  state.nodeCanvases = [];
  FEATURES.forEach((name, row) => {
    const [x, y] = nodePosition(0, row, columns);
    const on = active.includes(name);
    const node = addNode(net, x, y, `feature-${name}`, "node feature" + (on ? "" : " off"));
    node.title = on ? "click to stop using this feature" : "click to use this feature";
    node.onclick = () => toggleFeature(name);
    state.nodeCanvases.push(node.firstChild);
    const label = document.createElement("div");
    label.className = "node-label"; label.textContent = FEATURE_LABELS[name];
    label.style.left = `${x - 38}px`; label.style.top = `${y + 10}px`;
    net.appendChild(label);
  });
  for (let l = 1; l < columns; l++) {
    for (let j = 0; j < sizes[l]; j++) {
      const [x, y] = nodePosition(l, j, columns);
      const node = addNode(net, x, y, `node-${l}-${j}`, "node");
      node.title = "click to edit this unit's bias";
      node.onclick = (event) => editBias(event, l, j);
      state.nodeCanvases.push(node.firstChild);
    }
    addLayerHead(net, l, columns);
  }
  drawLinks(svg, sizes, columns);
  applyMarks();
  $("layer-count").textContent = String(state.settings.layers.length);
}

function addNode(parent, x, y, id, className) {
  const node = document.createElement("div");
  node.className = className; node.id = id;
  node.style.left = `${x}px`; node.style.top = `${y}px`;
  const canvas = document.createElement("canvas");
  canvas.width = 32; canvas.height = 32;
  node.appendChild(canvas);
  parent.appendChild(node);
  return node;
}

function addLayerHead(net, l, columns) {
  const head = document.createElement("div");
  head.className = "layer-head";
  head.style.left = `${columnX(l, columns) - 28}px`; head.style.top = "0px";
  const hidden = l < columns - 1;
  const units = state.model.layerSizes[l];
  if (hidden) {
    head.innerHTML = `<button data-layer="${l}" data-delta="1" title="add a neuron">+</button>` +
      `<button data-layer="${l}" data-delta="-1" title="remove a neuron">&minus;</button><br>${units} neurons<br>`;
    head.querySelectorAll("button").forEach((b) => { b.onclick = () => changeUnits(l - 1, Number(b.dataset.delta)); });
    const select = document.createElement("select");
    select.id = `activation-${l}`;
    for (const name of state.info.activations) select.add(new Option(name, name));
    select.value = state.settings.activations[l - 1];
    select.onchange = () => { state.settings.activations[l - 1] = select.value; configure(); };
    head.appendChild(select);
  } else {
    head.innerHTML = `output<br>${units} unit${units > 1 ? "s" : ""}<br>` +
      `${state.model.explanation.layers[l - 1].activation}`;
  }
  net.appendChild(head);
}

function nodeCentre(l, j, columns) {
  let row = j;
  if (l === 0) row = FEATURES.indexOf(state.settings.features[j]);
  const [x, y] = nodePosition(l, row, columns);
  return [x + NODE / 2, y + NODE / 2];
}

function drawLinks(svg, sizes, columns) {
  state.links = [];
  for (let l = 1; l < columns; l++) {
    for (let i = 0; i < sizes[l - 1]; i++) {
      for (let j = 0; j < sizes[l]; j++) {
        const [x1, y1] = nodeCentre(l - 1, i, columns), [x2, y2] = nodeCentre(l, j, columns);
        const line = document.createElementNS("http://www.w3.org/2000/svg", "line");
        line.setAttribute("x1", x1 + NODE / 2); line.setAttribute("y1", y1);
        line.setAttribute("x2", x2 - NODE / 2); line.setAttribute("y2", y2);
        line.id = `link-${l}-${i}-${j}`;
        line.addEventListener("mousemove", (e) => showWeight(e, l, i, j));
        line.addEventListener("mouseleave", () => { $("weight-tip").hidden = true; state.hovered = null; });
        line.addEventListener("click", (e) => editWeight(e, l, i, j));
        svg.appendChild(line);
        state.links.push([line, l, i, j]);
      }
    }
  }
}

// Offsets of W[l] and b[l] in the frame's weights: every layer's W (n_prev × n) then b (n).
function weightAt(layer, param, row, column) {
  if (!state.frame) return null;
  const sizes = state.model.layerSizes;
  let offset = 0;
  for (let l = 1; l < layer; l++) offset += sizes[l - 1] * sizes[l] + sizes[l];
  if (param === "b") return state.frame.weights[offset + sizes[layer - 1] * sizes[layer] + column];
  return state.frame.weights[offset + row * sizes[layer] + column];
}

function styleLinks() {
  for (const [line, l, i, j] of state.links || []) {
    const w = weightAt(l, "W", i, j);
    const c = w >= 0 ? COLORS[1] : COLORS[0];
    line.setAttribute("stroke", `rgb(${c[0]},${c[1]},${c[2]})`);
    line.setAttribute("stroke-width", Math.min(6, 0.4 + Math.abs(w) * 1.5).toFixed(2));
    line.setAttribute("stroke-opacity", "0.7");
  }
  if (state.hovered) {
    const [l, i, j] = state.hovered;
    $("weight-tip").textContent = `W[${l}][${i + 1},${j + 1}] = ${weightAt(l, "W", i, j).toFixed(4)}  (click to edit)`;
  }
}

function showWeight(event, l, i, j) {
  state.hovered = [l, i, j];
  const tip = $("weight-tip");
  tip.hidden = false;
  tip.style.left = `${event.clientX + 12}px`; tip.style.top = `${event.clientY + 12}px`;
  tip.textContent = `W[${l}][${i + 1},${j + 1}] = ${weightAt(l, "W", i, j).toFixed(4)}  (click to edit)`;
}

function openEditor(event, editing, label, value) {
  state.editing = editing;
  const form = $("weight-editor");
  form.hidden = false;
  form.style.left = `${event.clientX + 12}px`; form.style.top = `${event.clientY + 12}px`;
  $("weight-label").textContent = label;
  $("weight-value").value = value.toFixed(4);
  $("weight-value").focus();
}

function editWeight(event, l, i, j) {
  openEditor(event, { layer: l, param: "W", row: i, column: j }, `W[${l}][${i + 1},${j + 1}]`, weightAt(l, "W", i, j));
}

function editBias(event, l, j) {
  openEditor(event, { layer: l, param: "b", row: 0, column: j }, `b[${l}][${j + 1}]`, weightAt(l, "b", 0, j));
}

function drawNodeMaps(frame) {
  const g = frame.header.nodeGrid, size = g * g;
  (state.nodeCanvases || []).forEach((canvas, k) => {
    const image = new ImageData(g, g);
    for (let p = 0; p < size; p++) {
      const c = signedColor((frame.nodes[k * size + p] - 128) / 127);
      image.data.set([c[0], c[1], c[2], 255], 4 * p);
    }
    canvas.getContext("2d").putImageData(image, 0, 0);
  });
}

function applyMarks() {
  document.querySelectorAll(".node.dead, .node.saturated").forEach((n) => n.classList.remove("dead", "saturated"));
  if (!state.model) return;
  state.model.explanation.layers.forEach((layer) => {
    const marks = state.marks[layer.name] || {};
    for (const kind of ["dead", "saturated"]) {
      for (const j of marks[kind] || []) {
        const node = $(`node-${layer.index}-${j}`);
        if (node) { node.classList.add(kind); node.title = `${kind} unit (see the diagnosis)`; }
      }
    }
  });
}

// ------------------------------------------------------------------ equations (glassnet.explain)
function tex(latex, element, display) {
  try {
    katex.render(latex, element, { throwOnError: false, displayMode: !!display });
  } catch (error) {
    element.textContent = latex;
  }
}

function drawEquations(explanation) {
  const box = $("equations");
  box.innerHTML = "";
  $("eq-batch").textContent = `m = ${explanation.batchSize}`;
  glassnet.equationShapes = explanation.layers.map((layer) => layer.shapes);
  for (const layer of explanation.layers) {
    const div = document.createElement("div");
    div.className = "eq-layer"; div.id = `eq-layer-${layer.index}`;
    const keys = ["W", "b", "Z", "A"].filter((k) => k in layer.shapes);
    div.innerHTML = `<h3>Layer ${layer.index}: ${layer.name} (${layer.activation || ""})</h3>` +
      `<table class="shapes"><tr>${keys.map((k) => `<th>${k}</th>`).join("")}</tr>` +
      `<tr>${keys.map((k) => `<td class="shape-${k}">${layer.shapes[k]}</td>`).join("")}</tr></table>`;
    for (const [title, equations] of [["forward", layer.forward], ["backward", layer.backward]]) {
      if (!equations.length) continue;
      const head = document.createElement("div");
      head.className = "hint"; head.textContent = title;
      div.appendChild(head);
      for (const eq of equations) {
        const row = document.createElement("div");
        row.className = "eq-row";
        const math = document.createElement("span"), shape = document.createElement("span");
        shape.className = "shape"; shape.textContent = eq.shapes;
        if (eq.latex) tex(eq.latex, math, false); else math.textContent = eq.text;
        row.append(math, shape);
        div.appendChild(row);
      }
    }
    box.appendChild(div);
  }
  const blocks = explanation.latex.split("\n\n").map((b) => b.replace(/^\$\$|\$\$$/g, "").trim());
  const tail = document.createElement("div");
  tail.className = "eq-layer";
  tail.innerHTML = "<h3>Loss and update (all layers)</h3>";
  // to_latex's blocks: forward, loss, backward, update (the per-layer ones are drawn above).
  for (const block of blocks.length === 4 ? [blocks[1], blocks[3]] : [blocks[blocks.length - 1]]) {
    const div = document.createElement("div");
    tex(block, div, true);
    tail.appendChild(div);
  }
  box.appendChild(tail);
}

// ------------------------------------------------------------------ one example (model.trace)
const fmt = (v) => (v === null || v === undefined ? "\\text{NaN}" : Math.abs(v) >= 1e-3 || v === 0
  ? Number(v).toFixed(4) : Number(v).toExponential(2).replace(/e(.*)$/, "\\times 10^{$1}"));
const vec = (values) => `\\begin{bmatrix}${values.map(fmt).join(" & ")}\\end{bmatrix}`;
const mat = (rows) => `\\begin{bmatrix}${rows.map((r) => r.map(fmt).join(" & ")).join(" \\\\ ")}\\end{bmatrix}`;

function traceLines(message) {
  const lines = [], rate = message.learningRate;
  for (const step of message.steps) {
    const l = step.index;
    if (step.phase === "forward") {
      lines.push([`\\textbf{Layer ${l}}\\ (${step.activation || step.kind})`]);
      lines.push([`a^{[${l - 1}]} = ${vec(step.a_prev)}`]);
      if (step.W) {
        lines.push([`W^{[${l}]} = ${mat(step.W)},\\quad b^{[${l}]} = ${vec(step.b || [])}`]);
        lines.push([`z^{[${l}]} = a^{[${l - 1}]} W^{[${l}]} + b^{[${l}]} = ${vec(step.z)}`]);
      }
      lines.push([`a^{[${l}]} = \\mathrm{${(step.activation || "").replace(/_/g, "\\_")}}(z^{[${l}]}) = ${vec(step.a)}`]);
    } else if (step.phase === "loss") {
      lines.push([`\\textbf{Loss}\\quad y = ${vec(step.y)},\\ \\hat y = ${vec(step.a)},\\ ` +
                  `\\ell = ${fmt(step.data_loss)}` + (step.penalty ? ` + ${fmt(step.penalty)} = ${fmt(step.loss)}` : "")]);
    } else {
      lines.push([`\\textbf{Backward, layer ${l}}`]);
      if (step.dA) lines.push([`dA^{[${l}]} = ${vec(step.dA)}`]);
      if (step.dZ) lines.push([`dZ^{[${l}]} = ${vec(step.dZ)}`]);
      if (step.dW) lines.push([`dW^{[${l}]} = a^{[${l - 1}]\\top} dZ^{[${l}]} = ${mat(step.dW)}`]);
      if (step.db) lines.push([`db^{[${l}]} = ${vec(step.db)}`]);
      if (step.dA_prev) lines.push([`dA^{[${l - 1}]} = dZ^{[${l}]} W^{[${l}]\\top} = ${vec(step.dA_prev)}`]);
      if (step.dW) {
        const forward = message.steps.find((s) => s.phase === "forward" && s.index === l);
        const updated = forward.W.map((row, i) => row.map((w, j) => w - rate * step.dW[i][j]));
        lines.push([`W^{[${l}]} - \\alpha\\, dW^{[${l}]} = ${mat(updated)}\\quad(\\alpha = ${rate})`]);
      }
    }
  }
  return lines;
}

function onTrace(message) {
  glassnet.trace = message;
  state.traced = message.point;
  const box = $("trace");
  box.innerHTML = `<p>Point ${message.set}[${message.index}] at (${message.point.map((v) => v.toFixed(3)).join(", ")}), ` +
    `loss ${fmt(message.loss)}. The last lines of each backward layer show the plain gradient-descent step this ` +
    `example alone would make; ${message.optimizer} uses the same gradients in its own update rule ` +
    `(see the equations panel).</p>`;
  for (const [latex] of traceLines(message)) {
    const div = document.createElement("div");
    div.className = "trace-step";
    tex(latex, div, false);
    box.appendChild(div);
  }
  const details = document.createElement("details");
  details.innerHTML = "<summary>as text (print(model.trace(x, y)))</summary>";
  const pre = document.createElement("pre");
  pre.className = "trace-text"; pre.textContent = message.text;
  details.appendChild(pre);
  box.appendChild(details);
  drawFrame();
}

// ------------------------------------------------------------------ diagnosis (glassnet.diagnose)
function onDiagnosis(message) {
  glassnet.findings = message.findings;
  glassnet.diagnosis = message.findings.map((f) => f.message);
  state.marks = message.marks || {};
  applyMarks();
  const list = $("findings");
  list.innerHTML = "";
  if (!message.findings.length) list.innerHTML = "<li>no problems found</li>";
  for (const finding of message.findings) {
    const li = document.createElement("li");
    li.className = finding.severity;
    li.textContent = `[${finding.severity}] ${finding.message}`;
    if (finding.remedies.length) {
      const details = document.createElement("details");
      details.innerHTML = "<summary>what helps</summary><ul>" +
        finding.remedies.map((r) => `<li>${r.replace(/</g, "&lt;")}</li>`).join("") + "</ul>";
      li.appendChild(details);
    }
    list.appendChild(li);
  }
}

// ------------------------------------------------------------------ controls
function fillSelect(select, values, label) {
  select.innerHTML = "";
  for (const v of values) select.add(new Option(label ? label(v) : String(v), String(v)));
}

function setSelect(select, value) {
  if (![...select.options].some((o) => o.value === String(value))) select.add(new Option(String(value), String(value)));
  select.value = String(value);
}

function syncControls() {
  const s = state.settings;
  for (const id of ["optimizer", "regularization", "initializer"]) setSelect($(id), s[id]);
  setSelect($("learning_rate"), s.learning_rate);
  setSelect($("regularization_rate"), s.regularization_rate);
  fillSelect($("loss"), LOSSES[taskOf(s)]);
  setSelect($("loss"), s.loss);
  $("seed").value = s.seed;
  $("train_ratio").value = Math.round(s.train_ratio * 100);
  $("noise").value = Math.round(s.noise * 100);
  $("batch_size").value = s.batch_size;
  $("n_points").value = s.n_points;
  $("n_classes").value = String(s.n_classes);
  $("train_ratio_value").textContent = `${Math.round(s.train_ratio * 100)}%`;
  $("noise_value").textContent = String(Math.round(s.noise * 100));
  $("batch_size_value").textContent = String(s.batch_size);
  $("n_points_value").textContent = String(s.n_points);
  $("show-test").checked = state.view.showTest;
  $("discretize").checked = state.view.discretize;
  $("custom-tools").hidden = s.dataset !== "custom";
  document.querySelectorAll(".datasets button").forEach((b) => b.classList.toggle("selected", b.dataset.name === s.dataset));
}

function updatePlayButton() {
  $("play").innerHTML = glassnet.running ? "&#x275A;&#x275A; pause" : "&#x25B6; play";
}

function change(key, value) {
  state.settings[key] = value;
  const allowed = LOSSES[taskOf(state.settings)];
  if (!allowed.includes(state.settings.loss)) state.settings.loss = allowed[0];
  configure();
}

function changeUnits(index, delta) {
  const max = state.info.limits.max_units;
  const units = state.settings.layers[index] + delta;
  if (units < 1 || units > max) return;
  state.settings.layers[index] = units;
  configure();
}

function changeLayers(delta) {
  const s = state.settings;
  if (delta > 0 && s.layers.length < state.info.limits.max_layers) {
    s.layers.push(s.layers.length ? s.layers[s.layers.length - 1] : 4);
    s.activations.push(s.activations.length ? s.activations[s.activations.length - 1] : "relu");
  } else if (delta < 0 && s.layers.length > 0) {
    s.layers.pop(); s.activations.pop();
  } else {
    return;
  }
  configure();
}

function toggleFeature(name) {
  const s = state.settings;
  const on = s.features.includes(name);
  if (on && s.features.length === 1) return;
  s.features = on ? s.features.filter((f) => f !== name) : FEATURES.filter((f) => f === name || s.features.includes(f));
  configure();
}

function onHeatmapClick(event) {
  if (!state.model) return;
  const canvas = $("heatmap"), rect = canvas.getBoundingClientRect();
  const px = (event.clientX - rect.left) * canvas.width / rect.width;
  const py = (event.clientY - rect.top) * canvas.height / rect.height;
  if (state.settings.dataset === "custom" && !event.shiftKey) {
    const x1 = px / canvas.width * 2 * DOMAIN - DOMAIN, x2 = DOMAIN - py / canvas.height * 2 * DOMAIN;
    send({ type: "add_point", x1, x2, label: Number($("custom-class").value) });
    return;
  }
  let best = null;
  for (const set of state.view.showTest ? ["train", "test"] : ["train"]) {
    state.model[set].x.forEach((x, index) => {
      const [qx, qy] = toPixel(x, canvas);
      const d = Math.hypot(qx - px, qy - py);
      if (d < 8 && (!best || d < best.d)) best = { set, index, d };
    });
  }
  if (best) send({ type: "trace", set: best.set, index: best.index });
}

function bindControls() {
  fillSelect($("learning_rate"), LEARNING_RATES);
  fillSelect($("regularization_rate"), REG_RATES);
  fillSelect($("initializer"), state.info.initializers);
  const datasets = $("datasets");
  for (const [name, label] of DATASETS) {
    const button = document.createElement("button");
    button.textContent = label; button.dataset.name = name; button.id = `dataset-${name}`;
    button.onclick = () => change("dataset", name);
    datasets.appendChild(button);
  }
  for (const id of ["optimizer", "regularization", "initializer", "loss"]) $(id).onchange = () => change(id, $(id).value);
  for (const id of ["learning_rate", "regularization_rate"]) $(id).onchange = () => change(id, Number($(id).value));
  $("seed").onchange = () => change("seed", Math.max(0, Math.floor(Number($("seed").value) || 0)));
  $("train_ratio").oninput = () => change("train_ratio", Number($("train_ratio").value) / 100);
  $("noise").oninput = () => change("noise", Number($("noise").value) / 100);
  $("batch_size").oninput = () => change("batch_size", Number($("batch_size").value));
  $("n_points").oninput = () => change("n_points", Number($("n_points").value));
  $("n_classes").onchange = () => change("n_classes", Number($("n_classes").value));
  $("show-test").onchange = () => { state.view.showTest = $("show-test").checked; history.replaceState(null, "", settingsToHash()); drawFrame(); };
  $("discretize").onchange = () => { state.view.discretize = $("discretize").checked; history.replaceState(null, "", settingsToHash()); drawFrame(); };
  $("play").onclick = () => { $("errors").hidden = true; send({ type: glassnet.running ? "pause" : "play" }); glassnet.running = !glassnet.running; updatePlayButton(); };
  $("step").onclick = () => send({ type: "step" });
  $("reset").onclick = () => send({ type: "reset" });
  $("add-layer").onclick = () => changeLayers(1);
  $("remove-layer").onclick = () => changeLayers(-1);
  $("heatmap").onclick = onHeatmapClick;
  $("clear-points").onclick = () => send({ type: "clear_points" });
  $("csv").onchange = () => {
    const file = $("csv").files[0];
    if (!file) return;
    if (file.size > state.info.limits.max_upload_bytes) {
      onError({ message: `the CSV may be at most ${state.info.limits.max_upload_bytes} bytes, got ${file.size}` });
      return;
    }
    file.text().then((text) => send({ type: "upload_csv", text }));
  };
  $("weight-editor").onsubmit = (event) => {
    event.preventDefault();
    const value = Number($("weight-value").value);
    if ($("weight-value").value.trim() === "" || !isFinite(value)) return;
    send({ type: "set_weight", ...state.editing, value });
    $("weight-editor").hidden = true;
  };
  $("weight-value").onkeydown = (event) => { if (event.key === "Escape") $("weight-editor").hidden = true; };
}

async function start() {
  state.info = await (await fetch("/info")).json();
  state.settings = glassnet.settings = settingsFromHash(location.hash);
  bindControls();
  syncControls();
  connect();
}

window.addEventListener("DOMContentLoaded", start);
