// The shadow-projection panel: per route and slice, what a shadow route would ship, save and get wrong at each
// candidate threshold (tiered.quality.projection), and the threshold `tiered backtest --from-log` recommends.
// Hidden while no route has shadow results. Everything from the server is set as text, never as HTML.
import { count, pct } from "./format.js";
import { h } from "./views.js";

function recommendation(rec) {
  if (!rec) return null;
  const head = rec.met ? `Recommended threshold ${rec.threshold.toFixed(2)}` : "No threshold recommended";
  return h("p", { class: "small", "data-shadow": "recommendation" },
    h("strong", { text: head }), h("span", { class: "muted", text: ` · ${rec.message}` }));
}

function table(p) {
  const rows = p.points.map((pt) =>
    h("tr", { "data-threshold": pt.threshold.toFixed(2), class: pt.upper_bound > p.target ? "over" : "" },
      h("td", { class: "num", text: pt.threshold.toFixed(2) }),
      h("td", { class: "num", text: pct(pt.ship_rate) }),
      h("td", { class: "num", text: pct(pt.savings_share) }),
      h("td", { class: "num", text: pct(pt.false_confident_rate) }),
      h("td", { class: "num", text: pct(pt.upper_bound) }),
      h("td", { class: "num", text: `${count(pt.wrong)} / ${count(pt.graded)}` })));
  return h("div", { class: "table-wrap" }, h("table", { class: "table" },
    h("thead", {}, h("tr", {},
      h("th", { class: "num", text: "Threshold" }), h("th", { class: "num", text: "Ship rate" }),
      h("th", { class: "num", text: "Savings" }), h("th", { class: "num", text: "False-confident" }),
      h("th", { class: "num", text: `Bound (${Math.round(p.level * 100)}%)` }), h("th", { class: "num", text: "Wrong / graded" }))),
    h("tbody", {}, ...rows)));
}

export function renderShadow(panel, container, projections) {
  panel.hidden = !projections.length;
  const blocks = projections.map((p) =>
    h("div", { class: "shadow", "data-route": p.route, "data-slice": p.slice || "" },
      h("h4", { text: `${p.route}${p.slice ? ` · slice ${p.slice}` : " · all slices"}` },
        h("span", { class: "muted small", text: ` · ${count(p.n)} requests · target ${pct(p.target)}` })),
      table(p),
      recommendation(p.recommendation)));
  container.replaceChildren(...blocks);
}
