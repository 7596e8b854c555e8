// How figures are written on the page (docs/dashboard.md repeats these rules; the browser tests rely on them).

export const DASH = "–";

export function count(n) {
  return n == null ? DASH : Math.round(n).toLocaleString("en-US");
}

// Percent with one decimal: 0.3512 -> "35.1%".
export function pct(x) {
  return x == null ? DASH : `${(x * 100).toFixed(1)}%`;
}

// Dollars with the precision the size calls for: $1,234 / $12.34 / $0.1234 / $0.001234.
export function money(v) {
  if (v == null) return DASH;
  const a = Math.abs(v);
  let text;
  if (a >= 100) text = Math.round(a).toLocaleString("en-US");
  else if (a >= 1) text = a.toFixed(2);
  else if (a >= 0.01 || a === 0) text = a.toFixed(4);
  else text = a.toFixed(6);
  return `${v < 0 ? "-" : ""}$${text}`;
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
