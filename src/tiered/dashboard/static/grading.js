// The grading view: audit samples waiting for a verdict, request and answer side by side.
// A verdict is POSTed to the dashboard API, which records it like every other grade (grader kind "human").
// The keys are those of `tiered grade` (tiered.quality.grade_command.KEYS; a browser test holds them together).
// A stray key must not move a threshold for everyone: a verdict that would make the controller move a route's
// threshold comes back unrecorded, with the move, and is recorded only when confirmed by a click; and every
// grade given here can be undone (the z key undoes the newest).
import { api } from "./api.js";
import { conf, dateTime, weightNote } from "./format.js";
import { h } from "./views.js";

export const VERDICTS = [
  ["correct", "Correct", "c"],
  ["incorrect", "Wrong", "w"],
  ["unsure", "Unsure", "u"],
];
export const SKIP_KEY = "s";
export const UNDO_KEY = "z";
const KEEP_UNDOABLE = 5;

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
  const skipped = new Set(container.dataset.skipped ? container.dataset.skipped.split(" ") : []);
  const waiting = audits.filter((a) => !document.querySelector(`#graded [data-id="${CSS.escape(a.decision_id)}"]`));
  if (!waiting.length) {
    container.replaceChildren(h("p", { class: "muted", text: "Nothing waiting: every audit sample has a verdict." }));
    return;
  }
  // keep what the operator is typing: rebuild only cards that are new; skipped samples go last
  const existing = new Map([...container.querySelectorAll(".audit")].map((n) => [n.dataset.id, n]));
  const ordered = [...waiting.filter((a) => !skipped.has(a.decision_id)), ...waiting.filter((a) => skipped.has(a.decision_id))];
  container.replaceChildren(...ordered.map((a) => existing.get(a.decision_id) || card(a, onGraded)));
}

function card(a, onGraded) {
  const reason = h("input", { type: "text", placeholder: "reason (optional)", "aria-label": "reason" });
  const status = h("span", { class: "muted small", role: "status" });
  const confirm = h("div", { class: "confirm", hidden: true });
  const buttons = VERDICTS.map(([verdict, label, key]) =>
    h("button", { type: "button", class: verdict, "data-verdict": verdict, title: `${label} (${key})`,
      onclick: () => submit(verdict, false) }, label));
  const weight = weightNote(a.weight);
  const node = h("article", { class: "audit", "data-id": a.decision_id },
    h("div", { class: "meta", text: `${dateTime(a.created_at)} · ${a.route} · ${a.answered_by || "?"} · confidence ${conf(a.confidence)} · ${a.decision_id}` }),
    weight ? h("div", { class: "meta", "data-weight": String(a.weight), text: weight }) : null,
    h("div", { class: "pair" }, block("Request", a.request), block("Answer", a.answer_text)),
    h("div", { class: "verdicts" }, ...buttons, reason, status),
    confirm);

  const enable = (on) => { for (const b of buttons) b.disabled = !on; };
  async function submit(verdict, confirmMove) {
    enable(false);
    confirm.hidden = true;
    status.className = "muted small";
    status.textContent = "saving…";
    try {
      const answer = await api.grade(a.decision_id, verdict, reason.value.trim(), confirmMove);
      if (answer.needs_confirmation) return askToConfirm(verdict, answer.needs_confirmation);
      node.remove();
      addGraded(a, answer.grade, answer.threshold_move, onGraded);
      onGraded(verdict);
    } catch (err) {
      status.textContent = err.message;
      status.className = "error small";
      enable(true);
    }
  }
  function askToConfirm(verdict, move) {
    status.textContent = "not recorded yet";
    const label = VERDICTS.find(([v]) => v === verdict)[1];
    confirm.replaceChildren(
      h("p", { class: "small", text: `Recording "${label}" would make the threshold controller ${move.action} route `
        + `${move.route}'s threshold ${move.old.toFixed(2)} → ${move.new.toFixed(2)} for everyone at its next run.` }),
      h("button", { type: "button", class: "primary", "data-confirm": "keep", onclick: () => submit(verdict, true) },
        `Record "${label}" and ${move.action} it`),
      h("button", { type: "button", class: "link", "data-confirm": "cancel", onclick: () => {
        confirm.hidden = true;
        status.textContent = "nothing recorded";
        enable(true);
      } }, "Cancel"));
    confirm.hidden = false;
  }
  return node;
}

// A grade just given: what it was, what it counts for, and an undo.
function addGraded(a, grade, move, onGraded) {
  const list = document.getElementById("graded");
  const label = VERDICTS.find(([v]) => v === grade.verdict)[1];
  const status = h("span", { class: "muted small", role: "status" });
  const moved = move ? ` · the controller will ${move.action} route ${move.route}'s threshold ${move.old.toFixed(2)} → ${move.new.toFixed(2)}` : "";
  const row = h("div", { class: "graded", "data-id": a.decision_id },
    h("span", { class: `v-${grade.verdict}`, text: `Graded ${label}` }),
    h("span", { class: "muted small", text: ` · ${a.route} · ${a.decision_id}${moved}` }),
    h("button", { type: "button", class: "link", "data-undo": a.decision_id, title: `Undo (${UNDO_KEY})`, onclick: undo }, "Undo"),
    status);
  async function undo() {
    status.textContent = "undoing…";
    try {
      await api.undoGrade(a.decision_id);
      row.remove();
      onGraded(null);
    } catch (err) {
      status.textContent = err.message;
      status.className = "error small";
    }
  }
  list.prepend(row);
  while (list.children.length > KEEP_UNDOABLE) list.lastElementChild.remove();
}

function skipFirst(first) {
  const container = document.getElementById("audits");
  const skipped = new Set(container.dataset.skipped ? container.dataset.skipped.split(" ") : []);
  skipped.add(first.dataset.id);
  container.dataset.skipped = [...skipped].join(" ");
  container.append(first);
}

// c / w / u grade the first card, s skips it, z undoes the newest grade, unless the operator is typing.
export function gradingKeys(event) {
  if (event.target instanceof HTMLInputElement || event.metaKey || event.ctrlKey || event.altKey) return;
  if (document.querySelector("#view-grading[hidden]")) return;
  if (event.key === UNDO_KEY) {
    const newest = document.querySelector("#graded [data-undo]");
    if (newest) newest.click();
    return;
  }
  const first = document.querySelector("#view-grading .audit");
  if (!first || first.querySelector(".confirm:not([hidden])")) return; // a move waits for a click, not a key
  if (event.key === SKIP_KEY) return skipFirst(first);
  const match = VERDICTS.find(([, , key]) => key === event.key);
  if (match) first.querySelector(`button[data-verdict="${match[0]}"]`).click();
}
