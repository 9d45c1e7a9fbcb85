// The playground's page: asks the server (same origin, with the session's token) about the
// program as it is typed, and draws what comes back: the diagnostics (under the editor and in
// its gutter), the shape table, the graph (SVG), a layer's shape arithmetic and receptive
// field, and the feature maps of an image the browser decodes itself. Text from the program
// is only ever put into the page as text (textContent), never as markup.
"use strict";

(function () {
  const TOKEN = new URLSearchParams(location.search).get("token") || "";
  const $ = (id) => document.getElementById(id);
  const SVG = "http://www.w3.org/2000/svg";
  const DEBOUNCE_MS = 300;

  const state = {
    editor: null, result: null, good: null, selected: null, seq: 0, mapsSeq: 0,
    cursorLine: 0, byCursor: false,   // whether the selection follows the editor's cursor
    image: null,        // {canvas (H x W, as sent), source: "drawing" | "file"}
    pointer: null,      // [row, col] on the input: the unit whose box centres nearest is shown
    unit: null,         // {layer, r, c}: the unit of a feature map pointed at (over `pointer`)
    shown: null,        // the layer whose arithmetic and box are on show
    sourceCanvas: null, // the last image given (file or drawing), before resizing
  };

  function el(tag, attrs = {}, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "class") e.className = v; else if (k === "text") e.textContent = v; else e.setAttribute(k, v);
    }
    for (const c of children) e.append(c);
    return e;
  }
  function svg(tag, attrs = {}, text) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  const num = (n) => (n === null || n === undefined ? "" : Number(n).toLocaleString("en-US"));
  const size = (dims) => (dims ? dims.map((d) => (Number.isInteger(d) ? d : fraction(d))).join("x") : "");
  function fraction(x) { for (let d = 2; d <= 64; d++) if (Math.abs(x * d - Math.round(x * d)) < 1e-9) return `${Math.round(x * d)}/${d}`; return x.toFixed(3); }
  function bytes(n) {
    if (n < 1024) return `${n} B`;
    for (const u of ["KiB", "MiB", "GiB", "TiB"]) { n /= 1024; if (n < 1024 || u === "TiB") return `${n.toFixed(1)} ${u}`; }
    return "";
  }

  async function api(path, body) {
    const opts = { headers: { "X-Cnnc-Token": TOKEN } };
    if (body !== undefined) {
      opts.method = "POST";
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    let r;
    try { r = await fetch(path, opts); } catch (e) { return { error: "the playground's server does not answer (was it stopped?)" }; }
    let data;
    try { data = await r.json(); } catch (e) { data = { error: `the server answered ${r.status}` }; }
    if (!r.ok && !data.error) data.error = `the server answered ${r.status}`;
    return data;
  }

  // -- checking as the user types --------------------------------------------------------
  let timer = null;
  function scheduleCheck() { clearTimeout(timer); timer = setTimeout(check, DEBOUNCE_MS); }

  function inputShape() { return $("input-shape").value.trim() || null; }
  function batch() { const b = parseInt($("batch").value, 10); return Number.isInteger(b) && b > 0 ? b : null; }

  async function check() {
    const seq = ++state.seq;
    $("status").textContent = "checking…";
    $("status").className = "";
    const data = await api("/api/check", { text: state.editor.getText(), batch: batch(), input: inputShape(), seq });
    if (data.superseded || seq !== state.seq) return;
    state.result = data;
    render(data);
    if (data.ok && state.image) scheduleMaps();
  }

  function render(data) {
    const diags = data.diagnostics || [];
    if (data.error) {
      $("status").textContent = data.error;
      $("status").className = "errors";
      showDiagnostics([]);
      state.editor.setDiagnostics([]);
      $("table-section").querySelector("table").classList.add("stale");
      return;
    }
    showDiagnostics(diags);
    // a diagnostic inside a definition is marked at the uses that made it as well
    state.editor.setDiagnostics(diags.concat(diags.flatMap((d) => (d.notes || []).map((n) =>
      ({ line: n.line, col: n.col, severity: d.severity, message: `${n.message}: ${d.message}`, hint: d.hint })))));
    const errors = diags.filter((d) => d.severity === "error").length;
    const warnings = diags.length - errors;
    $("too-large").hidden = !data.too_large;
    $("too-large").textContent = data.too_large || "";
    if (data.ok) {
      state.good = data;
      $("status").textContent = warnings ? `ok, ${warnings} warning${warnings > 1 ? "s" : ""}` : "ok";
      $("status").className = "ok";
      drawTable(data);
      drawGraph(data.graph);
      showTrain(data.train);
      if (state.byCursor) {   // the layer on the cursor's line, as the program now reads
        const r = layerAt(state.cursorLine);
        state.selected = r ? r.name : null;
      }
      if (state.selected && !data.layers.some((r) => r.name === state.selected)) state.selected = null;
      select(state.selected, false);
    } else {
      $("status").textContent = data.too_large ? "too large to draw" : `${errors} error${errors === 1 ? "" : "s"}`;
      $("status").className = "errors";
      $("shapes").classList.add("stale");
      $("graph").classList.add("stale");
    }
  }

  function showDiagnostics(diags) {
    const list = $("diagnostics");
    list.replaceChildren();
    for (const d of diags) {
      const text = d.hint ? `${d.message}; ${d.hint}` : d.message;
      const li = el("li", { class: d.severity, "data-line": d.line },
        el("span", { class: "where", text: `line ${d.line}:${d.col} ` }),
        el("span", { class: "sev", text: `${d.severity}: ` }), text);
      li.addEventListener("click", () => state.editor.revealLine(d.line));
      for (const n of d.notes || []) {   // the uses of definitions it is inside
        const note = el("span", { class: "note", "data-line": n.line, text: ` (line ${n.line}: ${n.message})` });
        note.addEventListener("click", (ev) => { ev.stopPropagation(); state.editor.revealLine(n.line); });
        li.append(note);
      }
      list.append(li);
    }
  }

  // -- the shape table ---------------------------------------------------------------------
  function drawTable(data) {
    const table = $("shapes");
    table.classList.remove("stale");
    const body = table.tBodies[0];
    body.replaceChildren();
    const mem = data.memory;
    const first = el("tr", { "data-layer": data.graph.nodes[0].name });
    for (const [t, cls] of [["input", ""], ["input", "mono"], [size(data.input), "mono output"], ["0", "num"], ["0", "num"],
      [mem ? bytes(4 * mem.batch * data.input.reduce((a, b) => a * b, 1)) : "", "num"], ["1x1", "mono"], ["1x1", "mono"], ["", ""]]) {
      first.append(el("td", { class: cls, text: t }));
    }
    first.addEventListener("mouseenter", () => hover(null));
    body.append(first);
    for (const r of data.layers) {
      const tr = el("tr", { "data-layer": r.name, "data-line": r.line });
      const cells = [
        ["\u00a0".repeat(2 * r.depth) + r.name, "mono name"], [r.statement, "mono"], [size(r.output), "mono output"],
        [num(r.params), "num params"], [num(r.macs), "num"], [r.activation_bytes !== undefined ? bytes(r.activation_bytes) : "", "num"],
        [r.receptive_field ? size(r.receptive_field) : "all", "mono"], [r.stride ? size(r.stride) : "-", "mono"], [r.kernel || "", "mono"],
      ];
      for (const [t, cls] of cells) tr.append(el("td", { class: cls, text: t }));
      tr.addEventListener("mouseenter", () => hover(r.name));
      tr.addEventListener("mouseleave", () => hover(null));
      tr.addEventListener("click", () => { state.byCursor = false; select(r.name, true); });
      body.append(tr);
    }
    const foot = table.tFoot;
    foot.replaceChildren(el("tr", {},
      el("td", { text: "total" }), el("td", { text: "" }), el("td", { class: "mono", text: size(data.output) }),
      el("td", { class: "num", id: "total-params", text: num(data.total_params) }), el("td", { class: "num", text: num(data.total_macs) }),
      el("td", { class: "num", text: mem ? bytes(mem.peak_bytes) : "" }), el("td", { text: "" }), el("td", { text: "" }), el("td", { text: "" })));
    const mi = data.min_input ? size(data.min_input) : "none";
    let totals = `Input ${size(data.input)}, output ${size(data.output)}. ${num(data.total_params)} parameters ` +
      `(${num(data.trainable_params)} trainable), ${num(data.total_macs)} multiply-adds per image. Smallest input: ${mi} (H x W).`;
    if (mem) totals += ` Memory at batch ${num(mem.batch)} (float32): a forward pass of the numpy backend peaks at ${bytes(mem.peak_bytes)} beyond the weights (${bytes(mem.params_bytes)}) and the input.`;
    $("totals").textContent = totals;
  }

  // -- the graph ---------------------------------------------------------------------------
  function drawGraph(g) {
    const box = $("graph");
    box.classList.remove("stale");
    box.replaceChildren();
    const longest = Math.max(...g.nodes.map((n) => Math.max(n.label.length, n.name.length)));
    const W = Math.min(Math.max(120, longest * 6.8 + 16), 320), H = 36, COL = W + 36, ROW = 66, PAD = 40;
    const xs = g.nodes.map((n) => n.x).concat(g.edges.flatMap((e) => e.via));
    const x0 = Math.min(...xs);
    const X = (x) => PAD + (x - x0) * COL + W / 2, Y = (row) => PAD / 2 + 14 + row * ROW;
    const at = Object.fromEntries(g.nodes.map((n) => [n.name, n]));
    const width = PAD * 2 + (Math.max(...xs) - x0) * COL + W;
    const height = Y(Math.max(...g.nodes.map((n) => n.row))) + H + 40;
    box.setAttribute("width", width); box.setAttribute("height", height);
    box.setAttribute("viewBox", `0 0 ${width} ${height}`);
    const defs = svg("defs");
    const marker = svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" });
    marker.append(svg("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "#555" }));
    defs.append(marker);
    box.append(defs);
    // blocks: a dashed frame around each join's members, outer frames wider than the ones inside
    const sets = g.blocks.map((b) => new Set(b.members));
    g.blocks.forEach((b, i) => {
      const inner = sets.filter((s, j) => j !== i && s.size < sets[i].size && [...s].every((m) => sets[i].has(m))).length;
      const pad = 8 + 8 * inner;
      const ms = b.members.map((m) => at[m]);
      const left = Math.min(...ms.map((n) => X(n.x) - W / 2)) - pad, right = Math.max(...ms.map((n) => X(n.x) + W / 2)) + pad;
      const top = Math.min(...ms.map((n) => Y(n.row))) - pad - 4, bottom = Math.max(...ms.map((n) => Y(n.row) + H)) + pad;
      box.append(svg("rect", { class: "block", x: left, y: top, width: right - left, height: bottom - top, rx: 8, "data-join": b.join }));
      box.append(svg("text", { class: "block-name", x: left + 6, y: top + 11 }, `${b.join} block`));
    });
    for (const e of g.edges) {
      const s = at[e.source], t = at[e.target];
      const pts = [[X(s.x), Y(s.row) + H]];
      e.via.forEach((v, k) => { const r = s.row + k + 1; pts.push([X(v), Y(r)], [X(v), Y(r) + H]); });
      pts.push([X(t.x), Y(t.row)]);
      box.append(svg("polyline", { class: e.gate ? "edge gate" : "edge", points: pts.map((p) => p.join(",")).join(" "), "marker-end": "url(#arrow)" }));
      box.append(svg("text", { class: "shape", x: pts[0][0] + 4, y: pts[0][1] + 12 }, e.shape));
    }
    for (const n of g.nodes) {
      const cls = "node" + (n.join ? " join" : "") + (n.input || n.output ? " io" : "");
      const grp = svg("g", { class: cls, "data-name": n.name });
      const cx = X(n.x), y = Y(n.row);
      if (n.join) grp.append(svg("ellipse", { cx, cy: y + H / 2, rx: W / 2, ry: H / 2 }));
      else grp.append(svg("rect", { x: cx - W / 2, y, width: W, height: H, rx: 6 }));
      const title = n.input ? `input ${n.out}` : n.name;
      grp.append(svg("text", { x: cx, y: y + 14, "text-anchor": "middle", "font-weight": "bold" }, title));
      grp.append(svg("text", { x: cx, y: y + 28, "text-anchor": "middle" }, n.input ? "" : n.label));
      grp.append(svg("title", {}, `${n.name}: ${n.label} -> ${n.out}`));
      if (!n.input) {
        grp.addEventListener("mouseenter", () => hover(n.name));
        grp.addEventListener("mouseleave", () => hover(null));
        grp.addEventListener("click", () => { state.byCursor = false; select(n.name, true); });
      }
      box.append(grp);
    }
    const out = g.nodes.find((n) => n.output);
    if (out) box.append(svg("text", { class: "shape", x: X(out.x) + 4, y: Y(out.row) + H + 14 }, `output ${out.out}`));
  }

  // -- selecting a layer: table row, graph box, editor line, arithmetic and RF ----------------
  function row(name) { return state.good && state.good.layers.find((r) => r.name === name); }

  // the layer a line of the program makes: its statement's (the first), else the last layer a
  // use of a definition on that line makes (the one a label there names)
  function layerAt(line) {
    const layers = state.good ? state.good.layers : [];
    return layers.find((l) => l.line === line) || layers.filter((l) => (l.uses || []).includes(line)).pop();
  }

  function hover(name) { show(name || state.selected); }

  function select(name, reveal) {
    state.selected = name;
    for (const tr of $("shapes").tBodies[0].rows) tr.classList.toggle("selected", tr.dataset.layer === name);
    for (const g of $("graph").querySelectorAll(".node")) g.classList.toggle("selected", g.dataset.name === name);
    for (const m of $("maps").querySelectorAll(".layer")) m.classList.toggle("selected", m.dataset.layer === name);
    const r = row(name);
    state.editor.highlightLine(r ? r.line : null);
    if (reveal && r) {   // the layer's line, scrolled into the editor's view (the page stays put)
      const line = document.querySelector("#editor .cm-cnnc-selected");
      if (line) line.scrollIntoView({ block: "nearest", inline: "nearest" });
    }
    show(name);
  }

  function show(name) {
    const r = row(name);
    state.shown = name;
    $("sees-name").textContent = r ? r.name : "a layer";
    const box = $("arithmetic");
    box.replaceChildren();
    if (!r) {
      box.append(el("p", { class: "hint", text: "Hover or select a layer (in the table, the graph or the editor) to see its shape arithmetic and, on the input, the pixels one of its outputs sees." }));
      drawInput(null);
      return;
    }
    box.append(el("p", {}, el("b", { text: r.statement }), ` → ${size(r.output)}`));
    if (r.arithmetic.length) for (const a of r.arithmetic) box.append(el("p", { class: "formula", text: a }));
    else box.append(el("p", { class: "hint", text: "no arithmetic: this layer keeps its input's height and width, or its statement names its size" }));
    if (r.receptive_field) {
      box.append(el("p", { text: `Receptive field ${size(r.receptive_field)}: one output pixel of ${r.name} sees ${size(r.receptive_field)} input pixels; neighbouring outputs are ${size(r.stride)} input pixels apart.` }));
    } else {
      box.append(el("p", { text: `${r.name} is a vector: each of its values is computed from every pixel that the layers before it see.` }));
    }
    box.append(el("p", { id: "region", class: "region" }));
    box.append(el("p", { class: "hint", text: "Point at the input, or at a pixel of a feature map, to choose the unit." }));
    drawInput(r, null);
    region(r);
  }

  // the box of one unit of layer row `r` (the server works it out: padding, strides, joins)
  let regionSeq = 0;
  async function region(r) {
    const seq = ++regionSeq;
    const body = { text: state.editor.getText(), input: inputShape(), layer: r.name };
    if (state.unit && state.unit.layer === r.name) body.unit = [state.unit.r, state.unit.c];
    else if (state.pointer) body.pointer = state.pointer;
    const a = await api("/api/region", body);
    if (seq !== regionSeq || !$("region")) return;
    const p = $("region");
    if (a.error) { p.textContent = a.error; return; }
    p.dataset.layer = a.layer;
    p.dataset.box = JSON.stringify(a.box);
    p.dataset.unit = JSON.stringify(a.unit);
    const [t, b, l, rt] = a.box || [];
    const where = a.box ? `input rows ${t}–${b} and columns ${l}–${rt} (${b - t + 1}x${rt - l + 1} pixels${b - t + 1 === a.input[0] && rt - l + 1 === a.input[1] ? ": the whole input" : ""})` : "";
    if (!a.unit && a.output) p.textContent = `No unit of ${a.layer} sees an input pixel: every one lies in padding.`;
    else if (!a.unit) p.textContent = `Together, the values of ${a.layer} see ${where}.`;
    else if (!a.box) p.textContent = `Unit (${a.unit[0]}, ${a.unit[1]}) of ${a.layer} sees no input pixel: it lies in padding.`;
    else p.textContent = `Unit (${a.unit[0]}, ${a.unit[1]}) of ${a.layer} sees ${where}.`;
    drawInput(r, a.box);
  }

  // the input image (or a blank of the input's size) with the box [top, bottom, left, right]
  // of the input pixels one unit of layer row `r` sees
  function drawInput(r, seen) {
    const c = $("input-view"), ctx = c.getContext("2d");
    const data = state.good;
    ctx.imageSmoothingEnabled = false;
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, c.width, c.height);
    if (!data) return;
    const [h, w] = data.input;
    const scale = Math.min(c.width / w, c.height / h);
    if (state.image && state.image.canvas.width === w && state.image.canvas.height === h) {
      ctx.drawImage(state.image.canvas, 0, 0, w * scale, h * scale);
    } else {
      ctx.strokeStyle = "#333";
      ctx.strokeRect(0.5, 0.5, w * scale - 1, h * scale - 1);
    }
    if (!r || !seen) return;
    const [top, bottom, left, right] = seen, rh = bottom - top + 1, rw = right - left + 1;
    ctx.strokeStyle = "#ffcc00";
    ctx.lineWidth = 2;
    ctx.strokeRect(left * scale + 1, top * scale + 1, rw * scale - 2, rh * scale - 2);
    ctx.fillStyle = "rgba(255, 204, 0, 0.18)";
    ctx.fillRect(left * scale, top * scale, rw * scale, rh * scale);
  }

  $("input-view").addEventListener("mousemove", (ev) => {
    if (!state.good) return;
    const c = $("input-view"), [h, w] = state.good.input, scale = Math.min(c.width / w, c.height / h);
    const rect = c.getBoundingClientRect();
    const x = (ev.clientX - rect.left) * (c.width / rect.width), y = (ev.clientY - rect.top) * (c.height / rect.height);
    const at = [Math.min(h - 1, Math.max(0, Math.floor(y / scale))), Math.min(w - 1, Math.max(0, Math.floor(x / scale)))];
    if (!state.unit && state.pointer && at[0] === state.pointer[0] && at[1] === state.pointer[1]) return;   // the same pixel
    state.pointer = at;
    state.unit = null;
    show(state.selected);
  });

  // -- images: a file, a drop, or a drawing; resized to the input and scaled to [0, 1] -------
  function useSource(canvasOrImage, source) {
    state.sourceCanvas = { img: canvasOrImage, source };
    prepareImage();
  }

  // Draw the source at the network's H x W (the browser's own resampling) and keep that canvas.
  function prepareImage() {
    if (!state.sourceCanvas || !state.good) return;
    const [h, w] = state.good.input;
    const c = document.createElement("canvas");
    c.width = w; c.height = h;
    const ctx = c.getContext("2d");
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, w, h);
    ctx.imageSmoothingEnabled = true;
    ctx.imageSmoothingQuality = "high";
    ctx.drawImage(state.sourceCanvas.img, 0, 0, w, h);
    if ($("invert").checked) {
      const px = ctx.getImageData(0, 0, w, h);
      for (let i = 0; i < px.data.length; i += 4) for (let k = 0; k < 3; k++) px.data[i + k] = 255 - px.data[i + k];
      ctx.putImageData(px, 0, 0);
    }
    state.image = { canvas: c, source: state.sourceCanvas.source };
    show(state.selected);
    scheduleMaps();
  }

  // float32 values in [0, 1], H x W x C: gray (the mean of R, G, B) for one channel, RGB for
  // three, the gray value in every channel otherwise; base64 of their little-endian bytes
  function imagePayload() {
    const [h, w, ch] = state.good.input;
    const px = state.image.canvas.getContext("2d").getImageData(0, 0, w, h).data;
    const out = new Float32Array(h * w * ch);
    for (let i = 0; i < h * w; i++) {
      const r = px[4 * i] / 255, g = px[4 * i + 1] / 255, b = px[4 * i + 2] / 255;
      if (ch === 3) { out[3 * i] = r; out[3 * i + 1] = g; out[3 * i + 2] = b; } else {
        const gray = (r + g + b) / 3;
        for (let k = 0; k < ch; k++) out[ch * i + k] = gray;
      }
    }
    const bytesArr = new Uint8Array(out.buffer);
    let s = "";
    for (let i = 0; i < bytesArr.length; i += 0x8000) s += String.fromCharCode.apply(null, bytesArr.subarray(i, i + 0x8000));
    return { shape: [h, w, ch], data: btoa(s) };
  }

  let mapsTimer = null;
  function scheduleMaps() { clearTimeout(mapsTimer); mapsTimer = setTimeout(maps, DEBOUNCE_MS); }

  async function maps() {
    if (!state.image || !state.good) return;
    const [h, w] = state.good.input;
    if (state.image.canvas.width !== w || state.image.canvas.height !== h) { prepareImage(); return; }
    const seq = ++state.mapsSeq;
    $("maps-status").textContent = "computing feature maps…";
    const data = await api("/api/featuremaps", { text: state.editor.getText(), input: inputShape(), image: imagePayload(), seq });
    if (data.superseded || seq !== state.mapsSeq) return;
    if (data.error) { $("maps-status").textContent = data.error; $("maps-status").className = "problem"; return; }
    $("maps-status").className = "";
    $("maps-status").textContent = data.omitted.length ? `not shown (the answer would be too large): ${data.omitted.join(", ")}` : "";
    const wb = $("weights");
    wb.replaceChildren(el("span", { class: `badge ${data.weights.kind}`, text: data.weights.kind }), " " + data.weights.text);
    drawMaps(data.layers);
  }

  // viridis, from 9 of its colours, interpolated
  const VIRIDIS = [[68, 1, 84], [71, 44, 122], [59, 81, 139], [44, 113, 142], [33, 144, 141], [39, 173, 129], [92, 200, 99], [170, 220, 50], [253, 231, 37]];
  const LUT = Array.from({ length: 256 }, (_, i) => {
    const t = (i / 255) * 8, k = Math.min(7, Math.floor(t)), f = t - k;
    return VIRIDIS[k].map((a, j) => Math.round(a + (VIRIDIS[k + 1][j] - a) * f));
  });

  function drawMaps(layers) {
    const box = $("maps");
    box.replaceChildren();
    for (const L of layers) {
      const div = el("div", { class: "layer", "data-layer": L.name });
      div.addEventListener("click", () => { state.byCursor = false; select(L.name, false); });
      div.addEventListener("mouseleave", () => hover(null));
      if (L.data !== undefined) {
        const [h, w, c] = L.shape;
        div.append(el("h3", { text: `${L.name} — ${L.kind} — ${size(L.shape)}` + (L.channels < c ? ` (the first ${L.channels} of ${c} channels)` : ` (${c} channel${c > 1 ? "s" : ""})`) }));
        const grid = el("div", { class: "grid" });
        const raw = atob(L.data);
        for (let k = 0; k < L.channels; k++) {
          const cv = el("canvas", { width: w, height: h, title: `${L.name} channel ${k}: ${L.min[k].toPrecision(3)} … ${L.max[k].toPrecision(3)}`, "data-channel": k });
          const ctx = cv.getContext("2d"), img = ctx.createImageData(w, h);
          for (let i = 0; i < h * w; i++) {
            const v = LUT[raw.charCodeAt(k * h * w + i)];
            img.data[4 * i] = v[0]; img.data[4 * i + 1] = v[1]; img.data[4 * i + 2] = v[2]; img.data[4 * i + 3] = 255;
          }
          ctx.putImageData(img, 0, 0);
          const px = Math.max(48, Math.min(112, 4 * w));   // small maps enlarged, pixels kept square
          cv.style.width = `${px}px`;
          cv.style.height = `${Math.round((px * h) / w)}px`;
          const unitAt = (ev) => {   // the unit under the mouse: what it sees is outlined on the input
            const b = cv.getBoundingClientRect(), u = state.unit;
            const r = Math.min(h - 1, Math.max(0, Math.floor(((ev.clientY - b.top) / b.height) * h)));
            const q = Math.min(w - 1, Math.max(0, Math.floor(((ev.clientX - b.left) / b.width) * w)));
            state.unit = { layer: L.name, r, c: q };
            return !(u && u.layer === L.name && u.r === r && u.c === q);   // whether it is another unit
          };
          cv.addEventListener("mousemove", (ev) => { if (unitAt(ev) || state.shown !== L.name) show(L.name); });
          cv.addEventListener("click", (ev) => { unitAt(ev); });
          grid.append(cv);
        }
        div.append(grid);
      } else {
        const v = L.values;
        div.append(el("h3", { text: `${L.name} — ${L.kind} — ${size(L.shape)}` + (L.argmax !== null && v.length <= 100 ? `: largest at ${L.argmax}` : "") }));
        if (v.length <= 100) {
          const finite = v.filter((a) => a !== null);
          const lo = Math.min(0, ...finite), hi = Math.max(...finite, lo + 1e-12);
          const bars = el("div", { class: "bars" }), labels = el("div", { class: "bars-labels" });
          v.forEach((a, i) => {
            bars.append(el("div", { class: i === L.argmax ? "top" : "", style: `height:${Math.round(((a ?? 0) - lo) / (hi - lo) * 68) + 1}px`, title: `${i}: ${a}` }));
            labels.append(el("span", { text: v.length <= 20 ? String(i) : "" }));
          });
          div.append(bars, labels);
        } else {
          div.append(el("p", { class: "hint", text: `${v.length} values (a vector too long to draw as bars)` }));
        }
      }
      box.append(div);
    }
    select(state.selected, false);
  }

  function setupDrawing() {
    const c = $("draw"), ctx = c.getContext("2d");
    const clear = () => { ctx.fillStyle = "#000"; ctx.fillRect(0, 0, c.width, c.height); };
    clear();
    let down = false, last = null;
    const at = (ev) => { const r = c.getBoundingClientRect(); return [(ev.clientX - r.left) * (c.width / r.width), (ev.clientY - r.top) * (c.height / r.height)]; };
    c.addEventListener("pointerdown", (ev) => { down = true; last = at(ev); c.setPointerCapture(ev.pointerId); stroke(last); });
    c.addEventListener("pointermove", (ev) => { if (down) stroke(at(ev)); });
    const up = () => { if (down) { down = false; last = null; useSource(c, "drawing"); } };
    c.addEventListener("pointerup", up);
    c.addEventListener("pointercancel", up);
    function stroke(p) {
      ctx.strokeStyle = "#fff"; ctx.lineWidth = 16; ctx.lineCap = "round"; ctx.lineJoin = "round";
      ctx.beginPath(); ctx.moveTo(last[0], last[1]); ctx.lineTo(p[0] + 0.01, p[1]); ctx.stroke();
      last = p;
    }
    $("clear").addEventListener("click", clear);
    $("use-drawing").addEventListener("click", () => useSource(c, "drawing"));
  }

  function loadFile(file) {
    if (!file || !file.type.startsWith("image/")) { $("maps-status").textContent = "that is not an image file"; return; }
    const url = URL.createObjectURL(file);
    const img = new Image();
    img.onload = () => { URL.revokeObjectURL(url); useSource(img, "file"); };
    img.onerror = () => { URL.revokeObjectURL(url); $("maps-status").textContent = "the browser cannot decode that image"; };
    img.src = url;
  }

  function setupImages() {
    $("image-file").addEventListener("change", (ev) => loadFile(ev.target.files[0]));
    const drop = $("image-section");
    drop.addEventListener("dragover", (ev) => { ev.preventDefault(); $("drop").classList.add("over"); });
    drop.addEventListener("dragleave", () => $("drop").classList.remove("over"));
    drop.addEventListener("drop", (ev) => { ev.preventDefault(); $("drop").classList.remove("over"); loadFile(ev.dataTransfer.files[0]); });
    $("invert").addEventListener("change", prepareImage);
  }

  // -- training ------------------------------------------------------------------------------
  function showTrain(t) {
    if (!t) return;
    $("train-box").hidden = !t.fits;
    $("train-why").hidden = t.fits;
    $("train-why").textContent = t.fits ? "" : `Train: ${t.why}`;
  }

  async function train() {
    $("train").disabled = true;
    const data = await api("/api/train", { text: state.editor.getText(), input: inputShape() });
    if (data.error) { $("train-status").textContent = data.error; $("train").disabled = false; return; }
    poll();
  }

  async function poll() {
    const s = await api("/api/train");
    if (s.error) { $("train-status").textContent = s.error; $("train").disabled = false; return; }
    const bar = $("train-progress");
    bar.hidden = s.state !== "running";
    bar.max = s.epochs || 1; bar.value = s.epoch;
    const last = s.lines.length ? s.lines[s.lines.length - 1] : "";
    // while it runs, the last epoch's line (its loss and accuracies); when done, the test
    // accuracy and that line still, so the final loss stays in view
    $("train-status").textContent = s.state === "failed" || !last ? s.message : `${s.message} — ${last}`;
    if (s.state === "running") { setTimeout(poll, 500); return; }
    $("train").disabled = false;
    if (s.state === "done") scheduleMaps();
  }

  // -- saving --------------------------------------------------------------------------------
  async function save() {
    const body = { text: state.editor.getText() };
    if (!$("save-name-label").hidden) body.name = $("save-name").value.trim();
    const data = await api("/api/save", body);
    if (data.error) { $("save-status").textContent = data.error; $("save-status").className = "problem"; return; }
    $("save-status").className = "";
    $("save-status").textContent = `saved ${data.file}`;
    $("file").textContent = data.file;
    $("save-name-label").hidden = true;
  }

  async function start() {
    const s = await api("/api/session");
    if (s.error) { $("status").textContent = s.error; $("status").className = "errors"; return; }
    $("file").textContent = s.file || "LeNet (not saved to a file yet)";
    $("save-name-label").hidden = s.opened;
    state.editor = window.CnncEditor.create($("editor"), s.text, {
      onChange: scheduleCheck,
      onCursorLine: (n) => {
        state.cursorLine = n;
        state.byCursor = true;
        if (!state.good) return;
        const r = layerAt(n);
        if (r) select(r.name, false);
      },
    });
    for (const id of ["input-shape", "batch"]) $(id).addEventListener("input", scheduleCheck);
    $("save").addEventListener("click", save);
    $("train").addEventListener("click", train);
    setupDrawing();
    setupImages();
    await check();
  }

  start();
})();
