// Building DOM nodes. Text always goes in as text nodes, never parsed as HTML,
// so nothing the API returns can become markup.

export const SVG_NS = "http://www.w3.org/2000/svg";

function fill(el, attrs, children) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else if (name === "dataset") {
      Object.assign(el.dataset, value);
    } else {
      el.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** An HTML element: h("a", {href: "#/runs", class: "link"}, "Runs"). */
export function h(tag, attrs, ...children) {
  return fill(document.createElement(tag), attrs, children);
}

/** An SVG element, same calling convention as h(). */
export function s(tag, attrs, ...children) {
  return fill(document.createElementNS(SVG_NS, tag), attrs, children);
}

export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

export function badge(status) {
  const value = String(status || "UNKNOWN");
  return h("span", { class: `badge status-${value.toLowerCase()}` }, value);
}

/** A panel saying what went wrong, with the API's hint when there is one. */
export function errorPanel(error, what) {
  if (error && error.routeMissing) {
    return h("div", { class: "notice" }, `${what}: not available from this server yet.`);
  }
  return h("div", { class: "error-box", role: "alert" },
    h("strong", {}, `${what}: `), error.message || String(error),
    error.hint ? h("div", { class: "hint" }, error.hint) : null);
}

/** Call fn every ms milliseconds until signal aborts (fn is not awaited twice at once). */
export function every(ms, fn, signal) {
  let busy = false;
  const timer = setInterval(async () => {
    if (busy || signal.aborted) return;
    busy = true;
    try {
      await fn();
    } finally {
      busy = false;
    }
  }, ms);
  signal.addEventListener("abort", () => clearInterval(timer));
}
