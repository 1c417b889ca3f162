// Tenants: search (q=), health, plan and overage filters, sort by a meter's usage; each tenant's
// effective limits as quota bars (include=quotas: the page's quotas come with the list).
import { all, api } from "./api.js";
import { announce, badge, clear, field, h, section, select } from "./dom.js";
import { quotaBars } from "./widgets.js";

const PAGE = 20;

function filtersFrom(hash) {
  const query = hash.includes("?") ? hash.slice(hash.indexOf("?") + 1) : "";
  return Object.fromEntries(new URLSearchParams(query));
}

function row(tenant) {
  const quotas = h("div", { class: "row-quotas" }, quotaBars(tenant.quotas || []));
  return h("tr", { "data-tenant": tenant.id },
    h("th", { scope: "row" }, h("a", { href: `#/tenants/${encodeURIComponent(tenant.id)}` }, tenant.name), h("div", { class: "muted" }, tenant.id)),
    h("td", {}, tenant.plan || "—"),
    h("td", {}, badge(tenant.health.status), tenant.health.has_overages ? h("span", { class: "overage" }, " over limit") : null),
    h("td", {}, quotas));
}

export async function renderTenants(view) {
  const chosen = filtersFrom(window.location.hash);
  const [plans, meters] = await Promise.all([
    all("/v1/plans", {}).catch(() => []),
    api("/v1/meters", { query: { limit: 50 } }).then((p) => p.items).catch(() => []),
  ]);
  const q = h("input", { type: "search", name: "q", value: chosen.q || "", autocomplete: "off" });
  const health = select("health_status", [["", "Any"], ["healthy", "healthy"], ["caution", "caution"], ["warning", "warning"], ["critical", "critical"]], chosen.health || "");
  const plan = select("plan", [["", "Any"], ...plans.map((p) => [p.id, p.name ? `${p.name} (${p.id})` : p.id])], chosen.plan || "");
  const overages = select("has_overages", [["", "Any"], ["true", "Over a limit"], ["false", "Within limits"]], "");
  const sort = select("sort", [["", "Name"], ...meters.map((m) => [`usage:${m.key}`, `Usage of ${m.key} this month`])], "");
  const results = h("div", { "aria-live": "polite" });
  const form = h("form", { class: "filters", role: "search", "aria-label": "Filter tenants" },
    field("Search (id or name)", q), field("Health", health), field("Plan", plan), field("Overages", overages), field("Sort by", sort),
    h("button", { type: "submit" }, "Apply"));
  clear(view, h("h1", {}, "Tenants"), form, section("Results", results));

  let cursor = null;
  let body = null;
  let latest = 0; // the last list asked for: an earlier one's answer arriving later is dropped
  const load = async (more) => {
    const mine = more ? latest : ++latest;
    const query = { q: q.value.trim(), health_status: health.value, plan: plan.value, has_overages: overages.value, sort: sort.value, include: "quotas", limit: PAGE, cursor: more ? cursor : null };
    try {
      const page = await api("/v1/tenants", { query });
      if (mine !== latest) return;
      cursor = page.next_cursor;
      if (!more) {
        body = h("tbody");
        clear(results, h("div", { class: "table-wrap" }, h("table", { class: "tenants" },
          h("caption", {}, "Tenants and their quotas"),
          h("thead", {}, h("tr", {}, ["Tenant", "Plan", "Health", "Quotas"].map((t) => h("th", { scope: "col" }, t)))),
          body)));
      }
      body.append(...page.items.map(row));
      const count = body.children.length;
      results.querySelector(".more")?.remove();
      if (!count) clear(results, h("p", { class: "empty" }, "No tenant matches."));
      if (cursor) results.append(h("button", { type: "button", class: "more", onclick: () => load(true) }, "Show more"));
      announce(`${count} tenant${count === 1 ? "" : "s"} shown.`);
    } catch (error) {
      if (mine !== latest) return;
      clear(results, h("p", { class: "error", role: "alert" }, `Could not list tenants: ${error.message}`));
    }
  };
  form.addEventListener("submit", (event) => { event.preventDefault(); load(false); });
  await load(false);
}
