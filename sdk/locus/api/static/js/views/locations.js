// Code locations: health, definition counts, image, and for a broken one
// its error with the traceback one click away. Refreshes itself.

import { api, enc } from "../api.js";
import { badge, errorPanel, every, h, replace } from "../dom.js";
import { ago } from "../format.js";

function counts(location) {
  const entries = Object.entries(location.counts || {});
  if (entries.length === 0) return null;
  return h("ul", { class: "counts" },
    entries.map(([kind, n]) => h("li", {}, h("strong", {}, String(n)), ` ${kind}`)));
}

function loadError(error) {
  if (!error) return null;
  return h("div", { class: "error-box" },
    h("div", { class: "error-title" }, `${error.cls_name}: ${error.message}`),
    error.traceback
      ? h("details", {}, h("summary", {}, "Traceback"), h("pre", { class: "traceback" }, error.traceback))
      : null);
}

function card(location, reload, reloading) {
  const facts = [
    location.image ? ["image", location.image] : null,
    location.kind ? ["kind", location.kind] : null,
    location.kind === "grpc_server" && location.endpoint ? ["endpoint", location.endpoint] : null,
    location.pid ? ["pid", String(location.pid)] : null,
    location.restarts ? ["restarts", String(location.restarts)] : null,
    ["updated", ago(location.updated_at)],
  ].filter(Boolean);
  const button = h("button", { type: "button", class: "small", disabled: reloading },
    reloading ? "Reloading…" : "Reload");
  button.addEventListener("click", () => {
    button.disabled = true;
    button.textContent = "Reloading…";
    reload(location.name);
  });
  return h("article", { class: `card location status-${String(location.status).toLowerCase()}`,
    dataset: { location: location.name } },
  h("header", { class: "card-head" },
    h("h2", {}, location.name), badge(location.status), h("span", { class: "spacer" }), button),
  location.detail && !location.load_error ? h("p", { class: "muted" }, location.detail) : null,
  counts(location),
  h("dl", { class: "facts" }, facts.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
  loadError(location.load_error));
}

export async function locationsView(container, { signal }) {
  const summary = h("p", { class: "muted" });
  const grid = h("div", { class: "cards" });
  const problem = h("div");
  replace(container, h("div", { class: "view-head" }, h("h1", {}, "Code locations"), summary), problem, grid);

  const reloading = new Set();
  const reload = async (name) => {
    reloading.add(name);
    try {
      await api(`/api/locations/${enc(name)}/reload`, { method: "POST" });
    } catch (error) {
      replace(problem, errorPanel(error, `Reloading ${name}`));
    } finally {
      reloading.delete(name);
    }
    await refresh();
  };

  const refresh = async () => {
    let body;
    try {
      body = await api("/api/locations", { signal });
    } catch (error) {
      if (!signal.aborted) replace(problem, errorPanel(error, "Locations"));
      return;
    }
    if (signal.aborted) return;
    if (reloading.size === 0) replace(problem);
    const locations = body.locations || [];
    const open = new Set([...grid.querySelectorAll("details[open]")].map((d) => d.closest(".card").dataset.location));
    replace(grid, locations.map((loc) => card(loc, reload, reloading.has(loc.name))));
    for (const details of grid.querySelectorAll("details")) {
      if (open.has(details.closest(".card").dataset.location)) details.open = true;
    }
    const tally = {};
    for (const loc of locations) tally[loc.status] = (tally[loc.status] || 0) + 1;
    replace(summary, locations.length === 0 ? "No code locations."
      : Object.entries(tally).map(([status, n]) => `${n} ${status.toLowerCase()}`).join(" · "));
  };

  await refresh();
  every(3000, refresh, signal);
}
