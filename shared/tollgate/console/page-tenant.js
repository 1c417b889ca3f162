// One tenant, for an operator: its usage, quotas, limit editor, plan, alerts, subscriptions,
// audit trail and invoices.
import { api } from "./api.js";
import { badge, clear, failure, h } from "./dom.js";
import {
  auditSection, invoicesSection, limitsSection, notificationsSection, planSection, quotasSection, subscriptionsSection, usageSection,
} from "./sections.js";

export async function renderTenant(view, tenantId) {
  let tenant;
  try {
    tenant = await api(`/v1/tenants/${encodeURIComponent(tenantId)}`);
  } catch (error) {
    clear(view, h("h1", {}, "Tenant"), failure(error, "The tenant"));
    return;
  }
  const heading = h("p", { class: "muted" });
  const describe = (t) => clear(heading, `${t.id} · plan ${t.plan || "none"} · zone ${t.timezone} · health `, badge(t.health.status));
  describe(tenant);
  const quotas = quotasSection(tenant.id);
  const refresh = async () => {
    quotas.reload();
    describe(await api(`/v1/tenants/${encodeURIComponent(tenantId)}`));
  };
  clear(view,
    h("p", {}, h("a", { href: "#/tenants" }, "← All tenants")),
    h("h1", {}, tenant.name), heading,
    usageSection(tenant.id), quotas, limitsSection(tenant.id, refresh), planSection(tenant, refresh),
    notificationsSection(tenant.id), subscriptionsSection(tenant.id), auditSection(tenant.id), invoicesSection(tenant.id));
}
