// flowlab serve: compare selection, live updates (server-sent events) and actions.
// Compiled into the binary (runner/src/serve/html.rs); no library, no network but this server.
"use strict";
(function () {
  const $ = (s, r) => (r || document).querySelector(s);
  const $$ = (s, r) => Array.from((r || document).querySelectorAll(s));
  const tokenMeta = $('meta[name="flowlab-token"]');
  const token = tokenMeta ? tokenMeta.content : null;

  // ---- compare selection (experiment page): checked ids survive live table refreshes
  const picked = new Set();
  function wirePicks() {
    const btn = $("#compare");
    $$("input.pick").forEach((c) => {
      c.checked = picked.has(c.value);
      c.addEventListener("change", () => { c.checked ? picked.add(c.value) : picked.delete(c.value); update(); });
    });
    const all = $("#selall");
    if (all) all.addEventListener("change", () => { $$("input.pick").forEach((c) => { c.checked = all.checked; all.checked ? picked.add(c.value) : picked.delete(c.value); }); update(); });
    function update() { if (btn) { btn.disabled = picked.size < 2; btn.textContent = picked.size ? `Compare selected (${picked.size})` : "Compare selected"; } }
    update();
  }
  const cmpBtn = $("#compare");
  if (cmpBtn) cmpBtn.addEventListener("click", () => { location.href = cmpBtn.dataset.base + "?cells=" + encodeURIComponent(Array.from(picked).join(",")); });
  wirePicks();

  // ---- compare page: only the rows that differ
  const only = $("#onlydiff");
  if (only) only.addEventListener("change", () => $("#cmp").classList.toggle("onlydiff", only.checked));

  // ---- actions: POST with the token header, show the answer
  function fmtVerdict(v) {
    if (v.error) return { cls: "bad", html: "<b>Error:</b> " + esc(v.error) };
    if (v.started) return { cls: "ok", html: esc(v.message) };
    if (v.verdict) {
      let h = v.equal ? "<b>Replay: equal.</b> The rerun gave the same bytes (outside timing)." : "<b>Replay: differs.</b>";
      if (v.first_difference) h += ` First difference at <code>${esc(v.first_difference.at)}</code>: stored <code>${esc(JSON.stringify(v.first_difference.stored))}</code>, replayed <code>${esc(JSON.stringify(v.first_difference.replayed))}</code>.`;
      h += ` ${v.artifacts_compared} artifact files compared` + (v.artifact_differences.length ? ", differing: " + v.artifact_differences.map(esc).join("; ") : ", all equal") + `; ${v.seconds.toFixed(2)} s.`;
      if (v.warnings.length) h += "<br>" + v.warnings.map((w) => "warning: " + esc(w)).join("<br>");
      return { cls: v.equal ? "ok" : "bad", html: h };
    }
    return { cls: "", html: esc(JSON.stringify(v)) };
  }
  function esc(s) { return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c])); }
  $$("button[data-post]").forEach((b) => b.addEventListener("click", async () => {
    const out = document.getElementById(b.dataset.result);
    b.disabled = true;
    const label = b.textContent;
    b.textContent = label + "…";
    try {
      const r = await fetch(b.dataset.post, { method: "POST", headers: { "X-Flowlab-Token": token || "" } });
      let v;
      try { v = await r.json(); } catch (e) { v = { error: (await r.text()) || r.statusText }; }
      const f = fmtVerdict(v);
      if (out) { out.hidden = false; out.className = (out.classList.contains("verdict") ? "verdict " : "small ") + f.cls; out.innerHTML = f.html; }
      if (b.dataset.post.endsWith("/run") && live) live.follow();
    } catch (e) {
      if (out) { out.hidden = false; out.textContent = "request failed: " + e; }
    } finally { b.disabled = false; b.textContent = label; }
  }));

  // ---- live: the experiment page follows /events
  const panel = $("#live");
  let live = null;
  function secs(s) { if (s == null) return "–"; s = Math.round(s); return s >= 3600 ? `${Math.floor(s / 3600)} h ${Math.floor(s % 3600 / 60)} min` : s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`; }
  if (panel && window.EventSource) {
    let lastCells = null;
    let refreshing = false;
    async function refreshRows() {
      if (refreshing) return;
      refreshing = true;
      try {
        const r = await fetch(panel.dataset.rows);
        if (r.ok) { const holder = $("#cells"); holder.outerHTML = await r.text(); wirePicks(); }
      } finally { refreshing = false; }
    }
    live = {
      follow() {
        if (this.es) return;
        this.es = new EventSource(panel.dataset.events);
        this.es.addEventListener("state", (e) => {
          const s = JSON.parse(e.data);
          $("#n-cells").textContent = s.cells; $("#n-ok").textContent = s.ok; $("#n-failed").textContent = s.failed;
          const key = `${s.cells}/${s.ok}/${s.failed}`;
          if (lastCells !== null && key !== lastCells) refreshRows();
          lastCells = key;
          const p = s.progress;
          if (p && (p.active || (p.finished && Date.now() / 1000 - p.started < 3600))) {
            panel.hidden = false;
            panel.classList.toggle("done", !p.active);
            $("b", panel).textContent = p.active ? "Running" : (p.finished ? "Last run finished" : "Last run stopped");
            const bar = $("#live-bar"); bar.max = Math.max(p.total, 1); bar.value = p.done;
            $("#live-text").textContent = `${p.done} of ${p.total} cells · ${p.ok} ran ok · ${p.failed} failed · ${p.cached} cached · elapsed ${secs(p.elapsed_s)}` + (p.active ? ` · eta ${secs(p.eta_s)}` : "");
            const ul = $("#live-cells");
            ul.innerHTML = (p.active ? p.running : []).map((c) => `<li>${esc(c.cell_id.slice(0, 12))} ${esc(c.words)}${c.total ? ` — ${c.done}/${c.total}` : ""} · ${secs(Date.now() / 1000 - c.started)}</li>`).join("");
          }
        });
      },
    };
    live.follow();
  }
})();
