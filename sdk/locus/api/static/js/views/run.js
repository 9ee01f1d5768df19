// One run: its header and actions, a step timeline, the live event log and
// the steps' stdout/stderr. Events arrive over server-sent events; when the
// stream is unavailable the page polls for events after the last one seen.

import { api, enc, query } from "../api.js";
import { badge, errorPanel, every, h, replace } from "../dom.js";
import { FINISHED, dateTime, runDuration, seconds, timeOfDay } from "../format.js";
import { runLink } from "./runs.js";

const STATUS_BY_EVENT = {
  RUN_ENQUEUED: "QUEUED", RUN_STARTING: "STARTING", RUN_START: "STARTED", RUN_SUCCESS: "SUCCESS",
  RUN_FAILURE: "FAILURE", RUN_CANCELING: "CANCELING", RUN_CANCELED: "CANCELED",
};
const STEP_END = { STEP_SUCCESS: "SUCCESS", STEP_FAILURE: "FAILURE", STEP_SKIPPED: "SKIPPED" };

/** Steps from events: [{key, start, end, status}], in order of first start. */
export function stepSpans(events) {
  const steps = new Map();
  for (const e of events) {
    if (!e.step_key) continue;
    const step = steps.get(e.step_key) || { key: e.step_key, start: null, end: null, status: "PENDING" };
    if (e.event_type === "STEP_START") {
      step.start = step.start ?? e.timestamp;
      step.status = "STARTED";
    } else if (STEP_END[e.event_type]) {
      step.end = e.timestamp;
      step.status = STEP_END[e.event_type];
      step.start = step.start ?? e.timestamp;
    } else if (e.event_type === "STEP_UP_FOR_RETRY") {
      step.status = "RETRYING";
    }
    steps.set(e.step_key, step);
  }
  return [...steps.values()].filter((s) => s.start !== null).sort((a, b) => a.start - b.start);
}

function timeline(events, now) {
  const spans = stepSpans(events);
  if (spans.length === 0) return h("p", { class: "muted" }, "No step has started yet.");
  const t0 = Math.min(...spans.map((s) => s.start));
  const t1 = Math.max(...spans.map((s) => s.end ?? now), t0 + 0.001);
  const pct = (t) => `${(((t - t0) / (t1 - t0)) * 100).toFixed(2)}%`;
  return h("div", { class: "timeline" },
    spans.map((s) => {
      const end = s.end ?? now;
      return h("div", { class: "timeline-row", dataset: { step: s.key } },
        h("div", { class: "timeline-label mono", title: s.key }, s.key),
        h("div", { class: "timeline-track" },
          h("div", {
            class: `timeline-bar status-${s.status.toLowerCase()}`,
            style: `left:${pct(s.start)};width:max(3px, calc(${pct(end)} - ${pct(s.start)}))`,
            title: `${s.key}: ${s.status} in ${seconds(end - s.start)}`,
          })),
        h("div", { class: "timeline-time num" }, seconds(end - s.start)));
    }),
    h("div", { class: "timeline-axis muted" }, h("span", {}, "0 s"), h("span", {}, seconds(t1 - t0))));
}

function eventRow(e) {
  const level = String(e.level || "INFO").toLowerCase();
  return h("tr", { class: `event level-${level}`, dataset: { type: e.event_type } },
    h("td", { class: "mono muted nowrap" }, timeOfDay(e.timestamp)),
    h("td", { class: "nowrap" }, h("span", { class: `event-type type-${e.event_type.toLowerCase()}` }, e.event_type)),
    h("td", { class: "mono" }, e.step_key || ""),
    h("td", {}, e.message || "",
      e.error ? h("details", { class: "event-error" },
        h("summary", {}, `${e.error.cls_name}: ${e.error.message}`),
        h("pre", { class: "traceback" }, e.error.traceback || "")) : null));
}

/** The logs endpoint as [{step_key, stdout, stderr}], whichever way it nests them. */
function normaliseLogs(body) {
  const found = body && (body.logs ?? body.steps ?? body);
  if (Array.isArray(found)) return found;
  if (found && typeof found === "object") {
    return Object.entries(found).map(([step_key, v]) => ({ step_key, ...(v || {}) }));
  }
  return [];
}

function logsPanel(body) {
  const steps = normaliseLogs(body).filter((s) => s.stdout || s.stderr);
  if (steps.length === 0) return h("p", { class: "muted" }, "No step wrote to stdout or stderr.");
  return steps.map((s) => h("details", { class: "step-logs" },
    h("summary", { class: "mono" }, s.step_key),
    s.stdout ? [h("div", { class: "stream-name" }, "stdout"), h("pre", { class: "log" }, s.stdout)] : null,
    s.stderr ? [h("div", { class: "stream-name" }, "stderr"), h("pre", { class: "log stderr" }, s.stderr)] : null));
}

export async function runView(container, { args: [runId], signal }) {
  const head = h("div", { class: "view-head" });
  const problem = h("div");
  const summary = h("dl", { class: "facts wide" });
  const actions = h("div", { class: "actions" });
  const timelineBox = h("div");
  const eventBody = h("tbody");
  const liveNote = h("span", { class: "muted small-text" });
  const logsBox = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  replace(container, head, problem,
    h("section", { class: "card" }, summary, actions),
    h("section", { class: "card" }, h("h2", {}, "Step timeline"), timelineBox),
    h("section", { class: "card" }, h("div", { class: "card-head" }, h("h2", {}, "Event log"), liveNote),
      h("div", { class: "scroll" }, h("table", { class: "table events" },
        h("thead", {}, h("tr", {}, ["Time", "Event", "Step", "Message"].map((t) => h("th", {}, t)))), eventBody))),
    h("section", { class: "card" }, h("h2", {}, "Step output"), logsBox));

  let run = null;
  const events = [];
  let lastId = -1;

  const renderRun = () => {
    const now = Date.now() / 1000;
    replace(head, h("h1", {}, "Run ", h("span", { class: "mono" }, runId.slice(0, 8))),
      badge(run.status), h("span", { class: "spacer" }), h("a", { href: "#/runs" }, "All runs"));
    const facts = [
      ["Job", run.job_name], ["Location", run.location_name || "—"], ["Run id", run.run_id],
      ["Created", dateTime(run.created_at)], ["Started", dateTime(run.start_time)],
      ["Duration", runDuration(run, now)],
      run.asset_selection ? ["Assets", run.asset_selection.map((k) => (Array.isArray(k) ? k.join("/") : k)).join(", ")]
        : null,
      run.parent_run_id ? ["Re-execution of", runLink(run.parent_run_id)] : null,
    ].filter(Boolean);
    replace(summary, facts.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
    const finished = FINISHED.has(run.status);
    replace(actions,
      h("button", { type: "button", class: "danger", disabled: finished || run.status === "CANCELING",
        onclick: terminate }, "Terminate"),
      h("button", { type: "button", disabled: !finished, onclick: () => reexecute("ALL_STEPS") }, "Re-execute"),
      h("button", { type: "button", disabled: run.status !== "FAILURE", onclick: () => reexecute("FROM_FAILURE") },
        "Re-execute from failure"));
    replace(timelineBox, timeline(events, now));
  };

  const terminate = async () => {
    try {
      await api(`/api/runs/${enc(runId)}/terminate`, { method: "POST" });
      await refreshRun();
    } catch (error) {
      replace(problem, errorPanel(error, "Terminate"));
    }
  };
  const reexecute = async (strategy) => {
    try {
      const created = await api(`/api/runs/${enc(runId)}/reexecute`, { method: "POST", body: { strategy } });
      window.location.hash = `#/runs/${encodeURIComponent(created.run_id)}`;
    } catch (error) {
      replace(problem, errorPanel(error, "Re-execute"));
    }
  };

  const addEvents = (batch) => {
    const fresh = batch.filter((e) => e.storage_id === undefined || e.storage_id > lastId);
    if (fresh.length === 0) return;
    const atBottom = eventBody.closest(".scroll");
    const stick = atBottom && atBottom.scrollTop + atBottom.clientHeight >= atBottom.scrollHeight - 8;
    for (const e of fresh) {
      if (e.storage_id !== undefined) lastId = Math.max(lastId, e.storage_id);
      events.push(e);
      eventBody.append(eventRow(e));
      if (run && STATUS_BY_EVENT[e.event_type]) run.status = STATUS_BY_EVENT[e.event_type];
    }
    if (stick) atBottom.scrollTop = atBottom.scrollHeight;
    if (run) renderRun();
    if (fresh.some((e) => STATUS_BY_EVENT[e.event_type])) refreshRun();
  };

  const refreshRun = async () => {
    const body = await api(`/api/runs/${enc(runId)}`, { signal });
    if (signal.aborted) return body;
    run = body.run;
    renderRun();
    if (FINISHED.has(run.status)) loadLogs();
    return body;
  };

  const loadLogs = async () => {
    try {
      const body = await api(`/api/runs/${enc(runId)}/logs`, { signal });
      if (!signal.aborted) replace(logsBox, logsPanel(body));
    } catch (error) {
      if (!signal.aborted) replace(logsBox, errorPanel(error, "Step output"));
    }
  };

  let first;
  try {
    first = await refreshRun();
  } catch (error) {
    if (!signal.aborted) replace(head, h("h1", {}, "Run"), errorPanel(error, `Run ${runId}`));
    return;
  }
  addEvents(first.events || []);
  if (!FINISHED.has(run.status)) loadLogs();
  if (FINISHED.has(run.status) && !signal.aborted) {
    liveNote.textContent = "finished";
    return;
  }
  every(1000, () => (run && !FINISHED.has(run.status) ? renderRun() : null), signal);
  follow();

  function follow() {
    if (typeof EventSource === "undefined") return poll();
    const source = new EventSource(`/api/runs/${enc(runId)}/events/stream${query({ after: lastId >= 0 ? lastId : "" })}`);
    let opened = false;
    signal.addEventListener("abort", () => source.close());
    source.onopen = () => {
      opened = true;
      liveNote.textContent = "live";
    };
    source.onmessage = (message) => addEvents([JSON.parse(message.data)]);
    source.addEventListener("end", () => {
      source.close();
      liveNote.textContent = "finished";
      refreshRun().catch(() => {});
    });
    source.onerror = () => {
      if (source.readyState === EventSource.CLOSED || !opened) {
        source.close();
        if (!signal.aborted && liveNote.textContent !== "finished") poll();
      }
    };
  }

  // Polling: /events?after= when the server has it, else the run itself.
  async function poll() {
    liveNote.textContent = "polling";
    let eventsEndpoint = true;
    while (!signal.aborted && !(run && FINISHED.has(run.status))) {
      try {
        if (eventsEndpoint) {
          const body = await api(`/api/runs/${enc(runId)}/events${query({ after: Math.max(lastId, 0) })}`, { signal });
          addEvents(body.events || []);
        } else {
          addEvents((await refreshRun()).events || []);
        }
      } catch (error) {
        if (signal.aborted) return;
        if (error.routeMissing) eventsEndpoint = false;
        else replace(problem, errorPanel(error, "Following the run"));
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    if (!signal.aborted) {
      liveNote.textContent = "finished";
      await refreshRun().catch(() => {});
    }
  }
}
