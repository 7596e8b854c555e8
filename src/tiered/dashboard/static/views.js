// The panels that are text and tables: headline figures, reasons, threshold history, alerts, decisions,
// and the drill-down into one decision. Everything from the server is set as text, never as HTML.
import { api } from "./api.js";
import { DASH, columnMoney, conf, count, dateTime, money, ms, pct, sharedDigits, time, weightNote } from "./format.js";

export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

function setKpi(name, text, value) {
  const node = document.querySelector(`[data-kpi="${name}"]`);
  node.textContent = text;
  node.classList.toggle("long", node.classList.contains("value") && text.length > 8);
  if (value !== undefined) node.dataset.value = value === null ? "" : String(value);
  return node;
}

export function renderKpis(o, q, storm) {
  setKpi("calls", count(o.calls), o.calls);
  const parts = [`${count(o.routed_calls)} routed`];
  if (o.passthrough_calls) parts.push(`${count(o.passthrough_calls)} passthrough`);
  if (o.failed_calls) parts.push(`${count(o.failed_calls)} failed`);
  setKpi("calls-sub", parts.join(" · "));
  setKpi("escalation", pct(o.escalation_rate), o.escalation_rate);
  setKpi("escalation-sub", `${count(o.escalated_calls)} escalated · ${count(o.shipped_calls)} shipped`);
  const esc = document.querySelector('[data-kpi="escalation"]').closest(".kpi");
  esc.classList.toggle("alarm", o.escalation_rate != null && o.escalation_rate > storm);
  const c = o.cost;
  const digits = sharedDigits([c.actual_usd, c.counterfactual_usd, c.savings_usd]);
  setKpi("actual", money(c.actual_usd, digits), c.actual_usd);
  setKpi("actual-sub", c.unknown_cost_calls ? `${count(c.unknown_cost_calls)} calls of unknown cost` : "");
  setKpi("counterfactual", money(c.counterfactual_usd, digits), c.counterfactual_usd);
  const saved = setKpi("savings", money(c.savings_usd, digits), c.savings_usd).closest(".kpi");
  saved.classList.toggle("good", c.savings_usd > 0);
  saved.classList.toggle("alarm", c.savings_usd < 0);
  const ofFinal = c.savings_pct == null ? "" : `${c.savings_pct.toFixed(1)}% of all-final-tier`;
  // the savings are net of the cache penalty: the cascade's cold final-tier prompt cache, inside the actual cost
  const penalty = c.cache_penalty_usd ? `net of ${money(c.cache_penalty_usd, digits)} cache penalty` : "";
  setKpi("savings-pct", [ofFinal, penalty].filter(Boolean).join(" · "), c.savings_pct);
  renderQualityKpis(q);
}

function renderQualityKpis(q) {
  const fc = q.false_confident;
  setKpi("false-confident", fc ? pct(fc.rate) : DASH, fc ? fc.rate : null);
  const target = q.target == null ? "" : ` · target ${pct(q.target)}`;
  setKpi("false-confident-sub", fc ? `bound ${pct(fc.upper_bound)}${target} · ${count(fc.n)} graded` : `no grades yet${target}`);
  const box = document.querySelector('[data-kpi="false-confident"]').closest(".kpi");
  box.classList.toggle("alarm", Boolean(fc && fc.over_target));
  const values = Object.values(q.thresholds || {});
  if (q.threshold == null && values.length) {
    const lo = Math.min(...values);
    const hi = Math.max(...values);
    setKpi("threshold", `${lo.toFixed(2)}–${hi.toFixed(2)}`, null);
    setKpi("threshold-sub", `across ${values.length} routes: pick one`);
  } else {
    setKpi("threshold", q.threshold == null ? DASH : q.threshold.toFixed(2), q.threshold);
    const since = q.threshold_changed_at ? `since ${dateTime(q.threshold_changed_at)}` : "configured";
    setKpi("threshold-sub", q.ceiling == null ? since : `${since} · ${q.at_ceiling ? "at its " : ""}ceiling ${q.ceiling.toFixed(2)}`);
  }
}

export function renderQuality(container, q) {
  const fc = q.false_confident;
  const controller = ceilingNote(q);
  if (!fc) {
    container.replaceChildren(
      h("p", { class: "muted", text: "No graded shipped answers in this window yet. Grade audit samples in the Grading view, or let the judge do it." }),
      controller,
    );
    return;
  }
  const over = fc.over_target;
  const scale = Math.max(q.target || 0, fc.upper_bound || 0, fc.rate || 0) * 1.25 || 1;
  const at = (v) => `${Math.min(100, (100 * v) / scale).toFixed(1)}%`;
  const gauge = h("div", { class: "gauge", role: "img",
    "aria-label": `rate ${pct(fc.rate)}, upper bound ${pct(fc.upper_bound)}${q.target == null ? "" : `, target ${pct(q.target)}`}` });
  const fill = h("div", { class: "fill" });
  fill.style.width = at(fc.rate);
  // the bound's label above the bar, the target's below it, so the two never cover each other
  const bound = h("div", { class: "bound", "data-marker": "bound" }, h("span", { text: `bound ${pct(fc.upper_bound)}` }));
  bound.style.left = at(fc.upper_bound);
  gauge.append(fill, bound);
  if (q.target != null) {
    const target = h("div", { class: "target", "data-marker": "target" }, h("span", { text: `target ${pct(q.target)}` }));
    target.style.left = at(q.target);
    gauge.append(target);
  }
  const level = fc.level == null ? "" : ` (${Math.round(fc.level * 100)}% one-sided)`;
  container.replaceChildren(
    h("div", { class: "fc-figure" },
      h("span", { class: "fc-rate", "data-quality": "rate", text: pct(fc.rate) }),
      h("span", { class: over ? "over" : "ok", "data-quality": "verdict",
        text: q.target == null ? "" : over ? "bound over target" : "bound within target" })),
    gauge,
    h("p", { class: "muted small", text: `${count(fc.wrong)} wrong of ${count(fc.n)} graded shipped answers in the window · upper bound ${pct(fc.upper_bound)}${level}` }),
    controller,
  );
}

// What the threshold controller can still do about it, and whether the alert is telling people.
function ceilingNote(q) {
  const parts = [];
  if (q.threshold != null && q.ceiling != null) {
    parts.push(q.at_ceiling
      ? `Threshold ${q.threshold.toFixed(2)} is at its ceiling ${q.ceiling.toFixed(2)}: the controller cannot raise it further.`
      : `Threshold ${q.threshold.toFixed(2)}, ceiling ${q.ceiling.toFixed(2)}: the controller raises it one step while the bound on answers shipped at the threshold in force is over target.`);
  }
  const a = q.alert;
  const alert = a ? h("p", { class: "small over", "data-quality": "alert",
    text: `False-confident alert open since ${dateTime(a.created_at)}${a.route ? ` (${a.route})` : ""}.` }) : null;
  return h("div", { class: "fc-controller" }, h("p", { class: "muted small", "data-quality": "ceiling", text: parts.join(" ") }), alert);
}

export function renderReasons(container, o) {
  if (!o.reasons.length) {
    container.replaceChildren(h("p", { class: "muted", text: "No escalations in this window." }));
    return;
  }
  const rows = o.reasons.map((r) => {
    const bar = h("span");
    bar.style.width = `${(r.share * 100).toFixed(1)}%`;
    return h("div", { class: "row" }, h("span", { text: r.reason }), h("div", { class: "track" }, bar),
      h("span", { class: "num", text: count(r.calls) }));
  });
  container.replaceChildren(h("div", { class: "bars" }, ...rows));
}

export function renderThresholds(container, changes) {
  if (!changes.length) {
    container.replaceChildren(h("p", { class: "muted", text: "No threshold changes recorded: the configured thresholds apply." }));
    return;
  }
  const items = changes.map((c) =>
    h("li", {},
      h("div", {}, h("strong", { text: `${c.old_threshold == null ? "?" : c.old_threshold.toFixed(2)} → ${c.new_threshold.toFixed(2)}` }),
        h("span", { class: "muted", text: `  ${c.route}${c.tier == null ? "" : ` · tier ${c.tier}`}` })),
      h("div", { class: "small", text: c.reason }),
      h("div", { class: "meta", text: dateTime(c.created_at) })));
  container.replaceChildren(h("ul", { class: "list" }, ...items));
}

export function renderAlerts(container, alerts) {
  if (!alerts.length) {
    container.replaceChildren(h("p", { class: "muted", text: "No alerts." }));
    return;
  }
  const items = alerts.map((a) =>
    h("li", { class: `sev-${a.severity}` },
      h("div", {}, h("strong", { text: a.kind }), h("span", { class: "muted", text: `  ${a.route || "all routes"} · ${a.severity}` })),
      h("div", { class: "small", text: a.message }),
      h("div", { class: "meta", text: `${dateTime(a.created_at)}${a.resolved_at ? ` · resolved ${dateTime(a.resolved_at)}` : " · open"}` })));
  container.replaceChildren(h("ul", { class: "list" }, ...items));
}

function outcomeBadge(d) {
  const label = d.outcome === "escalated" && d.reason ? `escalated: ${d.reason}` : d.outcome;
  return h("span", { class: `badge b-${d.outcome}`, text: label });
}

export function renderDecisions(tbody, rows, filtered = false) {
  if (!rows.length) {
    const text = filtered ? "No decisions in this window match the filter." : "No decisions in this window.";
    tbody.replaceChildren(h("tr", {}, h("td", { colspan: "10", class: "muted", text })));
    return;
  }
  const cost = columnMoney(rows.flatMap((d) => [d.cost_usd, d.counterfactual_cost_usd]));
  tbody.replaceChildren(
    ...rows.map((d) =>
      h("tr", { class: "click", tabindex: "0", "data-id": d.id, onclick: () => openDetail(d.id),
        onkeydown: (e) => { if (e.key === "Enter") openDetail(d.id); } },
        h("td", { text: time(d.created_at), title: d.created_at }),
        h("td", { text: d.route || "passthrough" }),
        h("td", {}, outcomeBadge(d)),
        h("td", { text: d.answered_by || DASH }),
        h("td", { class: "num", text: conf(d.confidence) }),
        h("td", { class: "num", text: `${count(d.input_tokens)} / ${count(d.output_tokens)}` }),
        h("td", { class: "num", text: cost(d.cost_usd) }),
        h("td", { class: "num", text: cost(d.counterfactual_cost_usd) }),
        h("td", { class: "num", text: ms(d.latency_ms) }),
        h("td", { class: d.verdict ? `v-${d.verdict}` : "muted", text: d.verdict || (d.audit === "pending" ? "audit pending" : "") }))),
  );
}

function facts(pairs) {
  // each label with its value in one grid cell, so a pair is never split across two rows
  return h("dl", { class: "facts" }, ...pairs.map(([k, v]) => h("div", {}, h("dt", { text: k }), h("dd", { text: v }))));
}

function textBlock(title, text) {
  return h("div", {}, h("h4", { text: title }),
    text == null ? h("p", { class: "muted small", text: "Not stored (text is kept only for audit samples, or with store_content on)." })
      : h("pre", { class: "text", text }));
}

export async function openDetail(id) {
  const dialog = document.getElementById("detail");
  const body = document.getElementById("detail-body");
  document.getElementById("detail-title").textContent = `Decision ${id}`;
  body.replaceChildren(h("p", { class: "muted", text: "Loading…" }));
  if (!dialog.open) dialog.showModal();
  let d;
  try {
    d = await api.decision(id);
  } catch (err) {
    body.replaceChildren(h("p", { class: "error", text: err.message }));
    return;
  }
  const u = d.usage || {};
  const digits = sharedDigits([d.cost_usd, d.counterfactual_cost_usd, d.savings_usd]);
  const spent = columnMoney((d.attempts || []).map((a) => a.cost_usd));
  const head = facts([
    ["Time", dateTime(d.created_at)], ["Route", d.route || "passthrough"], ["Answered by", d.answered_by || DASH],
    ["Escalated", d.escalated ? `yes: ${d.reason}` : "no"], ["Confidence", conf(d.confidence)],
    ["Threshold", conf(d.threshold)], ["Tokens in / out", `${count(u.input_tokens)} / ${count(u.output_tokens)}`],
    ["Cost", money(d.cost_usd, digits)], ["All-final-tier cost", money(d.counterfactual_cost_usd, digits)],
    ["Savings", money(d.savings_usd, digits)], ["Latency", ms(d.latency_ms)], ["Stream", d.stream ? "yes" : "no"],
  ]);
  const attempts = h("table", { class: "table", "data-detail": "attempts" },
    h("thead", {}, h("tr", {}, ...["#", "Tier", "Model", "Role", "Outcome", "Confidence", "Reason", "Tokens in / out",
      "Cost", "Latency", "First token", "Stop", "Status"].map((t) => h("th", { text: t })))),
    h("tbody", {}, ...(d.attempts || []).map((a, i) => {
      const au = a.usage || {};
      const tin = (au.input_tokens || 0) + (au.cache_read_input_tokens || 0) + (au.cache_creation_input_tokens || 0);
      return h("tr", {}, h("td", { text: String(i + 1) }), h("td", { text: String(a.tier) }), h("td", { text: a.model }),
        h("td", { text: a.role }), h("td", { text: a.outcome }), h("td", { class: "num", text: conf(a.confidence) }),
        h("td", { class: "wrap", text: a.reason || (a.error ? a.error.slice(0, 200) : "") }),
        h("td", { class: "num", text: `${count(tin)} / ${count(au.output_tokens)}` }),
        h("td", { class: "num", text: spent(a.cost_usd) }), h("td", { class: "num", text: ms(a.latency_ms) }),
        h("td", { class: "num", text: ms(a.first_token_ms) }), h("td", { text: a.stop_reason || "" }),
        h("td", { text: a.status == null ? "" : String(a.status) }));
    })));
  const grades = (d.grades || []).map((g) =>
    h("li", {}, h("strong", { class: `v-${g.verdict}`, text: g.verdict }),
      h("span", { class: "muted", text: `  by ${g.grader_kind}${g.grader ? ` (${g.grader})` : ""} · ${dateTime(g.created_at)}` }),
      g.reason ? h("div", { class: "small", text: g.reason }) : null,
      weightNote(g.weight) ? h("div", { class: "meta", text: weightNote(g.weight) }) : null));
  // why the request was not triaged (reason "capability"): the feature and the model, a sentence too long for a fact
  const why = d.reason_detail ? [h("p", { class: "small", "data-detail": "reason", text: `Not triaged (${d.reason}): ${d.reason_detail}` })] : [];
  body.replaceChildren(
    head,
    ...why,
    h("h4", { text: "Attempts" }),
    h("div", { class: "table-wrap" }, attempts),
    h("h4", { text: "Grades" }),
    grades.length ? h("ul", { class: "list" }, ...grades) : h("p", { class: "muted small", text: d.audit ? `Audit sample: ${d.audit.status}.` : "Not graded." }),
    h("div", { class: "pair" }, textBlock("Request", d.request), textBlock("Answer", d.answer_text)),
  );
}
