// The parts of a tenant's page, shared by the operator's tenant page and the tenant portal.
import { all, api } from "./api.js";
import { announce, badge, clear, field, fill, fmtNumber, fmtTime, h, section, select, table } from "./dom.js";
import { alertsTable } from "./page-overview.js";
import { usageChart } from "./chart.js";
import { dense, quotaBars, weekly } from "./widgets.js";

const DAY_MS = 86400000;
const isoDay = (date) => date.toISOString().slice(0, 10);

// Usage per meter: window day, week (days summed by week) or month, over a date range.
export function usageSection(tenantId) {
  const body = h("div");
  const meterSel = h("select", { name: "meter" });
  const windowSel = select("window", [["day", "Day"], ["week", "Week"], ["month", "Month"]], "day");
  const from = h("input", { type: "date", name: "from", value: isoDay(new Date(Date.now() - 29 * DAY_MS)) });
  const to = h("input", { type: "date", name: "to", value: isoDay(new Date()) });
  const chart = h("div", { "aria-live": "polite" });
  const form = h("form", { class: "filters", "aria-label": "Usage chart" },
    field("Meter", meterSel), field("Window", windowSel), field("From", from), field("To (inclusive)", to),
    h("button", { type: "submit" }, "Show"));
  const draw = () => fill(chart, "Usage", async () => {
    const window = windowSel.value;
    const end = new Date(`${to.value}T00:00:00Z`).getTime() + DAY_MS;
    const usage = await api("/v1/usage", {
      query: { tenant: tenantId, meter: meterSel.value, window: window === "week" ? "day" : window, from: `${from.value}T00:00:00Z`, to: new Date(end).toISOString() },
    });
    const counts = usage.aggregation === "count" || usage.aggregation === "sum";
    const days = dense(usage.series, from.value, to.value, window === "month" ? "month" : "day");
    const series = window === "week" && counts ? weekly(days) : days;
    const note = window === "week" && !counts ? h("p", { class: "muted" }, `A ${usage.aggregation} meter does not add up by week: shown by day.`) : null;
    return h("div", {}, h("p", {}, `Total ${fmtNumber(usage.total)} (${usage.aggregation}, zone ${usage.timezone})`), note,
      usageChart(`${usage.meter} per ${window}`, series, series === days && window !== "month" ? "day" : window));
  });
  form.addEventListener("submit", (event) => { event.preventDefault(); draw(); });
  fill(body, "Meters", async () => {
    const meters = (await api("/v1/meters", { query: { limit: 50 } })).items;
    if (!meters.length) return h("p", { class: "empty" }, "No meters yet.");
    for (const m of meters) meterSel.append(h("option", { value: m.key }, `${m.name} (${m.key})`));
    draw();
    return h("div", {}, form, chart);
  });
  return section("Usage", body);
}

export function quotasSection(tenantId) {
  const body = h("div", { class: "tenant-quotas", "aria-live": "polite" });
  const load = () => fill(body, "Quotas", async () => quotaBars((await api("/v1/quotas", { query: { tenant: tenantId } })).quotas));
  load();
  const el = section("Quotas", body);
  el.reload = load;
  return el;
}

// The effective limits, each value editable; Save replaces the overrides (PUT) with every limit
// that is an override already or whose value was changed, with the reason for the audit trail.
export function limitsSection(tenantId, onSaved) {
  const body = h("div");
  const build = async () => {
    const limits = await api(`/v1/tenants/${encodeURIComponent(tenantId)}/limits`);
    const inputs = limits.effective.map((lim) => {
      const input = h("input", { type: "number", min: 0, step: "any", value: lim.limit, required: true, "aria-label": `Limit of ${lim.meter} per ${lim.window}` });
      return { lim, input };
    });
    const reason = h("input", { type: "text", name: "reason", maxlength: 500, required: true });
    const message = h("p", { role: "status" });
    const rows = inputs.map(({ lim, input }) => [lim.meter, lim.window, input, lim.enforcement, lim.source]);
    const form = h("form", { class: "limits" },
      table("Effective limits (plan and overrides)", ["Meter", "Window", "Limit", "Enforcement", "Source"], rows, "The plan has no limits."),
      field("Reason (kept in the audit trail)", reason), h("button", { type: "submit" }, "Save limits"), message);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const overrides = inputs
        .filter(({ lim, input }) => lim.source === "override" || String(lim.limit) !== input.value)
        .map(({ lim, input }) => ({ meter: lim.meter, window: lim.window, limit: Number(input.value), enforcement: lim.enforcement, thresholds: lim.thresholds }));
      try {
        await api(`/v1/tenants/${encodeURIComponent(tenantId)}/limits`, { method: "PUT", body: { limits: overrides, reason: reason.value } });
        announce("Limits saved.");
        await fill(body, "Limits", build);
        body.querySelector("[role=status]").textContent = "Saved.";
        onSaved();
      } catch (error) {
        message.textContent = `Not saved: ${error.message}`;
      }
    });
    return form;
  };
  fill(body, "Limits", build);
  return section("Limits", body);
}

export function planSection(tenant, onSaved) {
  const body = h("div");
  fill(body, "Plans", async () => {
    const plans = await all("/v1/plans", {});
    const plan = select("plan", plans.map((p) => [p.id, p.name ? `${p.name} (${p.id})` : p.id]), tenant.plan);
    const reason = h("input", { type: "text", name: "reason", maxlength: 500, required: true });
    const message = h("p", { role: "status" });
    const form = h("form", { class: "filters" }, field("Plan", plan), field("Reason", reason), h("button", { type: "submit" }, "Change plan"), message);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        const updated = await api(`/v1/tenants/${encodeURIComponent(tenant.id)}`, { method: "PATCH", body: { plan: plan.value, reason: reason.value } });
        message.textContent = `Plan is now ${updated.plan}.`;
        onSaved();
      } catch (error) {
        message.textContent = `Not changed: ${error.message}`;
      }
    });
    return form;
  });
  return section("Plan", body);
}

export function notificationsSection(tenantId) {
  const body = h("div");
  const build = async () => {
    const items = (await api("/v1/notifications", { query: { tenant: tenantId, limit: 20 } })).items;
    const markRead = (n) => (n.read_at ? "—" : h("button", { type: "button", onclick: async () => {
      await api(`/v1/notifications/${encodeURIComponent(n.id)}/read`, { method: "POST" });
      announce("Marked read.");
      fill(body, "Notifications", build);
    } }, "Mark read"));
    return alertsTable(items, "Alerts, newest first", false, markRead);
  };
  fill(body, "Notifications", build);
  return section("Notifications", body);
}

export function subscriptionsSection(tenantId) {
  const body = h("div");
  fill(body, "Subscriptions", async () => {
    const items = (await api(`/v1/tenants/${encodeURIComponent(tenantId)}/subscriptions`)).items;
    return table("Alert subscriptions", ["Endpoint", "Protocol", "Types", "Status", "Since"],
      items.map((s) => [s.endpoint, s.protocol, s.types.join(", ") || "all", s.status, fmtTime(s.created_at)]), "No subscriptions.");
  });
  return section("Subscriptions", body);
}

export function auditSection(tenantId) {
  const body = h("div");
  fill(body, "Audit trail", async () => {
    const items = (await api("/v1/audit", { query: { tenant: tenantId, limit: 20 } })).items;
    return table("Changes, newest first", ["When", "Action", "By", "Reason"], items.map((e) => [fmtTime(e.at), e.action, e.actor, e.reason || "—"]), "No changes.");
  });
  return section("Audit trail", body);
}

// Download: ask for the presigned link without the redirect, then offer it as a link.
function downloadButton(invoice, format) {
  const holder = h("span");
  const button = h("button", { type: "button", onclick: async () => {
    try {
      const { url } = await api(`/v1/invoices/${encodeURIComponent(invoice.id)}/download`, { query: { format, redirect: "false" } });
      clear(holder, h("a", { href: url, target: "_blank", rel: "noopener noreferrer", class: "download" }, `Open ${format.toUpperCase()}`));
      holder.querySelector("a").focus();
    } catch (error) {
      clear(holder, h("span", { class: "error" }, error.message));
    }
  } }, `${format.toUpperCase()} link`);
  holder.append(button);
  return holder;
}

export function invoicesSection(tenantId) {
  const body = h("div");
  fill(body, "Invoices", async () => {
    const items = (await api("/v1/invoices", { query: { tenant: tenantId, limit: 24 } })).items;
    return table("Invoices, newest first", ["Number", "Period", "Status", "Total", "Download"], items.map((inv) => [
      inv.number || "(draft)", `${inv.period.start.slice(0, 10)} – ${inv.period.end.slice(0, 10)}`, badge(inv.status),
      `${inv.total} ${inv.currency}`,
      inv.number ? h("span", { class: "downloads" }, downloadButton(inv, "html"), " ", downloadButton(inv, "json")) : "—",
    ]), "No invoices.");
  });
  return section("Invoices", body);
}

