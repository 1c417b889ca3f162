// Usage charts, drawn by uPlot (vendor/uplot, MIT; docs/console.md): bars on a canvas, one per
// point, sized from the container's width and re-sized with it. The canvas is decoration for
// sighted readers (aria-hidden); the figure is named by a text summary and holds the same
// numbers as a table, the screen-reader alternative.
import uPlot from "./vendor/uplot/uPlot.esm.js";
import { fmtNumber, h, nextId } from "./dom.js";

const HEIGHT = 200;
const DAY_S = 86400;
const SPAN_S = { day: DAY_S, week: 7 * DAY_S, month: 30 * DAY_S }; // a point's width, about

// A point's x: the calendar date its `start` names (YYYY-MM-DD..., or YYYY-MM for a month) as
// seconds at UTC midnight. The axis is drawn in UTC, so it reads the series' own dates (in the
// series' zone) whatever the browser's zone is.
export function dayOf(start) {
  const [year, month, day] = start.slice(0, 10).split("-").map(Number);
  return Date.UTC(year, month - 1, day || 1) / 1000;
}

const cssVar = (name, fallback) => getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;

// Weeks, months or a single point: a tick under each bar, labelled like the table's rows (every
// other label or fewer when they would not fit). Days keep uPlot's own time ticks.
function pointTicks(axis, xs, unit) {
  const label = (ts) => new Date(ts * 1000).toISOString().slice(unit === "month" ? 0 : 5, unit === "month" ? 7 : 10);
  const values = (u, splits) => {
    const every = Math.max(1, Math.ceil((splits.length * 64) / Math.max(1, u.bbox.width / uPlot.pxRatio)));
    return splits.map((ts, i) => (i % every ? null : label(ts)));
  };
  return { ...axis, splits: () => xs, values };
}

function options(title, width, xs, unit) {
  const accent = cssVar("--accent", "#0b5cad"), muted = cssVar("--muted", "#57606a"), line = cssVar("--line", "#d0d7de");
  const half = (SPAN_S[unit] || DAY_S) / 2; // room for the first and last bars
  const axis = { stroke: muted, grid: { stroke: line, width: 1 }, ticks: { stroke: line, width: 1 } };
  return {
    width, height: HEIGHT,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"),
    cursor: { drag: { x: false, y: false, setScale: false } }, // hover reads a bar; no zoom
    legend: { live: true },
    scales: {
      x: { time: true, range: () => [xs[0] - half, xs[xs.length - 1] + half] }, // one point too
      y: { range: (u, min, max) => uPlot.rangeNum(0, Math.max(1, max), 0.1, true) },
    },
    axes: [unit !== "day" || xs.length === 1 ? pointTicks(axis, xs, unit) : axis, { ...axis, size: 64, values: (u, splits) => splits.map((v) => fmtNumber(v)) }],
    series: [
      { label: "Start", value: "{YYYY}-{MM}-{DD}" },
      {
        label: title, stroke: accent, fill: accent, width: 0, points: { show: false },
        paths: uPlot.paths.bars({ size: [0.7, 48] }), value: (u, v) => fmtNumber(v),
      },
    ],
  };
}

// Draws once the box has a width and follows its width (window resize, grid columns). The box
// is built before it is attached, maybe a frame or more before (the overview awaits the next
// meter's data first): only a box taken out of the page after its chart was drawn lets it go.
function mount(box, title, data, unit) {
  let plot = null;
  const observer = new ResizeObserver(() => {
    if (!box.isConnected) {
      if (plot) {
        observer.disconnect();
        plot.destroy();
      }
      return;
    }
    const width = Math.floor(box.clientWidth);
    if (width <= 0) return;
    if (!plot) plot = new uPlot(options(title, width, data[0], unit), data, box);
    else if (plot.width !== width) plot.setSize({ width, height: HEIGHT });
  });
  observer.observe(box);
}

// Series points [{start, end, value}], one per `unit` (day, week or month), as a figure: the
// chart, its summary and a data table.
export function usageChart(title, series, unit = "day") {
  const values = series.map((p) => Number(p.value) || 0);
  const total = values.reduce((a, b) => a + b, 0);
  const summaryId = nextId("chart");
  const box = h("div", { class: "chart", "aria-hidden": "true" });
  if (series.length) mount(box, title, [series.map((p) => dayOf(p.start)), values], unit);
  const first = series.length ? series[0].start.slice(0, 10) : "";
  const last = series.length ? series[series.length - 1].start.slice(0, 10) : "";
  const summary = `${title}: ${series.length} points from ${first || "—"} to ${last || "—"}, total ${fmtNumber(total)}, peak ${fmtNumber(series.length ? Math.max(...values) : 0)}`;
  const rows = series.map((p) => h("tr", {}, h("th", { scope: "row" }, p.start.slice(0, 10)), h("td", {}, fmtNumber(p.value))));
  return h(
    "figure", { class: "chart-figure", "aria-labelledby": summaryId },
    box,
    h("figcaption", { id: summaryId }, summary),
    h("details", {}, h("summary", {}, `${title} as a table`),
      h("table", {}, h("caption", {}, title),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Start"), h("th", { scope: "col" }, "Value"))),
        h("tbody", {}, rows))),
  );
}
