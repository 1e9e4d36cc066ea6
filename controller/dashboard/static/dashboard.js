// The dashboard's page script: renders the data the server embedded, then patches the page in place from
// server-sent events (no reload, no flicker: only changed text is touched, charts go through Plotly.react).
"use strict";
(function () {
  const initial = JSON.parse(document.getElementById("initial").textContent);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const actionsOn = document.body.dataset.actions === "on";
  const live = document.getElementById("live");

  function setText(el, text) { if (el && el.textContent !== String(text)) el.textContent = String(text); }
  function cell(tr, i, text, cls) {
    while (tr.children.length <= i) tr.appendChild(document.createElement("td"));
    const td = tr.children[i];
    setText(td, text);
    if (cls !== undefined && td.className !== cls) td.className = cls;
    return td;
  }
  function rowsInto(tbody, items, key, fill, tag) {
    const seen = new Set(), kind = tag || "tr";
    items.forEach((item, index) => {
      const id = key(item, index);
      seen.add(id);
      let tr = tbody.querySelector(`:scope > [data-key="${CSS.escape(id)}"]`);
      if (!tr) { tr = document.createElement(kind); tr.dataset.key = id; }
      if (tbody.children[index] !== tr) tbody.insertBefore(tr, tbody.children[index] || null);
      fill(tr, item);
    });
    Array.from(tbody.children).forEach((tr) => { if (!seen.has(tr.dataset.key)) tr.remove(); });
  }
  function stream(url, apply) {
    const source = new EventSource(url);
    source.onopen = () => { live.textContent = "live"; live.classList.add("on"); };
    source.onerror = () => { live.textContent = "reconnecting…"; live.classList.remove("on"); };
    source.onmessage = (message) => apply(JSON.parse(message.data));
  }

  // --- the list -----------------------------------------------------------------------------
  const table = document.getElementById("rollouts");
  if (table) {
    let rows = initial.rows, sortKey = "name", ascending = true;
    const filter = document.getElementById("filter");
    const columns = ["namespace", "name", "phase", "step", "split", "stable", "candidate", "health", "age"];
    function render() {
      const words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
      const shown = rows.filter((r) => words.every((w) => columns.some((c) => String(r[c]).toLowerCase().includes(w))));
      shown.sort((a, b) => {
        const x = String(a[sortKey]), y = String(b[sortKey]);
        const order = x.localeCompare(y, undefined, { numeric: true }) || a.name.localeCompare(b.name);
        return ascending ? order : -order;
      });
      rowsInto(table.tBodies[0], shown, (r) => `${r.namespace}/${r.name}`, (tr, r) => {
        columns.forEach((c, i) => {
          const td = cell(tr, i, r[c], c === "phase" ? "" : (c === "stable" || c === "candidate" ? "mono" : ""));
          if (c === "phase") { let badge = td.firstChild; if (!badge || badge.nodeType !== 1) { td.textContent = ""; badge = td.appendChild(document.createElement("span")); } setText(badge, r.phase); badge.className = `phase ${r.phase}`; }
          if (c === "name") { let a = td.firstChild; if (!a || a.nodeType !== 1) { td.textContent = ""; a = td.appendChild(document.createElement("a")); } a.href = `/rollouts/${encodeURIComponent(r.namespace)}/${encodeURIComponent(r.name)}`; setText(a, r.name); }
        });
      });
      setText(document.getElementById("count"), `${shown.length} of ${rows.length} rollouts`);
      table.querySelectorAll("th[data-sort]").forEach((th) => { th.className = th.dataset.sort === sortKey ? (ascending ? "asc" : "desc") : ""; });
    }
    table.querySelectorAll("th[data-sort]").forEach((th) => th.addEventListener("click", () => {
      if (sortKey === th.dataset.sort) ascending = !ascending; else { sortKey = th.dataset.sort; ascending = true; }
      render();
    }));
    filter.addEventListener("input", render);
    render();
    stream("/api/stream", (data) => { rows = data.rows; render(); });
  }

  // --- one rollout --------------------------------------------------------------------------
  const actionsBox = document.getElementById("actions");
  if (actionsBox) {
    let current = initial, pendingRequest = null;
    const plotted = new Map();
    const dialog = document.getElementById("confirm");
    const result = document.getElementById("action-result");

    function fmt(v, digits) { return v === null || v === undefined ? "–" : (typeof v === "number" ? Number(v.toPrecision(digits || 4)) : v); }
    function renderHead(d) {
      ["namespace", "name", "message", "step", "split", "stable", "candidate", "health", "age"].forEach((k) => setText(document.getElementById(`d-${k}`), d[k] || "–"));
      const phase = document.getElementById("d-phase"); setText(phase, d.phase); phase.className = `phase ${d.phase}`;
      const t = d.traffic, box = document.getElementById("traffic");
      if (!box.firstChild) box.innerHTML = '<div class="splitbar"><div class="s"></div><div class="c"></div></div><div class="mirror"></div>';
      const [s, c] = box.querySelectorAll(".splitbar div");
      s.style.flexGrow = t.stable; c.style.flexGrow = t.candidate;
      setText(s, t.stable ? `stable ${t.stable}%` : ""); setText(c, t.candidate ? `candidate ${t.candidate}%` : "");
      setText(box.querySelector(".mirror"), `mirror ${t.mirror}%` + (t.headerRoute ? ` · header route ${t.headerRoute.header}: ${t.headerRoute.value}` : ""));
    }
    function renderSteps(d) {
      const list = document.getElementById("steps");
      rowsInto(list, d.steps, (s) => String(s.index), (li, s) => { setText(li, `${s.index + 1}. ${s.name}`); li.className = s.state; }, "li");
      if (!d.steps.length) setText(list, "no steps: nothing is rolling out");
    }
    function renderTables(d) {
      rowsInto(document.getElementById("routers"), d.routers, (r, i) => `${r.router}#${i}`, (tr, r) => {
        cell(tr, 0, r.router, "mono"); cell(tr, 1, fmt(r.served)); cell(tr, 2, fmt(r.written)); cell(tr, 3, r.error || (r.served === r.written ? "in step" : "behind"));
      });
      rowsInto(document.getElementById("evidence"), d.evidence, (e) => `${e.time}|${e.metric}|${e.scope}`, (tr, e) => {
        cell(tr, 0, e.time.replace("T", " ").slice(0, 19), "mono"); cell(tr, 1, e.metric); cell(tr, 2, e.scope);
        cell(tr, 3, e.verdict, `verdict ${e.verdict}`); cell(tr, 4, `${e.candidateSamples}/${e.stableSamples}`);
        cell(tr, 5, fmt(e.candidateValue)); cell(tr, 6, fmt(e.stableValue));
        cell(tr, 7, e.statistic ? `${e.statistic}${e.statisticValue !== null && e.statisticValue !== undefined ? " " + fmt(e.statisticValue) : ""}` : "–");
        cell(tr, 8, fmt(e.threshold)); cell(tr, 9, e.reason);
      });
      rowsInto(document.getElementById("conditions"), d.conditions, (c) => c.type, (tr, c) => {
        cell(tr, 0, c.type); cell(tr, 1, c.status); cell(tr, 2, c.reason); cell(tr, 3, c.message || ""); cell(tr, 4, (c.lastTransitionTime || "").replace("T", " ").slice(0, 19), "mono");
      });
      renderMonitoring(d.monitoring);
      rowsInto(document.getElementById("events"), d.events, (e, i) => `${e.time}|${e.reason}|${e.message}`, (tr, e) => {
        cell(tr, 0, e.time.replace("T", " ").slice(0, 19), "mono"); cell(tr, 1, e.type); cell(tr, 2, e.reason); cell(tr, 3, e.message); cell(tr, 4, e.count);
      });
    }
    function renderMonitoring(m) {
      const panel = document.getElementById("monitoring-panel");
      if (!panel) return;
      panel.hidden = !m;
      if (!m) return;
      const c = m.check || {};
      const parts = [`revision ${m.revision}`, `reference: ${m.reference}`];
      if (c.at) parts.push(`last check ${c.at.replace("T", " ").slice(0, 19)}: ${fmt(c.requests)} requests, ${fmt(c.sampled)} sampled`
        + (c.accuracy !== null && c.accuracy !== undefined ? `, accuracy ${fmt(c.accuracy)}` : ""));
      if (m.predictions) parts.push(`predictions PSI ${fmt(m.predictions.psi)}${m.predictions.drifted ? " (drifted)" : ""}`);
      setText(document.getElementById("monitoring-summary"), parts.join(" · "));
      rowsInto(document.getElementById("findings"), m.findings, (f) => f.feature, (tr, f) => {
        cell(tr, 0, f.feature, "mono"); cell(tr, 1, f.test); cell(tr, 2, fmt(f.psi)); cell(tr, 3, fmt(f.adjustedPValue));
        cell(tr, 4, `${f.samples}/${f.referenceSamples}`); cell(tr, 5, f.drifted ? "yes" : "no", f.drifted ? "verdict Failed" : "");
      });
      rowsInto(document.getElementById("episodes"), m.episodes, (e) => e.id, (tr, e) => {
        cell(tr, 0, e.id, "mono"); cell(tr, 1, e.condition); cell(tr, 2, e.since.replace("T", " ").slice(0, 19), "mono");
        cell(tr, 3, e.ended ? e.ended.replace("T", " ").slice(0, 19) : "ongoing", "mono"); cell(tr, 4, e.fired ? "fired" : "not configured");
      });
    }
    function renderCharts(d) {
      const box = document.getElementById("charts");
      let note = document.getElementById("history-note");
      if (d.historyNote && !note) { note = document.createElement("p"); note.id = "history-note"; note.className = "empty"; box.parentNode.insertBefore(note, box); }
      if (note) setText(note, d.historyNote || "");
      if (!d.charts.length) { if (!box.querySelector(".empty")) box.innerHTML = '<p class="empty">No analysis measured yet in this rollout.</p>'; return; }
      const empty = box.querySelector(".empty"); if (empty) empty.remove();
      d.charts.forEach((c) => {
        let div = document.getElementById(`chart-${c.metric}`);
        if (!div) { div = document.createElement("div"); div.id = `chart-${c.metric}`; div.className = "chart"; box.appendChild(div); }
        const x = c.points.map((p) => p.t);
        const traces = [
          { x, y: c.points.map((p) => p.candidate), name: "candidate", mode: "lines+markers", line: { color: "#ea580c" } },
          { x, y: c.points.map((p) => p.stable), name: "stable", mode: "lines+markers", line: { color: "#2563eb" } },
        ];
        const layout = { title: { text: `${c.metric} (${c.kind})`, font: { size: 13 } }, margin: { l: 50, r: 10, t: 30, b: 40 }, yaxis: { title: c.unit },
                         legend: { orientation: "h", y: -0.25 }, datarevision: c.points.length, uirevision: c.metric };
        Plotly.react(div, traces, layout, { displayModeBar: false, responsive: true });
        plotted.set(c.metric, c.points.length);
      });
    }
    function renderActions(d) {
      d.actions.forEach((a) => {
        let button = actionsBox.querySelector(`button[data-action="${a.action}"]`);
        if (!button) {
          button = document.createElement("button"); button.dataset.action = a.action; button.id = `action-${a.action}`;
          if (a.danger) button.className = "danger";
          button.addEventListener("click", () => confirmAction(button.dataset.action));
          actionsBox.appendChild(button);
        }
        setText(button, a.label);
        button.disabled = !actionsOn || !a.enabled;
        button.title = !actionsOn ? "read-only dashboard" : (a.enabled ? a.confirm : `not possible while ${d.phase}`);
      });
      const last = d.lastRequest;
      if (pendingRequest && last && last.id === pendingRequest) {
        pendingRequest = null;
        result.className = last.handled ? "ok" : "error";
        setText(result, last.handled ? `${last.action}: ${last.message || "done"}` : `refused: ${last.message}`);
      }
    }
    function render(d) { current = d; renderHead(d); renderSteps(d); renderTables(d); renderCharts(d); renderActions(d); }

    function confirmAction(action) {
      const a = current.actions.find((x) => x.action === action);
      setText(document.getElementById("confirm-title"), `${a.label} ${current.namespace}/${current.name}?`);
      setText(document.getElementById("confirm-text"), a.confirm);
      dialog.returnValue = "";
      dialog.onclose = () => { if (dialog.returnValue === "ok") send(action); };
      dialog.showModal();
    }
    async function send(action) {
      const headers = { "X-CSRF-Token": csrf };
      const token = document.getElementById("confirm-token");
      if (token && token.value) headers.Authorization = `Bearer ${token.value}`;
      setText(result, `${action}: sending…`); result.className = "";
      const url = `/api/rollouts/${encodeURIComponent(current.namespace)}/${encodeURIComponent(current.name)}/actions/${action}`;
      const response = await fetch(url, { method: "POST", headers, credentials: "same-origin" });
      const body = await response.json();
      if (!response.ok) { result.className = "error"; setText(result, `refused: ${body.error}`); return; }
      pendingRequest = body.request;
      setText(result, `${action} requested (${body.request}); waiting for the controller…`);
    }

    render(initial);
    stream(`/api/stream/${encodeURIComponent(initial.namespace)}/${encodeURIComponent(initial.name)}`, (d) => { if (!d.missing) render(d); });
  }
})();
