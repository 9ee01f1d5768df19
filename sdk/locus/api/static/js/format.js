// Times and durations as people read them. API timestamps are epoch seconds.

export function dateTime(ts) {
  if (ts === null || ts === undefined) return "—";
  return new Date(ts * 1000).toLocaleString();
}

export function timeOfDay(ts) {
  if (ts === null || ts === undefined) return "";
  const d = new Date(ts * 1000);
  const ms = String(d.getMilliseconds()).padStart(3, "0");
  return `${d.toLocaleTimeString([], { hour12: false })}.${ms}`;
}

export function ago(ts, now = Date.now() / 1000) {
  if (ts === null || ts === undefined) return "never";
  const seconds = Math.max(0, now - ts);
  if (seconds < 45) return "just now";
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} d ago`;
}

export function seconds(total) {
  if (total === null || total === undefined || Number.isNaN(total)) return "—";
  if (total < 1) return `${Math.round(total * 1000)} ms`;
  if (total < 60) return `${Number.isInteger(total) ? total : total.toFixed(1)} s`;
  const minutes = Math.floor(total / 60);
  if (minutes < 60) return `${minutes} min ${Math.round(total % 60)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** A run's duration: finished runs from start to end, running ones until now. */
export function runDuration(run, now = Date.now() / 1000) {
  if (!run.start_time) return "—";
  return seconds((run.end_time || now) - run.start_time);
}

/** Asset keys arrive as "a/b" or as ["a", "b"]; the page uses "a/b". */
export function assetKey(key) {
  return Array.isArray(key) ? key.join("/") : String(key);
}

export const FINISHED = new Set(["SUCCESS", "FAILURE", "CANCELED"]);
