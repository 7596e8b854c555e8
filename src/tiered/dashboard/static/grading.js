// The grading view: audit samples waiting for a verdict, request and answer side by side.
// A verdict is POSTed to the dashboard API, which records it like every other grade (grader kind "human").
import { api } from "./api.js";
import { conf, dateTime } from "./format.js";
import { h } from "./views.js";

const VERDICTS = [
  ["correct", "Correct", "c"],
  ["incorrect", "Wrong", "w"],
  ["unsure", "Unsure", "u"],
];

function block(title, text) {
  return h("div", {}, h("h4", { text: title }),
    text == null ? h("p", { class: "muted small", text: "Text not stored for this sample." }) : h("pre", { class: "text", text }));
}

export function renderAudits(container, audits, { admin, onGraded }) {
  if (!admin) {
    container.replaceChildren(h("p", { class: "muted",
      text: "Grading needs an admin key (grades move the route's threshold for everyone). Sign in with one to grade." }));
    return;
  }
  if (!audits.length) {
    container.replaceChildren(h("p", { class: "muted", text: "Nothing waiting: every audit sample has a verdict." }));
    return;
  }
  // keep what the operator is typing: rebuild only cards that are new
  const existing = new Map([...container.querySelectorAll(".audit")].map((n) => [n.dataset.id, n]));
  const cards = audits.map((a) => existing.get(a.decision_id) || card(a, onGraded));
  container.replaceChildren(...cards);
}

function card(a, onGraded) {
  const reason = h("input", { type: "text", placeholder: "reason (optional)", "aria-label": "reason" });
  const status = h("span", { class: "muted small", role: "status" });
  const buttons = VERDICTS.map(([verdict, label, key]) =>
    h("button", { type: "button", class: verdict, "data-verdict": verdict, title: `${label} (${key})`,
      onclick: () => submit(verdict) }, label));
  const node = h("article", { class: "audit", "data-id": a.decision_id },
    h("div", { class: "meta", text: `${dateTime(a.created_at)} · ${a.route} · ${a.answered_by || "?"} · confidence ${conf(a.confidence)} · ${a.decision_id}` }),
    h("div", { class: "pair" }, block("Request", a.request), block("Answer", a.answer_text)),
    h("div", { class: "verdicts" }, ...buttons, reason, status));

  async function submit(verdict) {
    for (const b of buttons) b.disabled = true;
    status.textContent = "saving…";
    try {
      await api.grade(a.decision_id, verdict, reason.value.trim());
      node.remove();
      onGraded(verdict);
    } catch (err) {
      status.textContent = err.message;
      status.className = "error small";
      for (const b of buttons) b.disabled = false;
    }
  }
  return node;
}

// c / w / u grade the first card, unless the operator is typing somewhere.
export function gradingKeys(event) {
  if (event.target instanceof HTMLInputElement || event.metaKey || event.ctrlKey || event.altKey) return;
  const first = document.querySelector("#view-grading:not([hidden]) .audit");
  if (!first) return;
  const match = VERDICTS.find(([, , key]) => key === event.key);
  if (match) first.querySelector(`button[data-verdict="${match[0]}"]`).click();
}
