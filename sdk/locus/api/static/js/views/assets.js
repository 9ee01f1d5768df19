// The asset graph, one DAG per code location: boxes with key, group and
// latest materialisation, edges from upstream to downstream. Click boxes to
// select them and materialise the selection in that location.

import { api, query } from "../api.js";
import { errorPanel, h, replace, s } from "../dom.js";
import { layout } from "../dag.js";
import { ago, assetKey, dateTime } from "../format.js";

const BOX = { width: 208, height: 66, gapX: 76, gapY: 18, margin: 14 };

function clip(text, max) {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function graph(assets, selected, onToggle) {
  const nodes = assets.map((a) => ({ id: a.key, upstream: a.upstream }));
  const placed = layout(nodes, BOX);
  const svg = s("svg", {
    class: "dag", width: placed.width, height: placed.height, viewBox: `0 0 ${placed.width} ${placed.height}`,
    role: "group", "aria-label": "Asset graph",
  });
  svg.append(s("defs", {}, s("marker", {
    id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse",
  }, s("path", { d: "M0,0 L10,5 L0,10 z", class: "arrow" }))));
  for (const edge of placed.edges) {
    svg.append(s("path", { d: edge.path, class: "edge", "marker-end": "url(#arrow)",
      "data-from": edge.from, "data-to": edge.to }));
  }
  for (const asset of assets) {
    const at = placed.positions.get(asset.key);
    const latest = asset.latest_materialization;
    const isSelected = selected.has(asset.key);
    const node = s("g", {
      class: `node${isSelected ? " selected" : ""}${latest ? "" : " never"}`,
      transform: `translate(${at.x},${at.y})`, tabindex: 0, role: "checkbox", "aria-checked": String(isSelected),
      "data-key": asset.key,
    },
    s("title", {}, [asset.key, asset.description].filter(Boolean).join("\n")),
    s("rect", { width: BOX.width, height: BOX.height, rx: 8 }),
    s("rect", { class: "check", x: BOX.width - 22, y: 10, width: 12, height: 12, rx: 3 }),
    s("text", { x: 12, y: 22, class: "node-key" }, clip(asset.key, 24)),
    s("text", { x: 12, y: 40, class: "node-meta" },
      clip([asset.group || "default", ...(asset.kinds || [])].join(" · "), 30)),
    latest
      ? s("a", { href: `#/runs/${encodeURIComponent(latest.run_id)}`, class: "node-link" },
        s("title", {}, `materialized ${dateTime(latest.timestamp)} by run ${latest.run_id}`),
        s("text", { x: 12, y: 57, class: "node-when" }, `materialized ${ago(latest.timestamp)}`))
      : s("text", { x: 12, y: 57, class: "node-when" }, "never materialized"));
    const toggle = (event) => {
      if (event.target.closest && event.target.closest("a")) return;
      event.preventDefault();
      onToggle(asset.key);
    };
    node.addEventListener("click", toggle);
    node.addEventListener("keydown", (event) => {
      if (event.key === " " || event.key === "Enter") toggle(event);
    });
    svg.append(node);
  }
  return h("div", { class: "dag-scroll" }, svg);
}

function locationSection(name, status, assets, problem) {
  const selected = new Set();
  const box = h("div");
  const count = h("span", { class: "muted" });
  const materialize = h("button", { type: "button", class: "primary", disabled: true }, "Materialize");
  const selectAll = h("button", { type: "button", class: "small" }, "Select all");
  const clear = h("button", { type: "button", class: "small" }, "Clear");
  const draw = () => {
    const focused = document.activeElement && document.activeElement.dataset
      ? document.activeElement.dataset.key : null;
    replace(box, graph(assets, selected, (key) => {
      if (selected.has(key)) selected.delete(key);
      else selected.add(key);
      draw();
    }));
    if (focused) {
      const again = [...box.querySelectorAll(".node")].find((n) => n.dataset.key === focused);
      if (again) again.focus();
    }
    count.textContent = selected.size ? `${selected.size} selected` : "click assets to select them";
    materialize.disabled = selected.size === 0 || status !== "LOADED";
    materialize.textContent = selected.size ? `Materialize ${selected.size}` : "Materialize";
  };
  selectAll.addEventListener("click", () => {
    for (const a of assets) selected.add(a.key);
    draw();
  });
  clear.addEventListener("click", () => {
    selected.clear();
    draw();
  });
  materialize.addEventListener("click", async () => {
    materialize.disabled = true;
    try {
      const created = await api("/api/runs", {
        method: "POST",
        body: { location: name, asset_selection: [...selected], run_config: {}, tags: {} },
      });
      window.location.hash = `#/runs/${encodeURIComponent(created.run_id)}`;
    } catch (error) {
      replace(problem, errorPanel(error, `Materializing in ${name}`));
      draw();
    }
  });
  draw();
  return h("section", { class: "card", dataset: { location: name } },
    h("header", { class: "card-head" }, h("h2", {}, name),
      h("span", { class: "muted" }, `${assets.length} asset${assets.length === 1 ? "" : "s"}`),
      h("span", { class: "spacer" }), count, selectAll, clear, materialize),
    box);
}

export async function assetsView(container, { params, signal }) {
  const chosen = params.get("location") || "";
  const problem = h("div");
  const picker = h("select", { "aria-label": "Location" }, h("option", { value: "" }, "All locations"));
  picker.addEventListener("change", () => {
    window.location.hash = `#/assets${query({ location: picker.value })}`;
  });
  const sections = h("div", { class: "stack" }, h("p", { class: "muted" }, "Loading…"));
  replace(container,
    h("div", { class: "view-head" }, h("h1", {}, "Assets"), h("span", { class: "spacer" }), picker),
    problem, sections);

  let locations = [];
  let assets;
  try {
    const [locs, found] = await Promise.all([
      api("/api/locations", { signal }).catch(() => ({ locations: [] })),
      api(`/api/assets${query({ location: chosen })}`, { signal }),
    ]);
    locations = locs.locations || [];
    assets = (found.assets || []).map((a) => ({
      ...a, key: assetKey(a.key), upstream: (a.upstream || []).map(assetKey),
    }));
  } catch (error) {
    if (!signal.aborted) replace(sections, errorPanel(error, "Assets"));
    return;
  }
  if (signal.aborted) return;
  const names = [...new Set([...locations.map((l) => l.name), ...assets.map((a) => a.location)])];
  for (const name of names) picker.append(h("option", { value: name, selected: name === chosen }, name));
  const status = new Map(locations.map((l) => [l.name, l.status]));
  const shown = names.filter((n) => (!chosen || n === chosen) && assets.some((a) => a.location === n));
  if (shown.length === 0) {
    replace(sections, h("p", { class: "muted" }, "No assets defined."));
    return;
  }
  replace(sections, shown.map((name) => locationSection(name, status.get(name) || "LOADED",
    assets.filter((a) => a.location === name), problem)));
}
