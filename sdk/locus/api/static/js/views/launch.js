// Launching a job: location, job, run config and tags as JSON. A rejected
// launch shows the API's message and each invalid field's path.

import { api, query } from "../api.js";
import { h, replace } from "../dom.js";

function parseJson(text, what) {
  if (!text.trim()) return {};
  try {
    const value = JSON.parse(text);
    if (value === null || typeof value !== "object" || Array.isArray(value)) throw new Error("must be a JSON object");
    return value;
  } catch (error) {
    throw Object.assign(new Error(`${what} is not a JSON object: ${error.message}`), { local: true });
  }
}

function problemBox(error) {
  const fields = (error.details && error.details.errors) || [];
  return h("div", { class: "error-box", role: "alert" },
    h("div", { class: "error-title" }, error.message),
    error.hint ? h("div", { class: "hint" }, error.hint) : null,
    fields.length ? h("ul", { class: "field-errors" },
      fields.map((f) => h("li", {}, h("code", {}, f.path || "(root)"), " ", f.message))) : null);
}

export async function launchView(container, { params, signal }) {
  const location = h("select", { name: "location", required: true });
  const jobSelect = h("select", { name: "job" });
  const jobInput = h("input", { name: "job_text", placeholder: "job name", hidden: true });
  const config = h("textarea", { name: "run_config", rows: 12, spellcheck: "false", class: "mono" }, "{}");
  const tags = h("textarea", { name: "tags", rows: 3, spellcheck: "false", class: "mono" }, "{}");
  const problem = h("div");
  const submit = h("button", { type: "submit", class: "primary" }, "Launch run");
  const form = h("form", { class: "card form" },
    h("label", {}, "Location", location),
    h("label", {}, "Job", jobSelect, jobInput),
    h("label", {}, "Run config (JSON)", config),
    h("label", {}, "Tags (JSON object of strings)", tags),
    problem,
    h("div", { class: "actions" }, submit));
  replace(container, h("div", { class: "view-head" }, h("h1", {}, "Launch a run")), form);

  const loadJobs = async () => {
    replace(jobSelect);
    try {
      const body = await api(`/api/jobs${query({ location: location.value })}`, { signal });
      const jobs = (body.jobs || []).filter((j) => !j.location || j.location === location.value);
      jobSelect.hidden = false;
      jobInput.hidden = true;
      replace(jobSelect, jobs.map((j) => {
        const name = j.name || j.job_name;
        return h("option", { value: name, selected: name === params.get("job") }, name);
      }));
      if (jobs.length === 0) replace(jobSelect, h("option", { value: "" }, "(no jobs in this location)"));
    } catch {
      // No job list from this server: type the name instead.
      jobSelect.hidden = true;
      jobInput.hidden = false;
    }
  };

  try {
    const body = await api("/api/locations", { signal });
    const names = (body.locations || []).filter((l) => l.status === "LOADED").map((l) => l.name);
    replace(location, names.map((n) => h("option", { value: n, selected: n === params.get("location") }, n)));
    if (names.length === 0) replace(problem, h("div", { class: "notice" }, "No code location is loaded."));
  } catch (error) {
    replace(problem, problemBox(error));
  }
  location.addEventListener("change", loadJobs);
  if (location.value) await loadJobs();

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    replace(problem);
    submit.disabled = true;
    try {
      const created = await api("/api/runs", {
        method: "POST",
        body: {
          location: location.value,
          job_name: (jobSelect.hidden ? jobInput.value : jobSelect.value) || null,
          run_config: parseJson(config.value, "Run config"),
          tags: parseJson(tags.value, "Tags"),
        },
      });
      window.location.hash = `#/runs/${encodeURIComponent(created.run_id)}`;
    } catch (error) {
      replace(problem, problemBox(error));
    } finally {
      submit.disabled = false;
    }
  });
}
