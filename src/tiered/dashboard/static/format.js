// How figures are written on the page (docs/dashboard.md repeats these rules; the browser tests rely on them).

export const DASH = "–";

export function count(n) {
  return n == null ? DASH : Math.round(n).toLocaleString("en-US");
}

// Percent with one decimal: 0.3512 -> "35.1%".
export function pct(x) {
  return x == null ? DASH : `${(x * 100).toFixed(1)}%`;
}

// Money follows tiered.formatting (the CLI and the report use it; a browser test holds the two together): the
// sign before the symbol (-$0.0013), and the precision its size calls for: $1,234 / $12.34 / $0.1234 / $0.001234.
export function moneyDigits(v) {
  const a = Math.abs(v);
  if (a >= 100) return 0;
  if (a >= 1) return 2;
  if (a >= 0.01 || a === 0) return 4;
  return 6;
}

// Amounts shown together (the cost figures, a table's cost columns) share the precision of the largest, so
// $0.9917 never sits beside $1.23.
export function sharedDigits(values) {
  const known = values.filter((v) => v != null && Number.isFinite(v)).map(Math.abs);
  return known.length ? moneyDigits(Math.max(...known)) : 4;
}

// toFixed rounds the exact binary value, as Python does, but an exact tie up, where Python rounds it to even.
function fixed(a, places) {
  const scaled = a * 10 ** places;
  if (Number.isInteger(scaled * 2) && !Number.isInteger(scaled) && Math.floor(scaled) % 2 === 0) {
    return (Math.floor(scaled) / 10 ** places).toFixed(places);
  }
  return a.toFixed(places);
}

function grouped(text) {
  const [whole, fraction] = text.split(".");
  const withCommas = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return fraction === undefined ? withCommas : `${withCommas}.${fraction}`;
}

export function money(v, digits) {
  if (v == null || !Number.isFinite(v)) return DASH;
  const places = digits == null ? moneyDigits(v) : digits;
  const text = grouped(fixed(Math.abs(v), places));
  // an amount that rounds to zero is written without a sign: "-$0.00" reads as a loss
  return `${v < 0 && /[1-9]/.test(text) ? "-" : ""}$${text}`;
}

// A table column's money: the column's shared precision, except for an amount that would round to zero at it
// (a $0.0012 call beside a $1.50 one reads $0.0012, not $0.00).
export function columnMoney(values) {
  const digits = sharedDigits(values);
  return (v) => (v != null && v !== 0 && Math.abs(v) < 0.5 * 10 ** -digits ? money(v) : money(v, digits));
}

// "(weight 0.05)" in words: how much of an answer the grade counts for, and why.
export function weightNote(weight) {
  if (weight == null || Math.abs(weight - 1) < 1e-9) return "";
  const how = weight < 1 ? `${+(1 / weight).toPrecision(3)}× as often` : `1/${+weight.toPrecision(3)} as often`;
  return `weight ${+weight.toPrecision(3)}: answers like this are audited ${how} as the route's base rate, `
    + `so a grade counts as ${+weight.toPrecision(3)} of an answer in the false-confident rate`;
}

export function conf(x) {
  return x == null ? DASH : x.toFixed(2);
}

export function ms(x) {
  if (x == null) return DASH;
  return x >= 10000 ? `${(x / 1000).toFixed(1)} s` : `${Math.round(x).toLocaleString("en-US")} ms`;
}

export function time(iso) {
  if (!iso) return DASH;
  const d = new Date(iso);
  return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

export function dateTime(iso) {
  if (!iso) return DASH;
  const d = new Date(iso);
  const today = new Date();
  const sameDay = d.toDateString() === today.toDateString();
  return sameDay ? time(iso) : `${d.toLocaleDateString([], { month: "short", day: "numeric" })} ${time(iso)}`;
}

export function ago(date) {
  const s = Math.max(0, Math.round((Date.now() - date.getTime()) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  return `${Math.floor(s / 3600)}h ago`;
}

// Axis labels for a bucket start, coarse enough for the window.
export function tick(iso, bucketSeconds) {
  const d = new Date(iso);
  if (bucketSeconds >= 86400) return d.toLocaleDateString([], { month: "short", day: "numeric" });
  if (bucketSeconds >= 3600) {
    return `${d.toLocaleDateString([], { day: "numeric" })} ${d.toLocaleTimeString([], { hour: "2-digit" })}`;
  }
  return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}
