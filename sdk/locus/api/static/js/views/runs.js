// The run list: newest first, filtered by status, more pages on demand
// through next_cursor. The first page refreshes itself.

import { api, query } from "../api.js";
import { badge, errorPanel, every, h, replace } from "../dom.js";
import { ago, dateTime, runDuration } from "../format.js";

export const RUN_STATUSES = ["QUEUED", "NOT_STARTED", "STARTING", "STARTED", "SUCCESS", "FAILURE", "CANCELING",
  "CANCELED"];

export function runLink(runId, text) {
  return h("a", { href: `#/runs/${encodeURIComponent(runId)}`, class: "mono" }, text || runId.slice(0, 8));
}

function row(run) {
  return h("tr", { dataset: { runId: run.run_id } },
    h("td", {}, badge(run.status)),
    h("td", {}, runLink(run.run_id)),
    h("td", {}, run.job_name),
    h("td", {}, run.location_name || "—"),
    h("td", { title: dateTime(run.created_at) }, ago(run.created_at)),
    h("td", { class: "num" }, runDuration(run)));
}

export async function runsView(container, { params, signal }) {
  const status = params.get("status") || "";
  const filter = h("select", { "aria-label": "Filter by status" },
    h("option", { value: "" }, "All statuses"),
    RUN_STATUSES.map((s) => h("option", { value: s, selected: s === status }, s)));
  filter.addEventListener("change", () => {
    window.location.hash = `#/runs${query({ status: filter.value })}`;
  });
  const body = h("tbody");
  const problem = h("div");
  const more = h("button", { type: "button", hidden: true }, "Load more");
  const empty = h("p", { class: "muted", hidden: true }, status ? `No ${status} runs.` : "No runs yet.");
  replace(container,
    h("div", { class: "view-head" }, h("h1", {}, "Runs"), h("span", { class: "spacer" }), filter,
      h("a", { class: "button primary", href: "#/launch" }, "Launch a run")),
    problem,
    h("table", { class: "table" },
      h("thead", {}, h("tr", {}, ["Status", "Run", "Job", "Location", "Created", "Duration"].map((t) => h("th", {}, t)))),
      body),
    empty, h("div", { class: "more" }, more));

  let cursor = null;
  let pages = 0;
  const load = async (after) => {
    let page;
    try {
      page = await api(`/api/runs${query({ status, limit: 50, cursor: after })}`, { signal });
    } catch (error) {
      if (!signal.aborted) replace(problem, errorPanel(error, "Runs"));
      return;
    }
    if (signal.aborted) return;
    replace(problem);
    const rows = (page.runs || []).map(row);
    if (after) body.append(...rows);
    else replace(body, rows);
    pages = after ? pages + 1 : 1;
    cursor = page.next_cursor || null;
    more.hidden = !cursor;
    empty.hidden = body.children.length > 0;
  };
  more.addEventListener("click", () => load(cursor));
  await load(null);
  // Only the first page refreshes: replacing it would drop loaded pages.
  every(3000, () => (pages <= 1 ? load(null) : null), signal);
}
