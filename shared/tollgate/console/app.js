// The console's shell: sign-in, who the key is (GET /v1/me), the navigation and hash routes.
// An admin key gets the operator pages; a tenant key gets its own tenant's portal pages only.
import { api, session } from "./api.js";
import { announce, clear, h } from "./dom.js";
import { renderOverview } from "./page-overview.js";
import { renderPortal } from "./page-portal.js";
import { renderReports } from "./page-reports.js";
import { renderTenant } from "./page-tenant.js";
import { renderTenants } from "./page-tenants.js";

const ADMIN_NAV = [["#/overview", "Overview"], ["#/tenants", "Tenants"], ["#/reports", "Reports"]];
const PORTAL_NAV = [["#/usage", "Usage"], ["#/quotas", "Quotas"], ["#/notifications", "Notifications"], ["#/invoices", "Invoices"]];

let me = null;
const $ = (id) => document.getElementById(id);

function adminRoute(path) {
  const [page, id] = path.split("?")[0].split("/").slice(1);
  if (page === "overview" || page === "") return (view) => renderOverview(view);
  if (page === "tenants" && id) return (view) => renderTenant(view, decodeURIComponent(id));
  if (page === "tenants") return (view) => renderTenants(view);
  if (page === "reports") return (view) => renderReports(view);
  return null;
}

function portalRoute(path) {
  const page = path.split("?")[0].split("/")[1] || "usage";
  if (PORTAL_NAV.some(([href]) => href === `#/${page}`)) return (view) => renderPortal(view, me.tenant, page);
  return null;
}

function showNav(items) {
  const current = window.location.hash;
  clear($("nav"), h("ul", {}, items.map(([href, text]) => {
    const active = current === href || current.startsWith(`${href}/`);
    return h("li", {}, h("a", { href, "aria-current": active ? "page" : null }, text));
  })));
}

async function route() {
  const hash = window.location.hash;
  if (hash && !hash.startsWith("#/")) return; // the skip link's #main, not a page
  const view = $("view");
  if (!me) return;
  const admin = me.scope === "admin";
  const path = (hash || (admin ? "#/overview" : "#/usage")).slice(1);
  showNav(admin ? ADMIN_NAV : PORTAL_NAV);
  const render = admin ? adminRoute(path) : portalRoute(path);
  if (!render) {
    clear(view, h("h1", {}, "Not found"), h("p", {}, "This console has no such page."));
    return;
  }
  await render(view);
  const title = view.querySelector("h1");
  document.title = `${title ? title.textContent : "Console"} · Tollgate`;
}

function signedOut(message = "") {
  me = null;
  session.clear();
  $("signin").hidden = false;
  $("signout").hidden = true;
  clear($("nav"));
  clear($("who"));
  clear($("view"));
  $("signin-error").textContent = message;
  $("signin-key").value = "";
  $("signin-key").focus();
}

async function signedIn() {
  try {
    me = await api("/v1/me");
  } catch (error) {
    signedOut(error.status === 401 ? "That key is unknown or revoked." : `Sign-in failed: ${error.message}`);
    return;
  }
  if (me.scope !== "admin" && me.scope !== "tenant") {
    signedOut(`A ${me.scope} key cannot use the console; use an admin or a tenant key.`);
    return;
  }
  $("signin").hidden = true;
  $("signout").hidden = false;
  clear($("who"), me.scope === "admin" ? "Operator" : `Tenant ${me.tenant}`);
  announce(me.scope === "admin" ? "Signed in as an operator." : `Signed in to the portal of ${me.tenant}.`);
  await route();
}

document.addEventListener("DOMContentLoaded", () => {
  $("signin-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const key = $("signin-key").value.trim();
    $("signin-key").value = "";
    if (!key) return;
    session.save(key);
    signedIn();
  });
  $("signout").addEventListener("click", () => {
    signedOut();
    window.location.hash = "";
    announce("Signed out.");
  });
  window.addEventListener("hashchange", () => {
    route();
    if (window.location.hash.startsWith("#/")) $("main").focus();
  });
  if (session.key()) signedIn();
  else signedOut();
});
