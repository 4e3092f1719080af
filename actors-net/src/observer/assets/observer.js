// The observer page: draws each snapshot the node sends. Every text from the cluster goes
// into the page as text (never as markup), so a name or a state cannot run as code.
"use strict";

const state = {
  snapshot: null,
  pressed: false,       // a button is held down: the page waits to redraw, so the click lands
  selected: null,       // the node whose trees and processes are shown
  detail: null,         // the pid text of the process shown in full
  sort: "queue",
  rates: new Map(),     // pid -> {handled, at, rate}
};

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k === "onclick") e.addEventListener("click", v);
    else if (k === "dataset") Object.assign(e.dataset, v);
    else e.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function svg(tag, attrs) {
  const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
}

function bytes(n) {
  const units = ["B", "KiB", "MiB", "GiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n : n.toFixed(1)) + " " + units[i];
}

function pidLink(pid) {
  return el("span", { class: "pid", title: "show " + pid.id, dataset: { pid: pid.id },
    onclick: (ev) => { ev.stopPropagation(); openDetail(pid.id); } }, pid.id);
}

function short(node) {
  return node.split("@")[0];
}

function node(name) {
  return state.snapshot.nodes.find((n) => n.name === name);
}

function render() {
  const s = state.snapshot;
  if (!s || state.pressed) return;
  if (!state.selected || !node(state.selected)) state.selected = s.serving;
  document.getElementById("serving").textContent = "served by " + s.serving;
  renderNodes(s);
  renderGraph(s);
  renderConnections(s);
  renderTrees(node(state.selected));
  renderProcesses(node(state.selected));
  renderNames(s);
  renderGroups(s);
  if (state.detail) refreshDetail();
}

function select(name) {
  state.selected = name;
  render();
}

function renderNodes(s) {
  const box = document.getElementById("nodes");
  box.replaceChildren(...s.nodes.map((n) => {
    const cls = [n.name === state.selected ? "selected" : "", n.error ? "unreachable" : ""].join(" ");
    const label = n.error ? n.name : `${n.name} · ${n.load.processes} processes`;
    return el("button", { class: cls, title: n.error || n.name, dataset: { node: n.name },
      onclick: () => select(n.name) }, label);
  }));
}

function renderGraph(s) {
  const g = document.getElementById("graph");
  const cx = 180, cy = 130, r = s.nodes.length > 1 ? 95 : 0;
  const at = new Map();
  s.nodes.forEach((n, i) => {
    const a = (2 * Math.PI * i) / s.nodes.length - Math.PI / 2;
    at.set(n.name, [cx + r * Math.cos(a), cy + r * Math.sin(a)]);
  });
  const parts = [];
  const drawn = new Set();
  for (const n of s.nodes) {
    for (const c of n.connections) {
      const key = [n.name, c.peer].sort().join(" ");
      if (drawn.has(key) || !at.has(c.peer)) continue;
      drawn.add(key);
      const [x1, y1] = at.get(n.name), [x2, y2] = at.get(c.peer);
      parts.push(svg("line", { x1, y1, x2, y2 }));
    }
  }
  for (const n of s.nodes) {
    const [x, y] = at.get(n.name);
    const c = svg("circle", { cx: x, cy: y, r: 18,
      class: (n.name === state.selected ? "selected " : "") + (n.error ? "unreachable" : "") });
    c.addEventListener("click", () => select(n.name));
    const title = svg("title");
    title.textContent = n.name;
    c.append(title);
    const t = svg("text", { x, y: y + 32 });
    t.textContent = short(n.name);
    parts.push(c, t);
  }
  g.replaceChildren(...parts);
}

function renderConnections(s) {
  const n = node(state.selected);
  const table = document.getElementById("connections");
  const head = el("tr", {}, ...["peer", "frames in", "frames out", "bytes in", "bytes out",
    "queued", "heard", "round trip", ""].map((h, i) => el("th", { class: i > 0 && i < 8 ? "num" : "" }, h)));
  const rows = (n.connections || []).map((c) => el("tr", { dataset: { peer: c.peer } },
    el("td", {}, c.peer),
    el("td", { class: "num" }, c.frames_in),
    el("td", { class: "num" }, c.frames_out),
    el("td", { class: "num" }, bytes(c.bytes_in)),
    el("td", { class: "num" }, bytes(c.bytes_out)),
    el("td", { class: "num" }, bytes(c.queued_bytes)),
    el("td", { class: "num" }, c.heard_ago_ms + " ms ago"),
    el("td", { class: "num" }, c.round_trip_us === null ? "–" : c.round_trip_us + " µs"),
    el("td", {}, s.actions && n.name === s.serving
      ? el("button", { class: "small", onclick: () => act("/api/disconnect", { node: c.peer }) }, "disconnect")
      : null)));
  const empty = n.error ? el("tr", {}, el("td", { class: "empty", colspan: 9 }, n.error))
    : rows.length === 0 ? el("tr", {}, el("td", { class: "empty", colspan: 9 }, "no connections")) : null;
  table.replaceChildren(head, ...rows, ...(empty ? [empty] : []));
}

function tree(t) {
  const label = el("span", { class: "sup" }, t.name || "supervisor");
  const items = t.children.map((c) => {
    const li = el("li", { dataset: { child: c.id, restarts: c.restarts } },
      el("span", {}, c.id), " ",
      c.pid ? pidLink(c.pid) : el("span", { class: "tag" }, "not running"),
      el("span", { class: "tag" }, c.restart.toLowerCase()),
      el("span", { class: c.restarts > 0 ? "tag restarts" : "tag" },
        c.restarts === 1 ? "1 restart" : `${c.restarts} restarts`));
    if (c.tree) li.append(tree(c.tree));
    return li;
  });
  return el("ul", { class: "tree" },
    el("li", { dataset: { supervisor: t.pid.id } }, label, " ", pidLink(t.pid),
      el("span", { class: "tag" }, t.strategy), el("ul", { class: "tree" }, ...items)));
}

function renderTrees(n) {
  document.getElementById("trees-node").textContent = n.name;
  const box = document.getElementById("trees");
  const trees = n.trees.map((t) => { const u = tree(t); u.classList.add("root"); return u; });
  box.replaceChildren(...(trees.length ? trees : [el("p", { class: "empty" }, "no supervisors")]));
}

function rate(p, now) {
  const seen = state.rates.get(p.pid.id);
  let r = 0;
  if (seen && now > seen.at) r = Math.max(0, (p.handled - seen.handled) / ((now - seen.at) / 1000));
  else if (seen) r = seen.rate;
  state.rates.set(p.pid.id, { handled: p.handled, at: now, rate: r });
  return r;
}

function renderProcesses(n) {
  document.getElementById("procs-node").textContent = n.name;
  const now = Date.now();
  const procs = n.processes.map((p) => ({ ...p, rate: rate(p, now) }));
  const key = state.sort;
  procs.sort((a, b) => b[key] - a[key]);
  const head = el("tr", {}, ...["pid", "name", "actor", "mailbox", "msgs/s", "handled", "restarts"]
    .map((h, i) => el("th", { class: i > 2 ? "num" : "" }, h)));
  const rows = procs.map((p) => el("tr", { class: "clickable", dataset: { process: p.pid.id },
      onclick: () => openDetail(p.pid.id) },
    el("td", {}, pidLink(p.pid)),
    el("td", {}, p.name || ""),
    el("td", {}, p.actor),
    el("td", { class: "num" }, p.queue),
    el("td", { class: "num" }, p.rate.toFixed(1)),
    el("td", { class: "num" }, p.handled),
    el("td", { class: "num" }, p.restarts === null ? "" : p.restarts)));
  const more = n.processes_total > n.processes.length
    ? [el("tr", {}, el("td", { class: "empty", colspan: 7 },
        `${n.processes_total - n.processes.length} more not listed (the longest mailboxes are)`))] : [];
  table("processes", head, rows.concat(more), "no processes");
}

function table(id, head, rows, empty) {
  const t = document.getElementById(id);
  t.replaceChildren(head, ...(rows.length ? rows : [el("tr", {}, el("td", { class: "empty" }, empty))]));
}

function renderNames(s) {
  const serving = node(s.serving);
  const head = el("tr", {}, el("th", {}, "name"), el("th", {}, "process"), el("th", {}, "node"));
  const rows = serving.global_names.map((g) => el("tr", { dataset: { globalName: g.name } },
    el("td", {}, g.name), el("td", {}, pidLink(g.pid)), el("td", {}, g.pid.node)));
  table("names", head, rows, "no global names");
}

function renderGroups(s) {
  const serving = node(s.serving);
  const head = el("tr", {}, el("th", {}, "scope"), el("th", {}, "group"), el("th", {}, "members"));
  const rows = serving.groups.map((g) => el("tr", { dataset: { group: g.group } },
    el("td", {}, g.scope), el("td", {}, g.group),
    el("td", {}, ...g.members.flatMap((m, i) => (i ? [" ", pidLink(m)] : [pidLink(m)])))));
  table("groups", head, rows, "no groups");
}

async function openDetail(pid) {
  state.detail = pid;
  document.getElementById("detail").hidden = false;
  document.getElementById("detail-note").textContent = "";
  await refreshDetail();
}

async function refreshDetail() {
  const pid = state.detail;
  const title = document.getElementById("detail-title");
  const fields = document.getElementById("detail-fields");
  const stateBox = document.getElementById("detail-state");
  const kill = document.getElementById("kill");
  title.textContent = pid;
  let d;
  try {
    const r = await fetch("/api/process?pid=" + encodeURIComponent(pid));
    if (!r.ok) {
      fields.replaceChildren(el("dt", {}, "status"), el("dd", {}, (await r.text()).trim()));
      stateBox.textContent = "";
      kill.hidden = true;
      return;
    }
    d = await r.json();
  } catch (e) {
    return;
  }
  if (state.detail !== pid) return;
  const list = (pids) => (pids.length ? el("span", {}, ...pids.flatMap((p, i) => (i ? [" ", pidLink(p)] : [pidLink(p)]))) : "none");
  const rows = [
    ["node", d.pid.node], ["name", d.name || "–"], ["actor", d.actor],
    ["mailbox", d.queue], ["handled", d.handled],
    ["restarts", d.restarts === null ? "–" : d.restarts], ["traps exits", d.trap_exit ? "yes" : "no"],
    ["parent", d.parent ? pidLink(d.parent) : "–"], ["links", list(d.links)],
    ["monitors", list(d.monitors)], ["monitored by", d.monitored_by],
  ];
  fields.replaceChildren(...rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  stateBox.textContent = d.state === null ? "not shown: the actor opts in with #[actor(debug)]" : d.state;
  kill.hidden = !(state.snapshot && state.snapshot.actions);
}

async function act(path, body) {
  const note = document.getElementById("detail-note");
  const r = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body) });
  const text = (await r.text()).trim();
  note.textContent = r.ok ? "done" : text;
  return r.ok;
}

function connect() {
  const status = document.getElementById("status");
  const events = new EventSource("/api/events");
  events.onmessage = (m) => {
    state.snapshot = JSON.parse(m.data);
    status.textContent = "live · " + new Date().toLocaleTimeString();
    status.classList.remove("down");
    render();
  };
  events.onerror = () => {
    status.textContent = "reconnecting…";
    status.classList.add("down");
  };
}

document.addEventListener("pointerdown", () => { state.pressed = true; });
document.addEventListener("pointerup", () => {
  state.pressed = false;
  // After the click that the release makes.
  setTimeout(render, 0);
});

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("sort").addEventListener("change", (e) => {
    state.sort = e.target.value;
    render();
  });
  document.getElementById("close-detail").addEventListener("click", () => {
    state.detail = null;
    document.getElementById("detail").hidden = true;
  });
  document.getElementById("kill").addEventListener("click", async () => {
    if (state.detail && (await act("/api/kill", { pid: state.detail }))) {
      document.getElementById("detail-note").textContent = "killed " + state.detail;
    }
  });
  connect();
});
