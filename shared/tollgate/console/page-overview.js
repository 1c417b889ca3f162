// Overview: tenants by health, by plan, the last 30 days of each meter across tenants
// (GET /v1/analytics/usage) and the latest alerts.
import { all, api } from "./api.js";
import { badge, clear, fill, fmtNumber, fmtTime, h, section, table } from "./dom.js";
import { barChart } from "./widgets.js";

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

async function trends() {
  const meters = (await api("/v1/meters", { query: { limit: 50 } })).items.slice(0, MAX_METERS);
  if (!meters.length) return h("p", { class: "empty" }, "No meters yet.");
  const charts = [];
  for (const meter of meters) {
    const usage = await api("/v1/analytics/usage", { query: { meter: meter.key, interval: "day" } });
    charts.push(h("div", { class: "trend", "data-meter": meter.key },
      h("h3", {}, `${meter.name} (${meter.key}) — total ${fmtNumber(usage.total)}`),
      barChart(`${meter.key}, last 30 days, all tenants`, usage.series)));
  }
  return h("div", { class: "trends" }, charts);
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
