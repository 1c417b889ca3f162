// Monthly reports (GET /v1/reports/{period}): pick a month, read the table, download CSV or JSON.
import { api, apiBlob } from "./api.js";
import { announce, badge, clear, failure, field, fmtNumber, h, section, table } from "./dom.js";

function lastMonth() {
  const now = new Date();
  const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1));
  return d.toISOString().slice(0, 7);
}

function summary(report) {
  const s = report.summary;
  const rows = [
    ["Tenants", String(s.tenants)],
    ["Tenants with overages", String(s.tenants_with_overages)],
    ...Object.entries(s.meters).map(([meter, total]) => [`Usage of ${meter}`, fmtNumber(total)]),
    ...Object.entries(s.plans).map(([plan, n]) => [`Tenants on ${plan}`, String(n)]),
    ...Object.entries(s.revenue).map(([currency, total]) => [`Revenue (${currency})`, total]),
  ];
  return table(`Summary of ${report.period}`, ["Figure", "Value"], rows);
}

function tenantsTable(report) {
  const rows = [];
  for (const t of report.tenants) {
    for (const m of t.meters) {
      rows.push([t.name || t.tenant, t.plan || "—", badge(t.health), m.meter, fmtNumber(m.usage), m.limit === null ? "—" : fmtNumber(m.limit),
        m.percent === null ? "—" : `${m.percent} %`, fmtNumber(m.overage_units), m.overage_cost === null ? "—" : `${m.overage_cost} ${m.currency || ""}`,
        t.invoice ? `${t.invoice.number || t.invoice.id} ${t.invoice.total} ${t.invoice.currency}` : "—"]);
    }
  }
  return table(`Tenants in ${report.period}`, ["Tenant", "Plan", "Health", "Meter", "Usage", "Limit", "Used", "Overage", "Overage cost", "Invoice"], rows, "No tenants in this report.");
}

async function download(period, format) {
  const blob = await apiBlob(`/v1/reports/${period}`, { query: { format } });
  const link = h("a", { href: URL.createObjectURL(blob), download: `tollgate-report-${period}.${format}` });
  document.body.append(link);
  link.click();
  link.remove();
  window.setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  announce(`Report ${period} downloaded as ${format.toUpperCase()}.`);
}

export async function renderReports(view) {
  const month = h("input", { type: "month", name: "period", value: lastMonth(), required: true, pattern: "\\d{4}-\\d{2}" });
  const result = h("div", { "aria-live": "polite" });
  const message = h("p", { role: "status" });
  const form = h("form", { class: "filters", "aria-label": "Report month" }, field("Month", month), h("button", { type: "submit" }, "View report"),
    h("button", { type: "button", onclick: () => download(month.value, "csv").catch((e) => { message.textContent = e.message; }) }, "Download CSV"),
    h("button", { type: "button", onclick: () => download(month.value, "json").catch((e) => { message.textContent = e.message; }) }, "Download JSON"));
  // The stored report is served (the monthly job's, or the first one asked for); late usage and
  // invoices issued since then show after "Regenerate" (refresh=true makes it again now).
  const show = async (refresh = false) => {
    try {
      const query = refresh ? { format: "json", refresh: "true" } : { format: "json" };
      const report = await api(`/v1/reports/${month.value}`, { query });
      const generated = h("p", { class: "generated" }, `Generated ${report.generated_at}. `,
        h("button", { type: "button", onclick: () => show(true) }, "Regenerate"));
      clear(result, generated, summary(report), tenantsTable(report));
      if (refresh) announce(`Report ${report.period} generated again.`);
    } catch (error) {
      clear(result, failure(error, "Reports"));
    }
  };
  form.addEventListener("submit", (event) => { event.preventDefault(); show(); });
  clear(view, h("h1", {}, "Reports"), form, message, section("Report", result));
  await show();
}
