// The tenant portal: a tenant key sees its own tenant's usage, quotas, notifications and
// invoices, one page each. The API scopes every request to the key's tenant anyway.
import { clear, h } from "./dom.js";
import { invoicesSection, notificationsSection, quotasSection, usageSection } from "./sections.js";

const PAGES = {
  usage: ["Usage", usageSection],
  quotas: ["Quotas", quotasSection],
  notifications: ["Notifications", notificationsSection],
  invoices: ["Invoices", invoicesSection],
};

export async function renderPortal(view, tenantId, page) {
  const [title, build] = PAGES[page];
  clear(view, h("h1", {}, title), h("p", { class: "muted" }, `Tenant ${tenantId}`), build(tenantId));
}
