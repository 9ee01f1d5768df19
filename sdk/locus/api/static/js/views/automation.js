// Schedules and sensors: what each targets, whether it is running (a toggle)
// and its last tick.

import { api, enc } from "../api.js";
import { badge, errorPanel, every, h, replace } from "../dom.js";
import { ago, dateTime, seconds } from "../format.js";

function lastTick(item) {
  const tick = item.last_tick || (item.ticks && item.ticks[0]) || null;
  if (!tick) return h("span", { class: "muted" }, "no tick yet");
  const when = tick.timestamp ?? tick.tick_time ?? tick.created_at;
  return h("span", { title: dateTime(when) },
    tick.status ? badge(tick.status) : null, " ", ago(when),
    tick.error ? h("div", { class: "hint" }, `${tick.error.cls_name || "Error"}: ${tick.error.message}`) : null);
}

function trigger(kind, item) {
  if (kind === "schedules") return item.cron_schedule || item.cron || "—";
  const interval = item.minimum_interval_seconds ?? item.interval_seconds;
  return interval ? `every ${seconds(interval)}` : "—";
}

function table(kind, items, toggle) {
  if (items.length === 0) return h("p", { class: "muted" }, `No ${kind} defined.`);
  return h("table", { class: "table" },
    h("thead", {}, h("tr", {}, ["Name", "Location", kind === "schedules" ? "Cron" : "Interval", "Target", "State",
      "Last tick"].map((t) => h("th", {}, t)))),
    h("tbody", {}, items.map((item) => {
      const running = item.status === "RUNNING";
      return h("tr", { dataset: { name: item.name, location: item.location } },
        h("td", { class: "mono" }, item.name),
        h("td", {}, item.location),
        h("td", { class: "mono" }, trigger(kind, item)),
        h("td", {}, item.job_name || (item.job_names || []).join(", ") || "—"),
        h("td", {}, h("button", {
          type: "button", class: `toggle${running ? " on" : ""}`, role: "switch", "aria-checked": String(running),
          title: running ? "Stop" : "Start", onclick: (event) => toggle(kind, item, running, event.currentTarget),
        }, h("span", { class: "knob" }), running ? "RUNNING" : "STOPPED")),
        h("td", {}, lastTick(item)));
    })));
}

export async function automationView(container, { signal }) {
  const problem = h("div");
  const boxes = { schedules: h("div"), sensors: h("div") };
  replace(container, h("div", { class: "view-head" }, h("h1", {}, "Schedules & sensors")), problem,
    h("section", { class: "card" }, h("h2", {}, "Schedules"), boxes.schedules),
    h("section", { class: "card" }, h("h2", {}, "Sensors"), boxes.sensors));

  const toggle = async (kind, item, running, button) => {
    button.disabled = true;
    try {
      await api(`/api/${kind}/${enc(item.location)}/${enc(item.name)}/${running ? "stop" : "start"}`,
        { method: "POST" });
    } catch (error) {
      replace(problem, errorPanel(error, `${running ? "Stopping" : "Starting"} ${item.name}`));
    }
    await refresh();
  };

  const refresh = async () => {
    await Promise.all(Object.entries(boxes).map(async ([kind, box]) => {
      try {
        const body = await api(`/api/${kind}`, { signal });
        if (!signal.aborted) replace(box, table(kind, body[kind] || [], toggle));
      } catch (error) {
        if (!signal.aborted) replace(box, errorPanel(error, kind === "schedules" ? "Schedules" : "Sensors"));
      }
    }));
  };
  await refresh();
  every(5000, refresh, signal);
}
