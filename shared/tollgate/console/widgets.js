// Quota bars and the series helpers of the usage charts (chart.js draws them). A bar's colour
// follows its status and the status is also written out (colour is never the only signal).
import { fmtNumber, h } from "./dom.js";

export function quotaBar(q) {
  const percent = Number(q.percent);
  const label = `${q.meter} per ${q.window}: ${fmtNumber(q.used)} of ${fmtNumber(q.limit)} (${percent.toFixed(1)} %), ${q.status}`;
  const fill = h("span", { class: "fill" });
  fill.style.width = `${Math.min(100, Math.max(0, percent))}%`; // CSSOM, which the CSP allows
  return h(
    "div", { class: `quota status-${q.status}`, "data-meter": q.meter, "data-window": q.window },
    h("div", {
      class: "bar", role: "progressbar", "aria-valuemin": 0, "aria-valuemax": 100,
      "aria-valuenow": Math.min(100, percent).toFixed(1), "aria-label": label,
    }, fill),
    h("span", { class: "quota-label" }, label),
  );
}

export function quotaBars(quotas) {
  if (!quotas.length) return h("p", { class: "empty" }, "No limits.");
  return h("div", { class: "quotas" }, quotas.map(quotaBar));
}

// Daily points summed into weeks starting on Monday (UTC dates of the points' starts).
export function weekly(series) {
  const weeks = new Map();
  for (const point of series) {
    const day = new Date(point.start.slice(0, 10) + "T00:00:00Z");
    day.setUTCDate(day.getUTCDate() - ((day.getUTCDay() + 6) % 7));
    const key = day.toISOString().slice(0, 10);
    const week = weeks.get(key) || { start: key, end: point.end, value: 0 };
    week.value += Number(point.value) || 0;
    week.end = point.end;
    weeks.set(key, week);
  }
  return [...weeks.values()].map((w) => ({ ...w, value: String(w.value) }));
}

// Every day (or month) from `from` to `to` (YYYY-MM-DD, inclusive), with the series' value or 0:
// a day without usage is a gap in the chart, not a missing bar. Keys are the points' local dates.
export function dense(series, from, to, window) {
  const width = window === "month" ? 7 : 10;
  const values = new Map(series.map((p) => [p.start.slice(0, width), p]));
  const out = [];
  const day = new Date(`${from}T00:00:00Z`);
  const last = new Date(`${to}T00:00:00Z`);
  while (day <= last && out.length < 1000) {
    const key = day.toISOString().slice(0, width);
    if (!out.length || out[out.length - 1].start.slice(0, width) !== key) {
      out.push(values.get(key) || { start: key, end: key, value: "0" });
    }
    day.setUTCDate(day.getUTCDate() + 1);
  }
  return out;
}
