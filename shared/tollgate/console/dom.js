// DOM helpers. Text always goes in as text nodes (never parsed as markup), attributes as attributes.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "class") el.className = value;
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export function announce(message) {
  const status = document.getElementById("status");
  status.textContent = "";
  window.setTimeout(() => { status.textContent = message; }, 50);
}

let uid = 0;
export const nextId = (prefix) => `${prefix}-${++uid}`;

// A labelled control: <label for> + the control.
export function field(label, control) {
  if (!control.id) control.id = nextId("f");
  return h("div", { class: "field" }, h("label", { for: control.id }, label), control);
}

export function select(name, options, value) {
  const el = h("select", { name });
  for (const [optionValue, text] of options) {
    el.append(h("option", { value: optionValue, selected: optionValue === value }, text));
  }
  return el;
}

// A table with a caption and column headers; rows are arrays of cells (text or nodes).
export function table(caption, headers, rows, empty = "Nothing yet.") {
  if (!rows.length) return h("p", { class: "empty" }, empty);
  return h(
    "div", { class: "table-wrap" },
    h("table", {},
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, headers.map((text) => h("th", { scope: "col" }, text)))),
      h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((cell, i) => (i === 0 ? h("th", { scope: "row" }, cell) : h("td", {}, cell)))))),
    ),
  );
}

export function section(title, ...children) {
  const id = nextId("s");
  return h("section", { class: "panel", "aria-labelledby": id }, h("h2", { id }, title), ...children);
}

// A panel's body while loading, and what it shows when its request fails.
export function loading() {
  return h("p", { class: "loading" }, "Loading…");
}

export function failure(error, what) {
  if (error && error.missing) return h("p", { class: "unavailable" }, `${what} are not available on this deployment.`);
  return h("p", { class: "error", role: "alert" }, `Could not load ${what.toLowerCase()}: ${error.message}`);
}

// Fill `el` with what `build` makes; a later fill of the same element wins even when an earlier
// one's requests finish last.
const generations = new WeakMap();
export async function fill(el, what, build) {
  const generation = (generations.get(el) || 0) + 1;
  generations.set(el, generation);
  clear(el, loading());
  let content;
  try {
    content = await build();
  } catch (error) {
    content = failure(error, what);
  }
  if (generations.get(el) === generation) clear(el, content);
}

export function badge(status) {
  return h("span", { class: `badge status-${status}` }, status);
}

export const fmtTime = (iso) => (iso ? iso.replace("T", " ").replace(/(\.\d+)?(Z|[+-]\d\d:\d\d)$/, " $2").replace(" Z", " UTC") : "—");
export const fmtNumber = (v) => (v === null || v === undefined ? "—" : Number(v).toLocaleString("en-US", { maximumFractionDigits: 4 }));
