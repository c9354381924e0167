/**
 * The console's stylesheet and its one script, served from /assets. No inline
 * script anywhere: the pages' Content-Security-Policy allows scripts from this
 * origin only. The script is small on purpose: pages work without it, it only
 * follows running jobs and asks before irreversible buttons.
 */

export const CONSOLE_CSS = `
:root { --fg: #1f2933; --muted: #616e7c; --line: #d9e2ec; --bg: #f5f7fa; --accent: #1c5d99; --ok: #2f7d32; --warn: #b26a00; --bad: #b3261e; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.6 "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", "WenQuanYi Micro Hei", sans-serif; color: var(--fg); background: var(--bg); }
nav.top { display: flex; flex-wrap: wrap; align-items: center; gap: 4px 16px; padding: 8px 24px; background: var(--accent); color: #fff; }
nav.top a { color: #fff; text-decoration: none; padding: 2px 4px; border-radius: 3px; }
nav.top a.active, nav.top a:hover { background: rgba(255,255,255,.18); }
nav.top .brand { font-weight: 600; margin-right: 12px; }
nav.top .user { margin-left: auto; }
main { max-width: 1280px; margin: 0 auto; padding: 16px 24px 48px; }
h1 { font-size: 22px; margin: 8px 0 16px; }
h2 { font-size: 17px; margin: 24px 0 8px; }
table { border-collapse: collapse; width: 100%; background: #fff; margin: 8px 0 16px; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #eef2f7; font-weight: 600; white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.notice { padding: 8px 12px; border-radius: 4px; }
.notice.ok { background: #e6f4ea; color: var(--ok); }
.notice.error { background: #fdecea; color: var(--bad); }
.badge { display: inline-block; padding: 0 6px; border-radius: 3px; font-size: 12px; border: 1px solid; white-space: nowrap; }
.badge.ok { color: var(--ok); } .badge.warn { color: var(--warn); } .badge.bad { color: var(--bad); } .badge.info { color: var(--accent); } .badge.muted { color: var(--muted); }
form.inline { display: inline; }
button, .button { font: inherit; padding: 4px 12px; border: 1px solid var(--accent); background: var(--accent); color: #fff; border-radius: 3px; cursor: pointer; text-decoration: none; display: inline-block; }
button.secondary, .button.secondary { background: #fff; color: var(--accent); }
button.danger { background: var(--bad); border-color: var(--bad); }
button.link { background: none; border: none; color: inherit; text-decoration: underline; padding: 0; }
input, select, textarea { font: inherit; padding: 3px 6px; border: 1px solid var(--line); border-radius: 3px; }
label { margin-right: 8px; }
.form-row { margin: 8px 0; }
.details { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; background: #fff; padding: 8px 12px; border: 1px solid var(--line); }
.details dt { color: var(--muted); }
.details dd { margin: 0; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 8px 0 16px; }
a.card { color: inherit; text-decoration: none; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 4px; padding: 8px 16px; min-width: 160px; }
.card .value { font-size: 22px; font-weight: 600; }
.card .label { color: var(--muted); }
.side-by-side { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
.muted { color: var(--muted); }
.empty { color: var(--muted); font-style: italic; }
.pager a, .pager span { margin-right: 12px; }
progress.run-progress { width: 100%; max-width: 360px; height: 14px; vertical-align: middle; accent-color: var(--accent); }
td progress.run-progress { max-width: 160px; }
tr.sub td.sub { padding-left: 28px; }
details summary { cursor: pointer; }
/* a phone (390 px): the page never scrolls sideways; a table too wide for it scrolls by itself */
@media (max-width: 640px) {
  nav.top { padding: 8px 12px; }
  main { padding: 12px 12px 32px; }
  main table:not(.worklist) { display: block; overflow-x: auto; }
  input, select, textarea { max-width: 100%; }
  .chart svg { max-width: 100%; height: auto; }
  .side-by-side { grid-template-columns: minmax(0, 1fr); }
  .details { grid-template-columns: minmax(0, max-content) minmax(0, 1fr); }
  .details dd, .details dt { overflow-wrap: anywhere; }
  progress.run-progress { max-width: 100%; }
}
.chart { background: #fff; border: 1px solid var(--line); margin: 8px 0 16px; }
.login { max-width: 360px; margin: 48px auto; background: #fff; padding: 24px; border: 1px solid var(--line); border-radius: 4px; }
.login input { width: 100%; margin: 4px 0 12px; }
.timeline { position: relative; }
tr.split td, tr.split th { background: #fff8e1; }
pre.evidence { background: #fff; border: 1px solid var(--line); padding: 8px; white-space: pre-wrap; }
/* the worklist by person: a table at a desk, cards with the same actions on a phone */
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
table.worklist th a { color: inherit; }
table.worklist td.pick input { width: 18px; height: 18px; }
.bulk-actions button { margin: 4px 8px 4px 0; }
@media (max-width: 640px) {
  table.worklist, table.worklist tbody, table.worklist tr, table.worklist td { display: block; width: 100%; }
  table.worklist { background: none; margin: 0; }
  table.worklist thead { display: none; }
  table.worklist tr { position: relative; background: #fff; border: 1px solid var(--line); border-radius: 4px; margin: 0 0 12px; padding: 8px 12px; }
  table.worklist td { display: flex; gap: 8px; border: 0; padding: 2px 0; text-align: left; overflow-wrap: anywhere; min-width: 0; }
  table.worklist td::before { content: attr(data-label); flex: 0 0 6.5em; color: var(--muted); }
  table.worklist td.name { font-size: 16px; font-weight: 600; padding-right: 40px; }
  table.worklist td.name::before { content: none; }
  table.worklist td.pick { position: absolute; top: 8px; right: 8px; width: auto; padding: 0; }
  table.worklist td.pick input { width: 26px; height: 26px; }
  .filters .form-row { display: flex; flex-wrap: wrap; align-items: center; gap: 4px 8px; }
  .filters select, .filters input { max-width: 100%; }
  .cards .card { min-width: 0; flex: 1 1 40%; }
  .bulk-actions { position: sticky; bottom: 0; background: var(--bg); padding: 8px 0; }
  .bulk-actions button { width: 100%; margin: 4px 0; }
}
`;

export const CONSOLE_JS = `
'use strict';
// buttons that cannot be undone ask first
document.addEventListener('submit', function (e) {
  var form = e.target;
  var msg = form && form.getAttribute && form.getAttribute('data-confirm');
  if (msg && !window.confirm(msg)) e.preventDefault();
});
// a running job: the part of the page marked data-live is fetched again (the page itself,
// rendered by the server in Chinese) until the run ends; then to data-done, if the page says where
function follow(el) {
  var url = el.getAttribute('data-live');
  var id = el.id;
  var done = el.getAttribute('data-done');
  function tick() {
    fetch(url, { credentials: 'same-origin', headers: { accept: 'text/html' } })
      .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.text(); })
      .then(function (text) {
        var doc = new DOMParser().parseFromString(text, 'text/html');
        var next = id ? doc.getElementById(id) : null;
        if (!next) { setTimeout(tick, 3000); return; }
        if (done && next.getAttribute('data-finished') === 'completed') { window.location.href = done; return; }
        var fresh = document.importNode(next, true);
        el.parentNode.replaceChild(fresh, el);
        el = fresh;
        if (fresh.getAttribute('data-live')) { url = fresh.getAttribute('data-live'); setTimeout(tick, 1500); }
      })
      .catch(function () { setTimeout(tick, 3000); });
  }
  setTimeout(tick, 1000);
}
document.addEventListener('DOMContentLoaded', function () {
  var els = document.querySelectorAll('[data-live]');
  for (var i = 0; i < els.length; i++) follow(els[i]);
});
`;
