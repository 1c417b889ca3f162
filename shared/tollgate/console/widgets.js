// Quota bars and usage charts. A bar's colour follows its status and the status is also written
// out (colour is never the only signal); a chart is an SVG with a text summary and a data table.
import { fmtNumber, h, nextId } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";

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

function svg(tag, attrs) {
  const el = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, String(value));
  return el;
}

// Bars of series points [{start, end, value}]: an SVG (role img, labelled by a summary) and the
// same numbers as a table in a <details>.
export function barChart(title, series) {
  const values = series.map((p) => Number(p.value) || 0);
  const max = Math.max(1, ...values);
  const total = values.reduce((a, b) => a + b, 0);
  const width = 600, height = 160, pad = 4;
  const step = series.length ? (width - 2 * pad) / series.length : 0;
  const summaryId = nextId("chart");
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-labelledby": summaryId, class: "chart", preserveAspectRatio: "none" });
  chart.append(svg("line", { x1: 0, y1: height, x2: width, y2: height, class: "axis" }));
  series.forEach((point, i) => {
    const barHeight = (values[i] / max) * (height - 10);
    const rect = svg("rect", { x: pad + i * step + 1, y: height - barHeight, width: Math.max(1, step - 2), height: barHeight, class: "series" });
    const tip = document.createElementNS(SVG, "title");
    tip.textContent = `${point.start.slice(0, 10)}: ${fmtNumber(point.value)}`;
    rect.append(tip);
    chart.append(rect);
  });
  const first = series.length ? series[0].start.slice(0, 10) : "";
  const last = series.length ? series[series.length - 1].start.slice(0, 10) : "";
  const summary = `${title}: ${series.length} points from ${first || "—"} to ${last || "—"}, total ${fmtNumber(total)}, peak ${fmtNumber(series.length ? Math.max(...values) : 0)}`;
  const rows = series.map((p) => h("tr", {}, h("th", { scope: "row" }, p.start.slice(0, 10)), h("td", {}, fmtNumber(p.value))));
  return h(
    "figure", { class: "chart-figure" },
    chart,
    h("figcaption", { id: summaryId }, summary),
    h("details", {}, h("summary", {}, `${title} as a table`),
      h("table", {}, h("caption", {}, title),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Start"), h("th", { scope: "col" }, "Value"))),
        h("tbody", {}, rows))),
  );
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
