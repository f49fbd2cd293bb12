"use strict";
(function () {
  const problems = [];
  window.addEventListener("error", (e) => {
    problems.push(String(e.message));
    document.body.dataset.scriptErrors = problems.join(" | ");
  });
  const data = JSON.parse(document.getElementById("report-data").textContent);
  const SVG = "http://www.w3.org/2000/svg";
  const COLORS = { succeeded: ["#dafbe1", "#1a7f37"], failed: ["#ffebe9", "#cf222e"],
    interrupted: ["#fff8c5", "#bf8700"], running: ["#fff8c5", "#bf8700"],
    skipped: ["#f6f8fa", "#8c959f"], "not run": ["#f6f8fa", "#8c959f"] };
  const color = (s) => COLORS[s] || COLORS["not run"];

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v !== null && v !== undefined) node.setAttribute(k, v);
    }
    for (const c of children) node.append(c instanceof Node ? c : String(c));
    return node;
  }
  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function ms(v) {
    if (v === null || v === undefined) return "-";
    if (v < 1000) return v + " ms";
    if (v < 60000) return (v / 1000).toFixed(v < 10000 ? 2 : 1) + " s";
    const m = Math.floor(v / 60000);
    return m + " min " + Math.round((v - m * 60000) / 1000) + " s";
  }
  const num = (v) => (v === null || v === undefined ? "-" : Number(v).toLocaleString("en"));
  const badge = (s) => el("span", { class: "badge st-" + String(s).replace(" ", "-") }, s);

  function header() {
    const s = data.session;
    const facts = el("div", { class: "facts" });
    const add = (label, value) => facts.append(el("span", {}, label + ": ", value));
    add("session", s.id);
    add("executor", s.executor || "-");
    add("started", s.started_at || "-");
    add("duration", ms(s.duration_ms));
    add("rows read", num(s.rows_read));
    add("rows written", num(s.rows_written));
    if (s.exit_code !== null && s.exit_code !== undefined) add("exit code", s.exit_code);
    if (s.pipeline_file) add("file", s.pipeline_file);
    const head = document.getElementById("head");
    head.append(el("h1", {}, (s.pipeline || "pipeline") + " ", badge(s.status)), facts);
  }

  function errors() {
    const list = [];
    const s = data.session;
    if (s.error) list.push({ step: s.error.step_id, code: s.error.code,
      message: s.error.message, hint: s.error.hint });
    for (const row of data.timeline) {
      if (row.error && !(s.error && s.error.step_id === row.step && s.error.code === row.error.code)) {
        list.push({ step: row.step, code: row.error.code, message: row.error.message });
      }
    }
    for (const p of s.problems || []) list.push({ message: p });
    if (!list.length) return;
    const box = document.getElementById("error-list");
    for (const e of list) {
      const div = el("div", { class: "error" });
      if (e.step) div.append(el("strong", {}, "step " + e.step + ": "));
      if (e.code) div.append(el("code", {}, "[" + e.code + "] "));
      div.append(e.message || "");
      if (e.hint) div.append(el("div", { class: "hint" }, "hint: " + e.hint));
      box.append(div);
    }
    document.getElementById("errors").hidden = false;
  }

  function graph() {
    const nodes = data.graph.nodes;
    const box = document.getElementById("graph");
    if (!nodes.length) { box.append(el("p", { class: "empty" }, "no compiled manifest in this session")); return; }
    const byId = new Map(nodes.map((n) => [n.id, n]));
    const level = new Map();
    const depth = (n, seen) => {
      if (level.has(n.id)) return level.get(n.id);
      if (seen.has(n.id)) return 0;
      seen.add(n.id);
      let d = 0;
      for (const need of n.needs) if (byId.has(need)) d = Math.max(d, depth(byId.get(need), seen) + 1);
      level.set(n.id, d);
      return d;
    };
    nodes.forEach((n) => depth(n, new Set()));
    const columns = [];
    nodes.forEach((n) => { const d = level.get(n.id); (columns[d] = columns[d] || []).push(n); });
    const longest = Math.max(...nodes.map((n) => Math.max(n.id.length, (n.component || "").length + 2)));
    const W = Math.max(150, longest * 7.4 + 24), H = 46, GX = 60, GY = 18;
    const pos = new Map();
    columns.forEach((col, c) => col.forEach((n, r) => pos.set(n.id, { x: 10 + c * (W + GX), y: 10 + r * (H + GY) })));
    const rows = Math.max(...columns.map((c) => c.length));
    const root = svg("svg", { width: 20 + columns.length * (W + GX) - GX, height: 20 + rows * (H + GY) - GY,
      role: "img", "aria-label": "step graph" });
    for (const n of nodes) {
      for (const need of n.needs) {
        const a = pos.get(need), b = pos.get(n.id);
        if (!a) continue;
        const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2, mx = (x1 + x2) / 2;
        root.append(svg("path", { class: "edge", d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2 - 6},${y2}` }));
        root.append(svg("path", { d: `M${x2 - 6},${y2 - 4} L${x2},${y2} L${x2 - 6},${y2 + 4} Z`, fill: "#8c959f" }));
      }
    }
    for (const n of nodes) {
      const p = pos.get(n.id), [fill, stroke] = color(n.status);
      const g = svg("g", { class: "node", "data-step": n.id, transform: `translate(${p.x},${p.y})` });
      g.append(svg("title", {}, `${n.id}: ${n.component} (${n.status})`));
      g.append(svg("rect", { width: W, height: H, fill, stroke }));
      g.append(svg("text", { x: 10, y: 19, "font-weight": "600" }, n.id));
      const sub = (n.component || "") + (n.tables ? ` · ${n.tables} tables` : "");
      g.append(svg("text", { x: 10, y: 36, fill: "#57606a" }, sub));
      root.append(g);
    }
    box.append(root);
  }

  function timeline() {
    const rows = data.timeline;
    const box = document.getElementById("timeline");
    if (!rows.length) { box.append(el("p", { class: "empty" }, "no step started")); return; }
    const end = Math.max(1, data.session.duration_ms || 0,
      ...rows.map((r) => (r.end_ms ?? r.start_ms ?? 0)));
    const label = Math.min(320, Math.max(...rows.map((r) => r.step.length)) * 7.2 + 16);
    const plot = 640, right = 340, RH = 24, top = 24;
    const width = label + plot + right;
    const root = svg("svg", { width, height: top + rows.length * RH + 8, role: "img", "aria-label": "timeline" });
    const x = (t) => label + (Math.max(0, t) / end) * plot;
    for (let i = 0; i <= 4; i++) {
      const t = (end * i) / 4;
      root.append(svg("line", { class: "axis", x1: x(t), x2: x(t), y1: top - 6, y2: top + rows.length * RH }));
      root.append(svg("text", { class: "tick", x: x(t) - 10, y: top - 10 }, ms(Math.round(t))));
    }
    rows.forEach((r, i) => {
      const y = top + i * RH, [fill, stroke] = color(r.status);
      const g = svg("g", { "data-step": r.step });
      g.append(svg("text", { x: 4, y: y + 16 }, r.step));
      const s = r.start_ms ?? 0, e = r.end_ms ?? end;
      const bar = svg("rect", { x: x(s), y: y + 4, width: Math.max(2, x(e) - x(s)), height: RH - 8,
        fill, stroke, rx: 3 });
      bar.append(svg("title", {}, `${r.step}: ${r.status}, started +${ms(s)}, ${ms(r.duration_ms)}`));
      g.append(bar);
      let text = r.status === "succeeded" ? ms(r.duration_ms) : r.status;
      if (r.rows !== null && r.rows !== undefined) {
        text += ` · ${num(r.rows)} rows`;
        if (r.duration_ms) text += ` · ${num(Math.round((r.rows * 1000) / r.duration_ms))} rows/s`;
      }
      g.append(svg("text", { x: label + plot + 8, y: y + 16, fill: "#57606a" }, text));
      root.append(g);
    });
    box.append(root);
  }

  function metrics() {
    const box = document.getElementById("metrics");
    const list = data.metrics;
    if (!list.length) { box.append(el("p", { class: "empty" }, "no metrics recorded")); return; }
    const table = el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, "step"),
      el("th", {}, "metric"), el("th", {}, "value"), el("th", {}, "unit"), el("th", {}, "other tags"))));
    const body = el("tbody");
    const sorted = [...list].sort((a, b) => String(a.tags.step || "").localeCompare(String(b.tags.step || "")));
    for (const m of sorted) {
      const { step, ...rest } = m.tags;
      const other = Object.entries(rest).map(([k, v]) => k + "=" + v).join(" ");
      body.append(el("tr", {}, el("td", {}, step || "(run)"), el("td", {}, m.metric),
        el("td", { class: "num" }, num(m.value)), el("td", {}, m.unit || ""), el("td", {}, other)));
    }
    table.append(body);
    box.append(table);
  }

  function events() {
    const body = document.querySelector("#events tbody");
    const kinds = [...new Set(data.events.map((e) => e.event))].sort();
    const select = document.getElementById("event-kind");
    for (const k of kinds) select.append(el("option", { value: k }, k));
    const rows = data.events.map((e) => {
      const detail = JSON.stringify(e.detail);
      const tr = el("tr", { "data-kind": e.event },
        el("td", { class: "num" }, e.offset_ms === null ? "" : "+" + ms(e.offset_ms)),
        el("td", {}, e.event), el("td", {}, e.step || ""),
        el("td", { class: "detail" }, detail === "{}" ? "" : detail));
      tr.dataset.text = [e.event, e.step || "", detail].join(" ").toLowerCase();
      body.append(tr);
      return tr;
    });
    const text = document.getElementById("event-text");
    const count = document.getElementById("event-count");
    const apply = () => {
      const kind = select.value, needle = text.value.trim().toLowerCase();
      let shown = 0;
      for (const tr of rows) {
        const visible = (!kind || tr.dataset.kind === kind) && (!needle || tr.dataset.text.includes(needle));
        tr.hidden = !visible;
        if (visible) shown++;
      }
      let note = `${shown} of ${rows.length} events`;
      if (data.events_dropped) note += ` (${data.events_dropped} more in events.jsonl)`;
      count.textContent = note;
    };
    select.addEventListener("change", apply);
    text.addEventListener("input", apply);
    apply();
  }

  header(); errors(); graph(); timeline(); metrics(); events();
  if (!problems.length) document.body.dataset.rendered = "ok";
})();
