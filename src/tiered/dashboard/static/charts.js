// Small hand-written SVG charts: escalation rate over time, cumulative cost, confidence histogram.
import { count, money, pct, sharedDigits, tick } from "./format.js";

const NS = "http://www.w3.org/2000/svg";
// Charts are drawn at the container's own pixel size (one SVG unit = one CSS pixel), so their text follows
// the page's root font size on a laptop and on a wall screen alike; app.js redraws them on resize.
let W = 720;
let H = 250;
let M = { l: 46, r: 16, t: 16, b: 28 };
let PW = W - M.l - M.r;
let PH = H - M.t - M.b;

function size(container, heightRem) {
  const rem = parseFloat(getComputedStyle(document.documentElement).fontSize) || 16;
  W = Math.max(280, Math.round(container.clientWidth || 720));
  H = Math.round(heightRem * rem);
  M = { l: Math.round(4 * rem), r: Math.round(1 * rem), t: Math.round(1.1 * rem), b: Math.round(2 * rem) };
  PW = W - M.l - M.r;
  PH = H - M.t - M.b;
}

function el(tag, attrs, parent, text) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  if (parent) parent.appendChild(node);
  return node;
}

function frame(container, label, heightRem) {
  size(container, heightRem);
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": label });
  container.replaceChildren(svg);
  return svg;
}

function empty(svg, message) {
  el("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "empty" }, svg, message);
}

// A "nice" axis for values up to v: a top of 1, 2, 2.5 or 5 times a power of ten, in round steps.
function niceAxis(v) {
  if (!(v > 0)) return { max: 1, ticks: 4, step: 0.25 };
  const p = 10 ** Math.floor(Math.log10(v));
  const m = [1, 2, 2.5, 5, 10].find((k) => v <= k * p);
  const ticks = m === 2 ? 4 : 5; // steps of 0.2, 0.5, 0.5, 1 and 2 times the power of ten
  return { max: m * p, ticks, step: (m * p) / ticks };
}

function axisMoney(v, step) {
  const decimals = Math.max(0, Math.ceil(-Math.log10(step) - 1e-9));
  return `$${v.toFixed(Math.min(decimals, 6))}`;
}

// Horizontal grid lines and labels for 0..max over the band [top, top + height] (default: the whole plot).
function yGrid(svg, max, fmt, ticks = 4, { top = M.t, height = PH, group = null } = {}) {
  const parent = group || svg;
  for (let i = 0; i <= ticks; i++) {
    const v = (max * i) / ticks;
    const y = top + height - (height * i) / ticks;
    el("line", { x1: M.l, x2: W - M.r, y1: y, y2: y, class: "grid-line" }, parent);
    el("text", { x: M.l - 6, y: y + 4, "text-anchor": "end", class: "tick", "data-value": v }, parent, fmt(v));
  }
}

function xTicks(svg, points, bucketSeconds) {
  const n = points.length;
  const rem = parseFloat(getComputedStyle(document.documentElement).fontSize) || 16;
  const fits = Math.max(2, Math.floor(PW / (6 * rem)));
  const every = Math.max(1, Math.ceil(n / fits));
  for (let i = 0; i < n; i += every) {
    const x = M.l + (PW * i) / n;
    el("text", { x, y: H - 8, "text-anchor": "start" }, svg, tick(points[i].start, bucketSeconds));
  }
}

function timeX(points, iso) {
  const t0 = Date.parse(points[0].start);
  const t1 = Date.parse(points[points.length - 1].end);
  const t = Date.parse(iso);
  if (t < t0 || t > t1) return null;
  return M.l + (PW * (t - t0)) / (t1 - t0);
}

// Two bands, each with its own axis, so that a count never reads as a rate: the escalation rate (percent, with
// the storm line) on top, and below it a strip of routed calls per bucket (a count). The newest bucket is
// still filling, and its slow, escalated calls are stored last, so its rate so far is drawn apart from the
// line: a dashed segment to a hollow dot, its bar in outline.
export function escalationChart(container, series, { storm, changes }) {
  const pts = series.points;
  const routed = pts.reduce((s, p) => s + p.routed_calls, 0);
  const label = `Escalation rate per ${series.bucket_seconds} s bucket on a percent axis, storm line at ${pct(storm)}; `
    + "routed calls per bucket on their own count axis below";
  const svg = frame(container, label, 17);
  if (!routed) return empty(svg, "No routed calls in this window");
  const rem = parseFloat(getComputedStyle(document.documentElement).fontSize) || 16;
  const n = pts.length;
  const bw = PW / n;
  const rateBand = { top: M.t, height: Math.round(PH * 0.6) };
  const callsBand = { top: M.t + Math.round(PH * 0.78), height: PH - Math.round(PH * 0.78) };
  const maxRate = Math.max(storm * 1.25, ...pts.map((p) => (p.escalation_rate || 0) * 1.08));
  const step = maxRate <= 0.6 ? 0.1 : 0.2;
  const yMax = Math.min(1, Math.ceil(maxRate / step - 1e-9) * step);
  const rateAxis = el("g", { class: "axis axis-rate", "data-unit": "percent" }, svg);
  yGrid(svg, yMax, (v) => `${Math.round(v * 100)}%`, Math.round(yMax / step), { ...rateBand, group: rateAxis });
  const calls = niceAxis(Math.max(...pts.map((p) => p.routed_calls)));
  const callsAxis = el("g", { class: "axis axis-calls", "data-unit": "calls" }, svg);
  yGrid(svg, calls.max, (v) => count(v), Number.isInteger(calls.max / 2) ? 2 : 1, { ...callsBand, group: callsAxis });
  const gap = (rateBand.top + rateBand.height + callsBand.top) / 2;
  el("line", { x1: M.l, x2: W - M.r, y1: gap, y2: gap, class: "band-rule" }, svg);
  el("text", { x: M.l + 4, y: callsBand.top - 0.3 * rem, class: "band-label" }, svg, "routed calls per bucket");
  pts.forEach((p, i) => {
    if (!p.routed_calls) return;
    const h = (callsBand.height * p.routed_calls) / calls.max;
    const bar = el("rect", { x: M.l + i * bw + bw * 0.12, y: callsBand.top + callsBand.height - h, width: bw * 0.76, height: h,
      class: p.partial ? "bar-calls partial" : "bar-calls", "data-calls": p.routed_calls }, svg);
    el("title", {}, bar, `${count(p.routed_calls)} routed calls${p.partial ? " so far (bucket still filling)" : ""}`);
  });
  const y = (r) => rateBand.top + rateBand.height - (rateBand.height * r) / yMax;
  const sy = y(storm);
  el("line", { x1: M.l, x2: W - M.r, y1: sy, y2: sy, class: "storm" }, svg);
  el("text", { x: M.l + 4, y: sy - 5, class: "storm-label" }, svg, `storm ${pct(storm)}`);
  // threshold changes, oldest first, their labels on staggered rows so that close changes stay readable
  const shown = (changes || []).map((c) => [c, timeX(pts, c.created_at)]).filter(([, x]) => x !== null).reverse();
  shown.forEach(([c, x], i) => {
    el("line", { x1: x, x2: x, y1: M.t, y2: M.t + PH, class: "change" }, svg);
    const text = `${c.old_threshold == null ? "?" : c.old_threshold.toFixed(2)}→${c.new_threshold.toFixed(2)}`;
    const right = x > W - M.r - 6 * rem;
    el("text", { x: right ? x - 4 : x + 4, y: M.t + (1.4 + 1.1 * (i % 3)) * rem, "text-anchor": right ? "end" : "start",
      class: "change-label" }, svg, text);
  });
  rateLine(svg, pts, bw, y);
  xTicks(svg, pts, series.bucket_seconds);
}

function rateLine(svg, pts, bw, y) {
  let d = "";
  let run = [];
  let last = null; // the last complete bucket's point, if it has a rate
  const flush = () => {
    if (run.length === 1) el("circle", { cx: run[0][0], cy: run[0][1], r: 3, class: "dot-rate" }, svg);
    run = [];
  };
  pts.forEach((p, i) => {
    const at = [M.l + (i + 0.5) * bw, p.escalation_rate == null ? null : y(p.escalation_rate)];
    if (p.partial) {
      flush();
      if (at[1] === null) return;
      if (last) el("path", { d: `M${last[0].toFixed(1)},${last[1].toFixed(1)}L${at[0].toFixed(1)},${at[1].toFixed(1)}`,
        class: "line-partial" }, svg);
      const dot = el("circle", { cx: at[0], cy: at[1], r: 4, class: "dot-partial", "data-rate": p.escalation_rate }, svg);
      el("title", {}, dot, `so far ${pct(p.escalation_rate)} of ${count(p.routed_calls)} routed calls: this bucket is still filling`);
      return;
    }
    last = at[1] === null ? null : at;
    if (at[1] === null) return flush();
    d += `${run.length ? "L" : "M"}${at[0].toFixed(1)},${at[1].toFixed(1)}`;
    run.push(at);
  });
  flush();
  if (d) el("path", { d, class: "line-rate" }, svg);
}

export function costChart(container, series) {
  const pts = series.points;
  const svg = frame(container, "Cumulative actual cost and all-final-tier cost over the window", 14);
  let a = 0;
  let f = 0;
  const cum = pts.map((p) => {
    a += p.actual_usd;
    f += p.counterfactual_usd;
    return [a, f];
  });
  if (!(f > 0) && !(a > 0)) return empty(svg, "No costed calls in this window");
  const axis = niceAxis(Math.max(a, f));
  const yMax = axis.max;
  yGrid(svg, yMax, (v) => axisMoney(v, axis.step), axis.ticks);
  const n = pts.length;
  const x = (i) => M.l + (PW * (i + 1)) / n;
  const y = (v) => M.t + PH - (PH * v) / yMax;
  const line = (k) => cum.map((c, i) => `${i ? "L" : "M"}${x(i).toFixed(1)},${y(c[k]).toFixed(1)}`).join("");
  const back = cum.map((_, j) => {
    const i = n - 1 - j;
    return `L${x(i).toFixed(1)},${y(cum[i][0]).toFixed(1)}`;
  });
  el("path", { d: `${line(1)}${back.join("")}Z`, class: "area-savings" }, svg);
  el("path", { d: line(1), class: "line-final" }, svg);
  el("path", { d: line(0), class: "line-actual" }, svg);
  // the counterfactual's label above its line, the actual's below its own, never on top of each other
  const fy = Math.max(M.t + 10, y(f) - 6);
  const ay = Math.min(M.t + PH - 4, Math.max(y(a) + 16, fy + 16));
  const digits = sharedDigits([a, f]);
  el("text", { x: W - M.r, y: fy, "text-anchor": "end", class: "label-strong" }, svg, money(f, digits));
  el("text", { x: W - M.r, y: ay, "text-anchor": "end", class: "label-strong" }, svg, money(a, digits));
  xTicks(svg, pts, series.bucket_seconds);
  const legend = document.createElement("div");
  legend.className = "legend";
  legend.innerHTML =
    '<span><i class="sw-final"></i>all-final-tier (counterfactual)</span><span><i class="sw-actual"></i>actual</span>' +
    '<span><i class="sw-savings"></i>savings</span>';
  container.appendChild(legend);
}

export function histogramChart(container, buckets, threshold) {
  const total = buckets.reduce((s, b) => s + b.calls, 0);
  const label = threshold == null ? "" : `; threshold ${threshold.toFixed(2)}`;
  const svg = frame(container, `Confidence histogram of first-tier triage answers${label}`, 14);
  if (!total) return empty(svg, "No triage confidences in this window");
  const axis = niceAxis(Math.max(4, ...buckets.map((b) => b.calls)));
  const yMax = axis.max;
  yGrid(svg, yMax, (v) => count(v), axis.ticks);
  const x = (c) => M.l + PW * c;
  const y = (v) => M.t + PH - (PH * v) / yMax;
  for (const b of buckets) {
    if (!b.calls) continue;
    const x0 = x(b.low) + 1;
    const w = x(b.high) - x(b.low) - 2;
    el("rect", { x: x0, y: y(b.shipped), width: w, height: M.t + PH - y(b.shipped), class: "bar-shipped" }, svg);
    const esc = b.calls - b.shipped;
    if (esc) el("rect", { x: x0, y: y(b.calls), width: w, height: y(b.shipped) - y(b.calls), class: "bar-escalated" }, svg);
  }
  for (let c = 0; c <= 10; c += 2) {
    el("text", { x: x(c / 10), y: H - 8, "text-anchor": "middle" }, svg, (c / 10).toFixed(1));
  }
  if (threshold != null) {
    const tx = x(threshold);
    el("line", { x1: tx, x2: tx, y1: M.t - 4, y2: M.t + PH, class: "threshold" }, svg);
    el("text", { x: tx - 6, y: M.t + 10, "text-anchor": "end", class: "label-strong" }, svg, `threshold ${threshold.toFixed(2)}`);
  }
  const legend = document.createElement("div");
  legend.className = "legend";
  legend.innerHTML = '<span><i class="sw-shipped"></i>shipped</span><span><i class="sw-escalated"></i>escalated</span>';
  container.appendChild(legend);
}
