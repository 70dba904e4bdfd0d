"use strict";
// Interactive fit page (docs/serve-fit.md): the form posts to this router, the fit's
// mixtures arrive as server-sent events and are drawn over the data on two canvases.
// Densities follow scipy's parametrisation (z = (x − loc)/scale) as histfit's mixture files
// do; the model PDF at integer x < 1024 is the probability of the value, F(x) − F(x − 1)
// (F(x) − F(0) at the smallest value), the density above, as histfit's plots.

// ---------- special functions ----------
// erfc(x) with fractional error below 1.2e-7 everywhere (Chebyshev fit of erfc·e^{x²}).
function erfc(x) {
  const z = Math.abs(x), t = 1 / (1 + 0.5 * z);
  const r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
    t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? r : 2 - r;
}
const normSf = z => 0.5 * erfc(z / Math.SQRT2);
const normCdf = z => 0.5 * erfc(-z / Math.SQRT2);
const SQRT2PI = Math.sqrt(2 * Math.PI);
// ln Γ(a), Lanczos approximation (g = 7, 9 terms), a > 0.
const LANCZOS = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
function lgamma(a) {
  if (a < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * a))) - lgamma(1 - a);
  a -= 1;
  let s = LANCZOS[0];
  for (let i = 1; i < 9; i++) s += LANCZOS[i] / (a + i);
  const t = a + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (a + 0.5) * Math.log(t) - t + Math.log(s);
}
// Regularised incomplete gamma: [P(a, x), Q(a, x)] (series below a + 1, continued fraction above).
function gammaPQ(a, x) {
  if (!(x > 0)) return [0, 1];
  const lead = Math.exp(-x + a * Math.log(x) - lgamma(a));
  if (x < a + 1) {
    let term = 1 / a, sum = term;
    for (let n = 1; n < 500; n++) { term *= x / (a + n); sum += term; if (Math.abs(term) < Math.abs(sum) * 1e-15) break; }
    const p = Math.min(1, sum * lead);
    return [p, 1 - p];
  }
  const tiny = 1e-300;
  let b = x + 1 - a, c = 1 / tiny, d = 1 / b, h = d;
  for (let i = 1; i < 500; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b; if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c; if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c; h *= del;
    if (Math.abs(del - 1) < 1e-15) break;
  }
  const q = Math.min(1, lead * h);
  return [1 - q, q];
}

// ---------- families: {pdf, cdf, sf} of x, from scipy args ----------
function family(name, args) {
  const n = args.length, scale = args[n - 1], loc = args[n - 2], sh = n > 2 ? args[0] : 0;
  const z = x => (x - loc) / scale;
  switch (name) {
    case "uniform": return {
      pdf: x => (z(x) >= 0 && z(x) <= 1 ? 1 / scale : 0),
      cdf: x => Math.min(1, Math.max(0, z(x))), sf: x => 1 - Math.min(1, Math.max(0, z(x))) };
    case "genpareto": {
      const sf = x => { const t = Math.max(0, z(x)); return sh === 0 ? Math.exp(-t) : Math.pow(1 + sh * t, -1 / sh); };
      return { pdf: x => { const t = z(x); return t < 0 ? 0 : (sh === 0 ? Math.exp(-t) : Math.pow(1 + sh * t, -1 / sh - 1)) / scale; },
        cdf: x => 1 - sf(x), sf };
    }
    case "lognorm": return {
      pdf: x => { const t = z(x); if (!(t > 0)) return 0; const l = Math.log(t) / sh; return Math.exp(-0.5 * l * l) / (sh * t * SQRT2PI * scale); },
      cdf: x => { const t = z(x); return t > 0 ? normCdf(Math.log(t) / sh) : 0; },
      sf: x => { const t = z(x); return t > 0 ? normSf(Math.log(t) / sh) : 1; } };
    case "norm": return {
      pdf: x => { const t = z(x); return Math.exp(-0.5 * t * t) / (SQRT2PI * scale); },
      cdf: x => normCdf(z(x)), sf: x => normSf(z(x)) };
    case "gamma": return {
      pdf: x => { const t = z(x); return t > 0 ? Math.exp((sh - 1) * Math.log(t) - t - lgamma(sh)) / scale : 0; },
      cdf: x => gammaPQ(sh, z(x))[0], sf: x => gammaPQ(sh, z(x))[1] };
    case "weibull_min": return {
      pdf: x => { const t = z(x); return t > 0 ? sh * Math.pow(t, sh - 1) * Math.exp(-Math.pow(t, sh)) / scale : 0; },
      cdf: x => { const t = z(x); return t > 0 ? -Math.expm1(-Math.pow(t, sh)) : 0; },
      sf: x => { const t = z(x); return t > 0 ? Math.exp(-Math.pow(t, sh)) : 1; } };
  }
  throw new Error("unknown family " + name);
}
// P(lo < X ≤ hi) without cancellation in either tail.
function prob(f, lo, hi) {
  const a = f.cdf(lo);
  return a < 0.5 ? f.cdf(hi) - a : f.sf(lo) - f.sf(hi);
}

// A mixture file ({"sum", "mix"} or a bare list) → curves of the mixture and its components.
function mixtureCurves(text, xs, xmin) {
  const m = typeof text === "string" ? JSON.parse(text) : text;
  const list = Array.isArray(m) ? m : m.mix;
  const wsum = list.reduce((s, c) => s + c[0], 0);
  const comps = list.map(c => ({ w: c[0] / wsum, name: c[1], f: family(c[1], c[2]) }));
  const compPdf = comps.map(c => xs.map(x => c.w * (x < 1024 ? prob(c.f, x === xmin ? 0 : x - 1, x) : c.f.pdf(x))));
  const compCdf = comps.map(c => xs.map(x => c.w * c.f.cdf(x)));
  const sum = rows => xs.map((_, i) => rows.reduce((s, r) => s + r[i], 0));
  return { comps, compPdf, compCdf, pdf: sum(compPdf), cdf: sum(compCdf) };
}

// ---------- plotting ----------
// Okabe–Ito (colour-blind safe; its yellow is left out: a thin line of it vanishes on white)
const COLORS = { data: "#000000", mixture: "#D55E00", uniform: "#009E73", genpareto: "#CC79A7", lognorm: "#0072B2", norm: "#E69F00", gamma: "#56B4E9", weibull_min: "#7F7F7F" };
const FAMILY_LABEL = { uniform: "uniform", genpareto: "Pareto", lognorm: "lognormal", norm: "normal", gamma: "gamma", weibull_min: "Weibull" };
const FONT = '"DejaVu Sans", system-ui, sans-serif';

class Plot {
  constructor(canvas, opts) { this.canvas = canvas; this.opts = opts; this.base = null; }
  size() {
    const dpr = window.devicePixelRatio || 1, w = this.canvas.clientWidth || 640, h = Math.round(w * 0.5);
    if (this.canvas.width !== Math.round(w * dpr) || this.canvas.height !== Math.round(h * dpr)) {
      this.canvas.width = Math.round(w * dpr); this.canvas.height = Math.round(h * dpr); this.canvas.style.height = h + "px"; this.base = null;
    }
    return { dpr, w, h, l: 74, r: 14, t: 30, b: 52 };
  }
  // data range → axes; the static layer (frame, ticks, labels, data) is drawn once per data set
  setData(xs, ys, xlabel, ylabel, title) {
    this.xs = xs; this.ys = ys; this.labels = { xlabel, ylabel, title };
    const pos = xs.filter(x => x > 0);
    this.xr = [Math.log10(Math.min(...pos)), Math.log10(Math.max(...pos))];
    this.xr = [Math.floor(this.xr[0] + 1e-9), Math.ceil(this.xr[1] - 1e-9)];
    if (this.xr[1] <= this.xr[0]) this.xr[1] = this.xr[0] + 1;
    if (this.opts.ylog) {
      const py = ys.filter(y => y > 0 && isFinite(y));
      let lo = Math.floor(Math.log10(Math.min(...py))), hi = Math.ceil(Math.log10(Math.max(...py)));
      lo = Math.max(lo, hi - 16); if (hi <= lo) hi = lo + 1;
      this.yr = [lo, hi];
    } else this.yr = [0, 1];
    this.base = null;
  }
  px(x, g) { return g.l + (Math.log10(x) - this.xr[0]) / (this.xr[1] - this.xr[0]) * (g.w - g.l - g.r); }
  py(y, g) {
    const v = this.opts.ylog ? (y > 0 ? Math.log10(y) : -Infinity) : y;
    return g.h - g.b - (v - this.yr[0]) / (this.yr[1] - this.yr[0]) * (g.h - g.t - g.b);
  }
  pow10(ctx, k, x, y, align) {
    const e = (k < 0 ? "\u2212" : "") + Math.abs(k);
    ctx.font = "12px " + FONT; const wb = ctx.measureText("10").width;
    ctx.font = "9px " + FONT; const we = ctx.measureText(e).width;
    let x0 = align === "right" ? x - wb - we : x - (wb + we) / 2;
    ctx.textAlign = "left"; ctx.font = "12px " + FONT; ctx.fillText("10", x0, y);
    ctx.font = "9px " + FONT; ctx.fillText(e, x0 + wb, y - 5);
  }
  drawBase(g) {
    const c = document.createElement("canvas"); c.width = this.canvas.width; c.height = this.canvas.height;
    const ctx = c.getContext("2d"); ctx.scale(g.dpr, g.dpr);
    ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, g.w, g.h);
    const X0 = g.l, X1 = g.w - g.r, Y0 = g.h - g.b, Y1 = g.t;
    ctx.strokeStyle = "#e6e8eb"; ctx.lineWidth = 1;
    ctx.fillStyle = "#222"; ctx.textBaseline = "alphabetic";
    // x: decades labelled 10^k, minor ticks at 2…9
    for (let k = this.xr[0]; k <= this.xr[1]; k++) {
      const x = this.px(Math.pow(10, k), g);
      ctx.strokeStyle = "#e6e8eb"; ctx.beginPath(); ctx.moveTo(x, Y0); ctx.lineTo(x, Y1); ctx.stroke();
      ctx.strokeStyle = "#222"; ctx.beginPath(); ctx.moveTo(x, Y0); ctx.lineTo(x, Y0 + 5); ctx.stroke();
      this.pow10(ctx, k, x, Y0 + 19, "center");
      if (k < this.xr[1]) for (let m = 2; m < 10; m++) {
        const xm = this.px(m * Math.pow(10, k), g);
        ctx.beginPath(); ctx.moveTo(xm, Y0); ctx.lineTo(xm, Y0 + 3); ctx.stroke();
      }
    }
    if (this.opts.ylog) {
      const span = this.yr[1] - this.yr[0], step = span > 10 ? 2 : 1;
      for (let k = this.yr[0]; k <= this.yr[1]; k++) {
        const y = this.py(Math.pow(10, k), g);
        ctx.strokeStyle = "#222"; ctx.beginPath(); ctx.moveTo(X0 - (k % step ? 3 : 5), y); ctx.lineTo(X0, y); ctx.stroke();
        if ((k - this.yr[0]) % step === 0) {
          ctx.strokeStyle = "#e6e8eb"; ctx.beginPath(); ctx.moveTo(X0, y); ctx.lineTo(X1, y); ctx.stroke();
          this.pow10(ctx, k, X0 - 7, y + 4, "right");
        }
      }
    } else {
      ctx.font = "12px " + FONT; ctx.textAlign = "right";
      for (let i = 0; i <= 5; i++) {
        const v = i / 5, y = this.py(v, g);
        ctx.strokeStyle = "#e6e8eb"; ctx.beginPath(); ctx.moveTo(X0, y); ctx.lineTo(X1, y); ctx.stroke();
        ctx.strokeStyle = "#222"; ctx.beginPath(); ctx.moveTo(X0 - 5, y); ctx.lineTo(X0, y); ctx.stroke();
        ctx.fillText(v.toFixed(1), X0 - 7, y + 4);
      }
    }
    ctx.strokeStyle = "#222"; ctx.lineWidth = 1; ctx.strokeRect(X0, Y1, X1 - X0, Y0 - Y1);
    ctx.textAlign = "center"; ctx.font = "13px " + FONT;
    ctx.fillText(this.labels.xlabel, (X0 + X1) / 2, g.h - 12);
    ctx.save(); ctx.translate(16, (Y0 + Y1) / 2); ctx.rotate(-Math.PI / 2); ctx.fillText(this.labels.ylabel, 0, 0); ctx.restore();
    ctx.font = "600 13px " + FONT; ctx.fillText(this.labels.title, (X0 + X1) / 2, 19);
    this.line(ctx, g, this.xs, this.ys, COLORS.data, [], 1.6);
    ctx.save(); ctx.beginPath(); ctx.rect(X0, Y1, X1 - X0, Y0 - Y1); ctx.clip();
    ctx.fillStyle = COLORS.data;
    this.xs.forEach((x, i) => { const v = this.ys[i]; if (!(v > 0 || (!this.opts.ylog && isFinite(v)))) return; ctx.beginPath(); ctx.arc(this.px(x, g), this.py(v, g), 1.8, 0, 2 * Math.PI); ctx.fill(); });
    ctx.restore();
    this.base = c;
  }
  line(ctx, g, xs, ys, color, dash, width) {
    ctx.save(); ctx.beginPath(); ctx.rect(g.l, g.t, g.w - g.l - g.r, g.h - g.t - g.b); ctx.clip();
    ctx.strokeStyle = color; ctx.setLineDash(dash); ctx.lineWidth = width; ctx.lineJoin = "round";
    ctx.beginPath(); let pen = false;
    for (let i = 0; i < xs.length; i++) {
      const v = ys[i];
      if (!isFinite(v) || (this.opts.ylog && !(v > 0))) { pen = false; continue; }
      const X = this.px(xs[i], g), Y = Math.min(this.py(v, g), g.h + 10);
      if (pen) ctx.lineTo(X, Y); else ctx.moveTo(X, Y);
      pen = true;
    }
    ctx.stroke(); ctx.restore();
  }
  // the legend goes in the corner of the axes that covers the fewest drawn points (`series`:
  // [xs, ys] of every curve drawn); ties keep the first: top right on the PDF (above its falling
  // tail), on the CDF right below the data's plateau near 1
  legend(ctx, g, entries, series) {
    ctx.font = "12px " + FONT;
    const w = Math.max(...entries.map(e => ctx.measureText(e.label).width)) + 44, h = entries.length * 17 + 8;
    const X0 = g.l + 8, X1 = g.w - g.r - w - 8, Ytop = this.opts.ylog ? g.t + 8 : this.py(0.93, g), Ybot = g.h - g.b - h - 8;
    const corners = [[X1, Ytop], [X0, Ybot], [X1, Ybot], [X0, Ytop]];
    const covered = ([x, y]) => {
      let n = 0;
      for (const [xs, ys] of series) xs.forEach((v, i) => {
        const u = ys[i];
        if (!(v > 0) || !isFinite(u) || (this.opts.ylog && !(u > 0))) return;
        const X = this.px(v, g), Y = this.py(u, g);
        if (X >= x - 4 && X <= x + w + 4 && Y >= y - 4 && Y <= y + h + 4) n++;
      });
      return n;
    };
    let best = corners[0], least = Infinity;
    for (const c of corners) { const n = covered(c); if (n < least) { least = n; best = c; } }
    const [lx, ly] = best;
    ctx.fillStyle = "rgba(255,255,255,0.92)"; ctx.strokeStyle = "#c9ced6"; ctx.lineWidth = 1; ctx.setLineDash([]);
    ctx.fillRect(lx, ly, w, h); ctx.strokeRect(lx, ly, w, h);
    entries.forEach((e, i) => {
      const yy = ly + 13 + i * 17;
      ctx.strokeStyle = e.color; ctx.lineWidth = e.width; ctx.setLineDash(e.dash);
      ctx.beginPath(); ctx.moveTo(lx + 8, yy - 4); ctx.lineTo(lx + 34, yy - 4); ctx.stroke();
      ctx.setLineDash([]); ctx.fillStyle = "#222"; ctx.textAlign = "left"; ctx.fillText(e.label, lx + 40, yy);
    });
  }
  render(model, which, dataLabel) {
    const g = this.size();
    if (!this.xs) return;
    if (!this.base) this.drawBase(g);
    const ctx = this.canvas.getContext("2d");
    ctx.setTransform(1, 0, 0, 1, 0, 0); ctx.drawImage(this.base, 0, 0); ctx.scale(g.dpr, g.dpr);
    const entries = [{ label: dataLabel, color: COLORS.data, dash: [], width: 1.6 }];
    const drawn = [[this.xs, this.ys]];
    if (model) {
      const seen = new Set();
      model.comps.forEach((c, k) => {
        this.line(ctx, g, this.xs, which === "pdf" ? model.compPdf[k] : model.compCdf[k], COLORS[c.name] || "#777", [5, 4], 1.1);
        drawn.push([this.xs, which === "pdf" ? model.compPdf[k] : model.compCdf[k]]);
        if (!seen.has(c.name)) { seen.add(c.name); entries.push({ label: FAMILY_LABEL[c.name] + " components", color: COLORS[c.name] || "#777", dash: [5, 4], width: 1.1 }); }
      });
      this.line(ctx, g, this.xs, which === "pdf" ? model.pdf : model.cdf, COLORS.mixture, [], 2);
      drawn.push([this.xs, which === "pdf" ? model.pdf : model.cdf]);
      entries.splice(1, 0, { label: "mixture", color: COLORS.mixture, dash: [], width: 2 });
    }
    this.legend(ctx, g, entries, drawn);
  }
}

// ---------- the page ----------
const $ = id => document.getElementById(id);
const form = $("fit-form");
const TOKEN = form.dataset.token || "";
const BASE = location.pathname.replace(/\/+$/, "");
const pdfPlot = new Plot($("pdf-plot"), { ylog: true });
const cdfPlot = new Plot($("cdf-plot"), { ylog: false });
const stats = { redraws: 0, drawMs: 0, iterations: [], running: false, duringFit: 0 };
// the animation: streamed mixtures queue up and one is drawn per animation frame, in order;
// a backlog beyond LAG frames is skipped (oldest first), so the plot never trails the fit by
// more than LAG frames and a fit shorter than a frame still shows its course
const LAG = 12;
let curves = null, session = null, source = null, latest = null, queue = [], pending = false, finalText = null;

function histogramPath() { return $("histogram").value.trim() || $("histogram-list").value; }
function xLabel(p) {
  const s = p.split("/").pop().replace(/\.csv$/, "");
  return { length: "Flow length (packets)", size: "Flow size (bytes)", duration: "Flow duration (ms)", rate: "Flow rate (bytes/s)" }[s] || s;
}
// the unit one flow is counted in along x (the PDF's is its inverse), by the histogram's name
function xUnit(p) {
  return { length: "packet", size: "byte", duration: "ms", rate: "byte/s" }[p.split("/").pop().replace(/\.csv$/, "")];
}
function setStatus(t, err) { $("status").textContent = t; $("status").className = err ? "error" : ""; }
async function post(path, body) {
  const r = await fetch(BASE + path, { method: "POST", headers: { "Content-Type": "application/json", "X-Flowlab-Token": TOKEN }, body: JSON.stringify(body || {}) });
  const j = await r.json().catch(() => ({ error: r.statusText }));
  if (!r.ok) throw new Error(j.error || r.statusText);
  return j;
}
// a whole number typed in a field, or an error naming the field (never a silent default)
function count(value, name) {
  const t = String(value).trim();
  if (t === "") return 0;
  if (!/^[0-9]+$/.test(t)) throw new Error(name + ": `" + t + "` is not a whole number");
  return Number(t);
}
function formBody() {
  const families = {};
  document.querySelectorAll("input[data-family]").forEach(i => { const n = count(i.value, "families." + i.dataset.family); if (n > 0) families[i.dataset.family] = n; });
  const mpw = $("mpw").value.trim();
  if (mpw !== "" && !Number.isFinite(Number(mpw))) throw new Error("mpw: `" + mpw + "` is not a number (leave it empty for none)");
  // a number input holds "" when what was typed is not a number
  if ($("iterations").value.trim() === "") throw new Error("iterations: give a whole number of at least 1");
  const iterations = count($("iterations").value, "iterations");
  return { histogram: histogramPath(), column: $("column").value, families, iterations,
    fitter: $("fitter").value, mpw: mpw === "" ? null : Number(mpw), initial: $("initial").value, animate: $("animate").checked };
}
function useCurves(c) {
  curves = c;
  const col = $("column").value, xl = xLabel(histogramPath());
  const unit = xUnit(histogramPath());
  pdfPlot.setData(c.x, c.pdf, xl, unit ? "PDF [1/" + unit + "]" : "PDF", "PDF (" + col + ")");
  cdfPlot.setData(c.x, c.cdf, xl, "CDF [fraction]", "CDF (" + col + ")");
  draw(null);
}
async function loadCurves() {
  const h = histogramPath(); if (!h) return;
  try {
    const r = await fetch(BASE + "/curves?histogram=" + encodeURIComponent(h) + "&column=" + encodeURIComponent($("column").value));
    const j = await r.json();
    if (!r.ok) throw new Error(j.error);
    useCurves(j);
  } catch (e) { setStatus(String(e.message || e), true); }
}
// draws `text` (a mixture file) over the data; counts redraws and their cost
function draw(text, iteration) {
  if (!curves) return;
  const t0 = performance.now();
  let model = null;
  if (text) {
    try { model = mixtureCurves(text, curves.x, curves.xmin); } catch (e) { setStatus("cannot draw the mixture: " + e.message, true); return; }
  }
  const label = "data (" + $("column").value + ")";
  pdfPlot.render(model, "pdf", label);
  cdfPlot.render(model, "cdf", label);
  if (text) {
    stats.redraws++; stats.drawMs += performance.now() - t0; stats.iterations.push(iteration);
    if (stats.running) stats.duringFit++;
    const el = $("redraws");
    el.textContent = stats.redraws; el.dataset.count = stats.redraws; el.dataset.iteration = iteration;
    el.dataset.drawMs = (stats.drawMs / stats.redraws).toFixed(3); el.dataset.duringFit = stats.duringFit;
    $("iteration").textContent = iteration;
  }
}
function schedule() {
  if (pending || queue.length === 0) return;
  pending = true;
  requestAnimationFrame(() => {
    pending = false;
    if (queue.length > LAG) queue.splice(0, queue.length - LAG);
    const m = queue.shift();
    if (m) { draw(m.json, m.iteration); if (m.then) m.then(); }
    schedule();
  });
}
function finish(status) {
  if (status !== "done") { stats.running = false; queue = []; }
  $("fit").disabled = false; $("stop").disabled = true;
  if (source) { source.close(); source = null; }
  $("save").disabled = !(status === "done" || (status === "stopped" && latest));
}
async function startFit(ev) {
  ev.preventDefault();
  if (source) { source.close(); source = null; }
  latest = null; queue = []; finalText = null; $("saved").textContent = "";
  let body;
  try {
    body = formBody();
    setStatus("starting…");
    const r = await post("/start", body);
    session = r.session; useCurves(r.curves);
    $("manifest").textContent = r.manifest;
    $("fit").disabled = true; $("stop").disabled = false; $("save").disabled = true;
    $("progress").value = 0;
    stats.running = true; stats.duringFit = 0;
    const t0 = performance.now();
    source = new EventSource(BASE + "/events/" + session);
    source.addEventListener("state", e => {
      const s = JSON.parse(e.data);
      if (s.progress.total > 0) $("progress").value = s.progress.done / s.progress.total;
      if (s.mixture) {
        latest = s.mixture;
        $("mixture-json").textContent = s.mixture.json;
        $("progress").value = s.mixture.iteration / s.mixture.of;
        if (body.animate) { queue.push(s.mixture); schedule(); }
        setStatus("iteration " + s.mixture.iteration + " of " + s.mixture.of);
      }
      if (s.status === "done") {
        const r = s.result; finalText = r.json;
        $("mixture-json").textContent = r.json; $("progress").value = 1;
        latest = { iteration: r.iterations, of: r.iterations, json: r.json };
        const wall = performance.now() - t0;
        const then = () => {
          stats.running = false;
          setStatus("done: " + r.iterations + " iterations (" + r.termination + "), objective " + (r.objective === null ? "–" : r.objective.toPrecision(8)) +
            ", fit " + (r.wall_s * 1000).toFixed(0) + " ms, page " + wall.toFixed(0) + " ms");
          form.dataset.state = "done";
        };
        finish("done");
        // the result is the last frame of the animation (it replaces a queued copy of itself)
        if (queue.length && queue[queue.length - 1].iteration === r.iterations) queue.pop();
        if (body.animate && (queue.length || pending)) { queue.push({ ...latest, then }); schedule(); }
        // the result's frame belongs to the fit whether or not the animation queue had
        // drained when it arrived (on a loaded machine it has)
        else { draw(r.json, r.iterations); then(); }
      } else if (s.status === "stopped") {
        finish("stopped"); setStatus("stopped" + (latest ? " at iteration " + latest.iteration : "")); form.dataset.state = "stopped";
      } else if (s.status === "failed") {
        finish("failed"); setStatus("failed: " + s.error, true); form.dataset.state = "failed";
      } else form.dataset.state = "running";
    });
    source.onerror = () => { if (source) { setStatus("the event stream broke", true); finish("failed"); } };
  } catch (e) { setStatus(String(e.message || e), true); finish("failed"); }
}
form.addEventListener("submit", startFit);
$("stop").addEventListener("click", async () => { if (session) { try { await post("/stop/" + session); } catch (e) { setStatus(e.message, true); } } });
$("save").addEventListener("click", async () => {
  try { const r = await post("/save/" + session, { path: $("save-path").value }); $("saved").textContent = "saved: " + r.saved.join(", "); $("saved").dataset.saved = r.saved.join("\n"); }
  catch (e) { $("saved").textContent = "not saved: " + e.message; }
});
$("as-manifest").addEventListener("click", async () => {
  try { const r = await post("/manifest", formBody()); $("manifest").textContent = r.manifest; $("manifest").hidden = false; $("manifest-title").hidden = false; }
  catch (e) { setStatus(e.message, true); }
});
$("histogram-list").addEventListener("change", () => { $("histogram").value = ""; loadCurves(); });
$("histogram").addEventListener("change", loadCurves);
$("column").addEventListener("change", loadCurves);
window.addEventListener("resize", () => { pdfPlot.base = cdfPlot.base = null; if (curves) draw(latest && latest.json, latest && latest.iteration); });
// for tests and benchmarks: the redraw statistics, and `bench(ms)` redraws the last mixture
// once per animation frame for `ms` and answers the achieved redraws per second
window.ifit = { stats, mixtureCurves, get loaded() { return curves !== null; }, bench: ms => new Promise(res => {
  const text = latest && latest.json; if (!text) return res(0);
  let n = 0; const t0 = performance.now();
  const f = () => { draw(text, latest.iteration); n++; const dt = performance.now() - t0; if (dt < ms) requestAnimationFrame(f); else res(n / (dt / 1000)); };
  requestAnimationFrame(f);
}) };
loadCurves();
