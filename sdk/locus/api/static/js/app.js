// The page's entry point: hash routes to views, the token prompt, the nav.
// A view is a function (container, {params, args, signal}) that renders into
// container; signal aborts when the route changes, which stops its timers,
// streams and late renders.

import { setToken, token, whenUnauthorized } from "./api.js";
import { h, replace } from "./dom.js";
import { assetsView } from "./views/assets.js";
import { automationView } from "./views/automation.js";
import { launchView } from "./views/launch.js";
import { locationsView } from "./views/locations.js";
import { runView } from "./views/run.js";
import { runsView } from "./views/runs.js";

const ROUTES = [
  [/^\/locations$/, "locations", locationsView],
  [/^\/runs$/, "runs", runsView],
  [/^\/runs\/([^/]+)$/, "runs", runView],
  [/^\/assets$/, "assets", assetsView],
  [/^\/automation$/, "automation", automationView],
  [/^\/launch$/, "launch", launchView],
];

let current = null;

/** "#/runs?status=FAILURE" -> {path: "/runs", params: URLSearchParams}. */
function parseHash() {
  const raw = window.location.hash.replace(/^#/, "") || "/locations";
  const [path, search] = raw.split("?", 2);
  return { path, params: new URLSearchParams(search || "") };
}

function render() {
  if (current) current.abort();
  current = new AbortController();
  const { path, params } = parseHash();
  const view = document.getElementById("view");
  const found = ROUTES.map(([pattern, section, fn]) => [pattern.exec(path), section, fn]).find(([m]) => m);
  for (const link of document.querySelectorAll(".nav a")) {
    link.classList.toggle("active", Boolean(found) && link.dataset.section === found[1]);
  }
  if (!found) {
    replace(view, h("div", { class: "notice" }, "No such page. ", h("a", { href: "#/locations" }, "Go to locations")));
    return;
  }
  const [match, , fn] = found;
  const container = h("div", { class: "view" });
  replace(view, container);
  fn(container, { params, args: match.slice(1).map(decodeURIComponent), signal: current.signal });
}

function renderAuth() {
  const box = document.getElementById("auth");
  if (!token()) {
    replace(box);
    return;
  }
  replace(box, h("span", { class: "muted" }, "token set"), " ",
    h("button", { class: "link", type: "button", onclick: () => { setToken(null); renderAuth(); } }, "forget"));
}

function askForToken() {
  const dialog = document.getElementById("token-dialog");
  if (!dialog.open) dialog.showModal();
}

document.getElementById("token-form").addEventListener("submit", (event) => {
  const value = new FormData(event.target).get("token");
  setToken(String(value || "").trim());
  event.target.reset();
  renderAuth();
  render();
});

whenUnauthorized(askForToken);
window.addEventListener("hashchange", render);
renderAuth();
render();
