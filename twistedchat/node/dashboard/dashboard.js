// The cluster dashboard: polls this node's /status, then each member's, and draws them.
// No framework and no build step: the node serves this file as it is.
"use strict";

const POLL_MS = 1500;
const MEMBER_TIMEOUT_MS = 3000; // a busy node answers late; a poll waits for every answer
const TOKEN_KEY = "twistedchat-status-token";

function $(id) { return document.getElementById(id); }

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value !== null && value !== undefined) node.setAttribute(name, value);
  }
  for (const child of children) {
    node.append(child instanceof Node ? child : document.createTextNode(String(child ?? "")));
  }
  return node;
}

function headers() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token ? { Authorization: "Bearer " + token } : {};
}

// One /status document, or {error} saying why not (never throws).
async function fetchStatus(url) {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), MEMBER_TIMEOUT_MS);
  try {
    const response = await fetch(url, { headers: headers(), signal: abort.signal, cache: "no-store" });
    if (response.status === 401) return { error: "token", unauthorized: true };
    if (!response.ok) return { error: "HTTP " + response.status };
    return await response.json();
  } catch (error) {
    return { error: abort.signal.aborted ? "no answer" : "unreachable" };
  } finally {
    clearTimeout(timer);
  }
}

function askForToken(message) {
  $("board").hidden = true;
  $("token-form").hidden = false;
  $("token-error").textContent = message || "";
  $("token").focus();
}

$("token-form")?.addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $("token").value.trim());
  $("token-form").hidden = true;
  poll();
});

// The leader as the documents that answered tell it: the highest term's.
function leaderOf(docs) {
  let best = null;
  for (const doc of docs) {
    if (doc.error || !doc.leader) continue;
    if (best === null || doc.term > best.term) best = { id: doc.leader, term: doc.term };
  }
  return best;
}

function renderNodes(own, docs) {
  const leader = leaderOf(Object.values(docs));
  const leaderDoc = leader && docs[leader.id] && !docs[leader.id].error ? docs[leader.id] : null;
  const leaderLag = {};
  for (const member of (leaderDoc || own).members || []) leaderLag[member.id] = member.lag;
  const highestCommit = Math.max(...Object.values(docs).filter((d) => !d.error).map((d) => d.commit_index));
  const body = $("nodes").querySelector("tbody");
  body.replaceChildren();
  for (const member of own.members) {
    const doc = docs[member.id] || { error: "no status address" };
    const reachable = !doc.error;
    const role = reachable ? doc.role :
      "unreachable" + (member.announced_role ? " (was " + member.announced_role + ")" : "");
    let lag = "";
    if (leaderLag[member.id] !== undefined && leaderLag[member.id] !== null) lag = leaderLag[member.id];
    else if (reachable && leader && member.id === leader.id) lag = 0;
    else if (reachable && Number.isFinite(highestCommit)) lag = Math.max(highestCommit - doc.applied_index, 0);
    const heard = member.id === own.node_id ? "serving" :
      member.last_contact_seconds_ago === null ? "never" : member.last_contact_seconds_ago.toFixed(1) + " s ago";
    const classes = [leader && member.id === leader.id ? "leader" : "", reachable ? "" : "unreachable"];
    body.append(el("tr", { class: classes.join(" ").trim() || null, "data-node": member.id, "data-role": role },
      el("td", {}, member.id),
      el("td", { class: "role-" + (reachable ? role : "unreachable") }, role + (member.voter ? "" : " (learner)")),
      el("td", {}, reachable ? doc.term : (member.announced_term ?? "")),
      el("td", {}, reachable ? doc.commit_index : ""),
      el("td", {}, reachable ? doc.applied_index : ""),
      el("td", {}, lag),
      el("td", {}, reachable ? doc.clients : member.clients),
      el("td", {}, reachable ? doc.elections : ""),
      el("td", {}, reachable ? doc.leader_changes : ""),
      el("td", {}, reachable ? heard : heard + " (" + doc.error + ")")));
  }
  $("leader").textContent = leader ? leader.id : "none";
  $("term").textContent = leader ? leader.term : own.term;
}

// The serving node's message rate as a line: the last 10 minutes at most, one minute at
// least (a young cluster's few samples fill the width instead of hugging the right edge).
function renderRate(rate) {
  const values = rate && rate.per_second ? rate.per_second : [];
  const step = rate ? rate.step_seconds : 2;
  const slots = Math.min(Math.max(values.length, Math.round(60 / step)), Math.round(600 / step));
  const peak = Math.max(1, ...values);
  const width = 600, height = 160;
  const x = (i) => ((slots - values.length + i) / Math.max(slots - 1, 1)) * width;
  const y = (v) => height - 4 - (v / peak) * (height - 12);
  $("rate-line").setAttribute("points", values.map((v, i) => x(i).toFixed(1) + "," + y(v).toFixed(1)).join(" "));
  const grid = $("rate-grid");
  grid.replaceChildren();
  const svg = "http://www.w3.org/2000/svg";
  for (const fraction of [0.25, 0.5, 0.75, 1]) {
    const line = document.createElementNS(svg, "line");
    line.setAttribute("x1", "0"); line.setAttribute("x2", String(width));
    line.setAttribute("y1", y(peak * fraction).toFixed(1)); line.setAttribute("y2", y(peak * fraction).toFixed(1));
    grid.append(line);
  }
  const span = slots * step;
  $("rate-start").textContent = span >= 120 ? "−" + Math.round(span / 60) + " min" : "−" + Math.round(span) + " s";
  const latest = values.length ? values[values.length - 1] : 0;
  $("rate-now").textContent = "now " + latest.toFixed(1) + "/s, peak " + (values.length ? peak.toFixed(1) : "0") +
    "/s (top line), one point per " + step + " s";
}

function renderCounters(id, counters) {
  const body = $(id).querySelector("tbody");
  body.replaceChildren();
  for (const [name, value] of Object.entries(counters || {}).sort()) {
    body.append(el("tr", {}, el("td", {}, name.replaceAll("_", " ")), el("td", {}, value)));
  }
}

async function poll() {
  try {
    const own = await fetchStatus("/status");
    if (own.unauthorized) {
      askForToken(sessionStorage.getItem(TOKEN_KEY) ? "that token was refused" : "");
      return; // polling resumes when a token is given
    }
    if (own.error) throw new Error("this node: " + own.error);
    const docs = { [own.node_id]: own };
    await Promise.all(own.members.filter((m) => m.id !== own.node_id).map(async (member) => {
      docs[member.id] = member.status ?
        await fetchStatus(location.protocol + "//" + member.status + "/status") : { error: "not heard" };
    }));
    $("served-by").textContent = own.node_id;
    renderNodes(own, docs);
    renderRate(own.message_rate);
    renderCounters("discovery", own.discovery);
    renderCounters("peer-links", own.peer_links);
    renderCounters("chat", {
      users: own.users, channels: own.channels, clients_here: own.clients,
      messages_applied: own.messages, deliveries_here: own.deliveries,
      flood_kills_here: own.flood_kills, sendq_drops_here: own.sendq_drops,
    });
    $("board").hidden = false;
    $("error").textContent = "";
    $("updated").textContent = "updated " + new Date().toLocaleTimeString();
  } catch (error) {
    $("error").textContent = "cannot read the status: " + error.message;
  }
  setTimeout(poll, POLL_MS);
}

poll();
