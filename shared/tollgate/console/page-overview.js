// Overview: tenants by health, by plan, the last 30 days of each meter across tenants
// (GET /v1/analytics/usage) and the latest alerts.
import { all, api } from "./api.js";
import { badge, clear, field, fill, fmtNumber, fmtTime, h, section, select, table } from "./dom.js";
import { usageChart } from "./chart.js";

const STATUSES = ["healthy", "caution", "warning", "critical"];
const MAX_METERS = 6;

function healthCards(tenants) {
  const counts = Object.fromEntries(STATUSES.map((s) => [s, 0]));
  for (const t of tenants) counts[t.health.status] = (counts[t.health.status] || 0) + 1;
  return h("ul", { class: "cards" }, STATUSES.map((status) =>
    h("li", { class: `card status-${status}`, "data-status": status },
      h("a", { href: `#/tenants?health=${status}` },
        h("span", { class: "card-count" }, String(counts[status])),
        h("span", { class: "card-label" }, `${status} tenant${counts[status] === 1 ? "" : "s"}`)))));
}

function planTable(tenants) {
  const plans = new Map();
  for (const t of tenants) plans.set(t.plan || "(none)", (plans.get(t.plan || "(none)") || 0) + 1);
  const rows = [...plans.entries()].sort((a, b) => b[1] - a[1]).map(([plan, n]) => [plan, String(n)]);
  return table("Tenants per plan", ["Plan", "Tenants"], rows, "No tenants yet.");
}

// Analytics covers sum and count meters; the overview charts the ones the hash names
// (#/overview?meters=a,b), else the first MAX_METERS, and a form adds another.
const CHARTED = new Set(["sum", "count"]);

function chosenMeters() {
  const hash = window.location.hash;
  const query = new URLSearchParams(hash.includes("?") ? hash.slice(hash.indexOf("?") + 1) : "");
  return (query.get("meters") || "").split(",").filter(Boolean);
}

function meterPicker(meters, shown) {
  const others = meters.filter((m) => !shown.includes(m.key));
  if (!others.length) return null;
  const choice = select("meter", others.map((m) => [m.key, `${m.name} (${m.key})`]), others[0].key);
  const form = h("form", { class: "filters", "aria-label": "Chart another meter" }, field("Meter", choice), h("button", { type: "submit" }, "Add chart"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    window.location.hash = `#/overview?meters=${[...shown, choice.value].map(encodeURIComponent).join(",")}`;
  });
  return form;
}

async function trends() {
  const meters = (await all("/v1/meters", {})).filter((m) => CHARTED.has(m.aggregation));
  if (!meters.length) return h("p", { class: "empty" }, "No sum or count meters yet.");
  const named = chosenMeters();
  const shown = named.length ? meters.filter((m) => named.includes(m.key)) : meters.slice(0, MAX_METERS);
  const charts = [];
  for (const meter of shown) {
    const usage = await api("/v1/analytics/usage", { query: { meter: meter.key, interval: "day" } });
    charts.push(h("div", { class: "trend", "data-meter": meter.key },
      h("h3", {}, `${meter.name} (${meter.key}) — total ${fmtNumber(usage.total)}`),
      usageChart(`${meter.key}, last 30 days, all tenants`, usage.series)));
  }
  return h("div", {}, meterPicker(meters, shown.map((m) => m.key)), h("div", { class: "trends" }, charts));
}

export function alertsTable(items, caption, withTenant = true, action = null) {
  const rows = items.map((n) => [
    fmtTime(n.occurred_at),
    ...(withTenant ? [h("a", { href: `#/tenants/${encodeURIComponent(n.tenant_id)}` }, n.tenant_id)] : []),
    n.type,
    n.meter || "—",
    badge(n.severity),
    n.percent === undefined || n.percent === null ? "—" : `${n.percent} %`,
    n.read_at ? "read" : "unread",
    ...(action ? [action(n)] : []),
  ]);
  const headers = ["When", ...(withTenant ? ["Tenant"] : []), "Alert", "Meter", "Severity", "Used", "State", ...(action ? ["Action"] : [])];
  return table(caption, headers, rows, "No alerts.");
}

export async function renderOverview(view) {
  const health = h("div"), plans = h("div"), usage = h("div"), alerts = h("div");
  clear(view,
    h("h1", {}, "Overview"),
    section("Tenant health", health),
    section("Plans", plans),
    section("Usage, last 30 days", usage),
    section("Latest alerts", alerts));
  const tenants = all("/v1/tenants", {});
  await Promise.all([
    fill(health, "Tenants", async () => healthCards(await tenants)),
    fill(plans, "Plans", async () => planTable(await tenants)),
    fill(usage, "Analytics", trends),
    fill(alerts, "Alerts", async () => alertsTable((await api("/v1/notifications", { query: { limit: 10 } })).items, "The 10 latest alerts")),
  ]);
}
