/*
** app.js
** amber's web viewer: machines, snapshots, and a paged walk through a heap
** graph over the JSON API (docs/api.md). Everything a VM sent is data: it is
** put into the page with textContent only, never parsed as HTML.
*/
"use strict";

const PAGE = 50;
const main = document.getElementById("main");
const crumbs = document.getElementById("crumbs");
const statusLine = document.getElementById("status");
const token = new URLSearchParams(location.search).get("token");

/* el("td", {class: "num"}, "text", childNode…): build DOM without HTML. */
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "onclick" || k === "onsubmit") e[k] = v;
    else e.setAttribute(k, v);
  }
  for (const k of kids) {
    if (k === null || k === undefined) continue;
    e.append(k instanceof Node ? k : String(k));
  }
  return e;
}

function link(href, ...kids) { return el("a", { href }, ...kids); }

async function api(path, opts) {
  const headers = { "Accept": "application/json" };
  if (token) headers["Authorization"] = "Bearer " + token;
  const r = await fetch(path, Object.assign({ headers }, opts || {}));
  let body = null;
  try { body = await r.json(); } catch (e) { body = null; }
  if (!r.ok) {
    const msg = body && body.error ? body.error : r.status + " " + r.statusText;
    const err = new Error(msg);
    err.status = r.status;
    err.hint = body && body.hint;
    throw err;
  }
  return body;
}

/* Strings from the API carry stray bytes as U+F7NN (docs/api.md); show them
** as \xNN so a reader sees the bytes, and cut very long ones. */
function bytesText(s, max) {
  if (s === null || s === undefined) return "";
  let out = "";
  for (const ch of s) {
    const cp = ch.codePointAt(0);
    if (cp >= 0xF700 && cp <= 0xF7FF) out += "\\x" + (cp - 0xF700).toString(16).padStart(2, "0");
    else if (cp < 0x20 || cp === 0x7F) out += "\\x" + cp.toString(16).padStart(2, "0");
    else out += ch;
    if (max && out.length > max) return out.slice(0, max) + "…";
  }
  return out;
}

function nodeLabel(n) {
  if (!n) return "?";
  const parts = [n.kind];
  if (n.type) parts.push(bytesText(n.type, 60));
  if (n.name) parts.push(bytesText(n.name, 60));
  if (n.kind === "string" && n.value !== undefined) parts.push(JSON.stringify(bytesText(n.value, 80)));
  return parts.join(" ") + " #" + n.id;
}

function valueView(snap, v, target) {
  if (!v) return "";
  switch (v.type) {
    case "nil": return el("span", { class: "v" }, "nil");
    case "boolean": return el("span", { class: "v" }, String(v.value));
    case "integer": return el("span", { class: "v" }, v.text);
    case "float": /* keep 3.0 apart from the integer 3 */
      return el("span", { class: "v", title: "float " + (v.hex || "") },
                /^-?\d+$/.test(v.text) ? v.text + ".0" : v.text);
    case "ref": return link("#/s/" + snap + "/n/" + v.node, nodeLabel(target || { id: v.node, kind: "node" }));
    default: return el("span", { class: "v" }, JSON.stringify(v));
  }
}

function edgeLabel(e) {
  if (e.name !== undefined && e.name !== null) return bytesText(e.name, 120);
  if (e.index !== undefined && e.index !== null) return "[" + e.index + "]";
  if (e.key) return "[" + (e.key.text || (e.key.type === "ref" ? "#" + e.key.node : e.key.type)) + "]";
  return "";
}

function setCrumbs(...items) {
  crumbs.replaceChildren();
  items.forEach((it, i) => {
    if (i) crumbs.append(" / ");
    crumbs.append(typeof it === "string" ? it : it);
  });
}

function showError(where, err) {
  where.append(el("p", { class: "err" }, err.message), err.hint ? el("p", {}, err.hint) : null);
}

/* A paged list: fetchPage(offset, limit) resolves to {rows, total?}; the
** rows are rendered by row(); never more than one page in the browser. */
function pagedTable(headers, fetchPage, row) {
  const box = el("div");
  let offset = 0;
  async function load() {
    box.replaceChildren(el("p", { class: "kind" }, "loading…"));
    try {
      const { rows, total } = await fetchPage(offset, PAGE);
      const tbody = el("tbody");
      rows.forEach(r => tbody.append(row(r)));
      const prev = el("button", { onclick: () => { offset = Math.max(0, offset - PAGE); load(); } }, "◀ previous");
      const next = el("button", { onclick: () => { offset += PAGE; load(); } }, "next ▶");
      prev.disabled = offset === 0;
      next.disabled = total !== undefined ? offset + rows.length >= total : rows.length < PAGE;
      const range = rows.length ? (offset + 1) + "–" + (offset + rows.length) : "none";
      box.replaceChildren(
        el("table", {}, el("thead", {}, el("tr", {}, ...headers.map(h => el("th", {}, h)))), tbody),
        el("div", { class: "pager" }, prev, next,
           el("span", { class: "kind" }, range + (total !== undefined ? " of " + total : ""))));
    } catch (err) {
      box.replaceChildren();
      showError(box, err);
    }
  }
  load();
  return box;
}

function fmtTime(ms) { return ms ? new Date(ms).toLocaleString() : ""; }

/* ---- views ------------------------------------------------------------ */

async function viewHome() {
  setCrumbs("machines and snapshots");
  const machines = el("div");
  main.replaceChildren(el("h2", {}, "Connected machines"), machines,
    el("h2", {}, "Snapshots"),
    pagedTable(["id", "machine", "label", "reason", "time", "nodes", "edges", "bytes"],
      async (offset, limit) => {
        const r = await api("/api/snapshots?offset=" + offset + "&limit=" + limit);
        return { rows: r.snapshots, total: r.count };
      },
      s => el("tr", {},
        el("td", {}, link("#/s/" + s.id, "#" + s.id)),
        el("td", {}, bytesText(s.machine_name, 60)),
        el("td", {}, bytesText(s.label, 80)),
        el("td", {}, s.reason || ""),
        el("td", {}, fmtTime(s.time)),
        el("td", { class: "num" }, s.nodes), el("td", { class: "num" }, s.edges),
        el("td", { class: "num" }, s.bytes))));
  try {
    const list = await api("/api/machines");
    if (!list.length) { machines.append(el("p", { class: "kind" }, "No machine is connected.")); return; }
    const tbody = el("tbody");
    for (const m of list) {
      const cell = el("td");
      if ((m.features || []).includes("snapshot"))
        cell.append(el("button", { onclick: () => takeSnapshot(m, cell) }, "snapshot"));
      tbody.append(el("tr", {}, el("td", {}, m.id), el("td", {}, bytesText(m.name, 60)),
        el("td", {}, bytesText(m.title, 60)), el("td", {}, m.state), el("td", {}, m.pid || ""), cell));
    }
    machines.append(el("table", {}, el("thead", {}, el("tr", {},
      ...["id", "name", "vm", "state", "pid", ""].map(h => el("th", {}, h)))), tbody));
  } catch (err) { showError(machines, err); }
}

async function takeSnapshot(m, cell) {
  cell.replaceChildren("asking…");
  try {
    let req = await api("/api/machines/" + m.id + "/snapshot", { method: "POST", body: "{}" });
    while (req.state !== "done" && req.state !== "failed") {
      cell.replaceChildren(req.state + " — " + req.nodes + " nodes");
      await new Promise(r => setTimeout(r, 200));
      req = await api("/api/requests/" + req.id);
    }
    if (req.state === "done") cell.replaceChildren(link("#/s/" + req.snapshot, "snapshot #" + req.snapshot));
    else cell.replaceChildren(el("span", { class: "err" }, "failed: " + req.error));
  } catch (err) { cell.replaceChildren(); showError(cell, err); }
}

async function viewSnapshot(snap) {
  setCrumbs(link("#/", "snapshots"), "snapshot #" + snap);
  main.replaceChildren(el("p", { class: "kind" }, "loading…"));
  let s;
  try { s = await api("/api/snapshots/" + snap); }
  catch (err) { main.replaceChildren(); showError(main, err); return; }

  const meta = el("dl", { class: "fields" });
  const add = (k, v) => { if (v !== null && v !== undefined && v !== "") meta.append(el("dt", {}, k), el("dd", {}, v)); };
  add("machine", bytesText(s.machine_name, 200));
  add("label", bytesText(s.label, 200));
  add("vm", [s.vm, s.version].filter(Boolean).join(" "));
  add("reason", s.reason);
  add("time", fmtTime(s.time));
  add("nodes / edges", s.nodes + " / " + s.edges);
  add("bytes (shallow)", s.bytes);
  add("content hash", el("code", {}, s.hash || ""));
  if (s.error) add("error", el("code", {}, bytesText(s.error)));
  if (s.traceback) add("traceback", el("code", {}, bytesText(s.traceback)));

  const pathIn = el("input", { name: "path", placeholder: "globals.app.state", "aria-label": "path" });
  const pathOut = el("div");
  const pathForm = el("form", { class: "inline", onsubmit: async ev => {
    ev.preventDefault();
    pathOut.replaceChildren();
    try {
      const r = await api("/api/snapshots/" + snap + "/node?path=" + encodeURIComponent(pathIn.value));
      if (r.value) pathOut.append(el("p", {}, bytesText(r.path), " = ", valueView(snap, r.value)));
      else location.hash = "#/s/" + snap + "/n/" + r.id;
    } catch (err) { showError(pathOut, err); }
  } }, pathIn, el("button", {}, "go"));

  const searchIn = el("input", { name: "q", placeholder: "type name (exact) or string prefix", "aria-label": "search" });
  const searchOut = el("div");
  const searchForm = el("form", { class: "inline", onsubmit: ev => {
    ev.preventDefault();
    const q = searchIn.value;
    searchOut.replaceChildren(pagedTable(["node", "size", "edges"], async (offset, limit) => {
      const byType = await api("/api/snapshots/" + snap + "/search?type=" + encodeURIComponent(q) + "&offset=" + offset + "&limit=" + limit);
      if (byType.nodes.length || offset) return { rows: byType.nodes };
      const byName = await api("/api/snapshots/" + snap + "/search?name=" + encodeURIComponent(q) + "&offset=" + offset + "&limit=" + limit);
      return { rows: byName.nodes };
    }, n => el("tr", {}, el("td", {}, link("#/s/" + snap + "/n/" + n.id, nodeLabel(n))),
                        el("td", { class: "num" }, n.size), el("td", { class: "num" }, n.edges))));
  } }, searchIn, el("button", {}, "search"));

  main.replaceChildren(el("h2", {}, "Snapshot #" + snap), meta,
    el("h2", {}, "Roots"), edgesTable(snap, 0, "children"),
    el("h2", {}, "Find by path"), pathForm, pathOut,
    el("h2", {}, "Search"), searchForm, searchOut,
    framesSection(snap),
    el("h2", {}, "Heap analysis"), analysisSection(snap));
}

/* Summary by type and the largest retainers. Dominators are computed on the
** first request for a snapshot (seconds for millions of nodes), so they are
** asked for by a click, not on every visit. */
function analysisSection(snap) {
  const box = el("div");
  const show = () => {
    box.replaceChildren(
      el("h3", {}, "By type"),
      pagedTable(["kind", "type", "count", "shallow", "retained"], async (offset, limit) => {
        const r = await api("/api/snapshots/" + snap + "/summary?offset=" + offset + "&limit=" + limit);
        return { rows: r.types, total: r.total };
      }, t => el("tr", {}, el("td", { class: "kind" }, t.kind), el("td", { class: "type" }, bytesText(t.type, 80)),
                 el("td", { class: "num" }, t.count), el("td", { class: "num" }, t.shallow),
                 el("td", { class: "num" }, t.retained))),
      el("h3", {}, "Largest retainers"),
      pagedTable(["object", "shallow", "retained", "dominator"], async (offset, limit) => {
        const r = await api("/api/snapshots/" + snap + "/top?offset=" + offset + "&limit=" + limit);
        return { rows: r.nodes, total: r.total };
      }, n => el("tr", {}, el("td", {}, link("#/s/" + snap + "/n/" + n.id, nodeLabel(n))),
                 el("td", { class: "num" }, n.shallow), el("td", { class: "num" }, n.retained),
                 el("td", {}, n.idom === null || n.idom === undefined ? "" :
                              link("#/s/" + snap + "/n/" + n.idom, "#" + n.idom)))));
  };
  box.append(el("button", { onclick: show }, "compute summary and retained sizes"));
  return box;
}

/* Several of the shortest paths from the roots to a node, on demand. */
function pathsSection(snap, nid) {
  const box = el("div");
  const show = async () => {
    box.replaceChildren(el("p", { class: "kind" }, "searching…"));
    try {
      const r = await api("/api/snapshots/" + snap + "/nodes/" + nid + "/paths?max=5");
      const list = el("ol");
      for (const p of r.paths || []) {
        const li = el("li");
        (p.steps || []).forEach((st, i) => {
          if (i) li.append(" → ");
          li.append(link("#/s/" + snap + "/n/" + st.to, edgeLabel(st) || st.kind));
        });
        if (p.steps_elided) li.append(el("span", { class: "kind" }, " (" + p.steps_elided + " steps not shown)"));
        list.append(li);
      }
      box.replaceChildren(r.paths && r.paths.length ? list : el("p", { class: "kind" }, "not reachable from the roots"));
    } catch (err) { box.replaceChildren(); showError(box, err); }
  };
  box.append(el("button", { onclick: show }, "find paths from the roots"));
  return box;
}

function framesSection(snap) {
  const box = el("div");
  api("/api/snapshots/" + snap + "/frames").then(r => {
    if (!r.frames || !r.frames.length) return;
    box.append(el("h2", {}, "Stack"));
    for (const f of r.frames) {
      const locals = el("tbody");
      for (const l of f.locals || [])
        locals.append(el("tr", {}, el("td", { class: "kind" }, l.kind), el("td", {}, edgeLabel(l)),
                                    el("td", {}, valueView(snap, l.value, l.target))));
      box.append(el("h3", {}, "thread " + f.thread + ", level " + f.level + ": ",
                    link("#/s/" + snap + "/n/" + f.node, bytesText(f.function || "?", 80)),
                    el("span", { class: "kind" }, " " + bytesText(f.source || "", 120) + ":" + (f.line ?? ""))),
                 el("table", {}, locals));
    }
  }).catch(() => {});
  return box;
}

function edgesTable(snap, nid, which) {
  const outgoing = which === "children";
  return pagedTable(outgoing ? ["kind", "key", "value"] : ["from", "kind", "key"],
    async (offset, limit) => {
      const r = await api("/api/snapshots/" + snap + "/nodes/" + nid + "/" + which + "?offset=" + offset + "&limit=" + limit);
      return { rows: r.edges, total: r.total };
    },
    e => outgoing
      ? el("tr", {}, el("td", { class: "kind" }, e.kind), el("td", {}, edgeLabel(e)),
           el("td", {}, valueView(snap, e.value, e.target)))
      : el("tr", {}, el("td", {}, link("#/s/" + snap + "/n/" + e.from, nodeLabel(e.source || { id: e.from, kind: "node" }))),
           el("td", { class: "kind" }, e.kind), el("td", {}, edgeLabel(e))));
}

async function viewNode(snap, nid) {
  setCrumbs(link("#/", "snapshots"), link("#/s/" + snap, "snapshot #" + snap), "node #" + nid);
  main.replaceChildren(el("p", { class: "kind" }, "loading…"));
  let n;
  try { n = await api("/api/snapshots/" + snap + "/nodes/" + nid); }
  catch (err) { main.replaceChildren(); showError(main, err); return; }
  const f = el("dl", { class: "fields" });
  for (const k of ["kind", "type", "name", "size", "addr", "mode", "status", "source", "line", "edges", "payload_len"]) {
    if (n[k] === undefined || n[k] === null) continue;
    f.append(el("dt", {}, k), el("dd", {}, typeof n[k] === "string" ? bytesText(n[k], 2000) : n[k]));
  }
  if (n.value !== undefined)
    f.append(el("dt", {}, "value"), el("dd", {}, el("code", {}, bytesText(n.value, 20000)),
             n.value_truncated ? " (cut; " + n.value_len + " bytes)" : ""));
  main.replaceChildren(el("h2", {}, nodeLabel(n)), f,
    el("div", { class: "cols" },
      el("section", {}, el("h2", {}, "Edges"), edgesTable(snap, nid, "children")),
      el("section", {}, el("h2", {}, "Retainers"), edgesTable(snap, nid, "retainers"))),
    el("h2", {}, "Paths from the roots"), pathsSection(snap, nid));
}

/* ---- routing ------------------------------------------------------------ */

function route() {
  const h = location.hash.replace(/^#\/?/, "").split("/");
  statusLine.textContent = "";
  if (h[0] === "s" && /^\d+$/.test(h[1])) {
    if (h[2] === "n" && /^\d+$/.test(h[3])) return viewNode(h[1], h[3]);
    return viewSnapshot(h[1]);
  }
  return viewHome();
}

window.addEventListener("hashchange", route);
route();
