"""The app's single HTML page (plain HTML, CSS and JavaScript; no build step)."""

__all__ = ["PAGE"]

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>xray-bench: classify films</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
 body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #222; max-width: 1100px; }
 h1 { font-size: 1.4rem; margin: 0 0 .3rem; }
 #model { color: #555; font-size: .9rem; margin-bottom: 1rem; }
 form { display: flex; gap: .8rem; align-items: center; flex-wrap: wrap;
        padding: .8rem; background: #f3f5f7; border-radius: 6px; }
 button { padding: .4rem 1rem; font-size: 1rem; }
 #status { margin: .6rem 0; color: #555; min-height: 1.2em; }
 #errors { color: #a00; white-space: pre-line; }
 table { border-collapse: collapse; width: 100%; margin-top: .6rem; }
 .probabilities div { white-space: nowrap; }
 td, th { border-bottom: 1px solid #ddd; padding: .5rem; text-align: left; vertical-align: top; }
 img.film { width: 256px; height: auto; image-rendering: auto; background: #000; }
 .bar { background: #dde7f3; height: .9rem; display: inline-block; vertical-align: middle; }
 .ood-pass { color: #176b2c; }
 .ood-flagged { color: #a36500; font-weight: bold; }
 .ood-refused { color: #b00020; font-weight: bold; }
 .label { font-size: 1.15rem; font-weight: bold; }
 .file-error { color: #a00; }
 small { color: #666; }
</style>
</head>
<body>
<h1>Classify X-ray films</h1>
<div id="model">loading model information...</div>
<form id="upload" onsubmit="return false">
  <input type="file" id="files" name="files" multiple
         accept=".png,.jpg,.jpeg,.tif,.tiff,.dcm,.dicom,image/png,image/jpeg,image/tiff,application/dicom">
  <button id="predict" type="button">Predict</button>
  <label><input type="checkbox" id="show-heatmap" checked> heatmap overlay</label>
  <a id="download-csv" href="#" download="predictions.csv" hidden>Download CSV</a>
</form>
<div id="status"></div>
<div id="errors" role="alert"></div>
<table id="results" hidden>
 <thead><tr><th>Film</th><th>Prediction</th><th>Probabilities</th><th>Out-of-distribution check</th></tr></thead>
 <tbody></tbody>
</table>
<p><small>Files are read in memory and never stored. JSON API: <code>POST /predict</code>
(multipart field <code>files</code>); see <a href="/docs">/docs</a>.</small></p>
<script>
"use strict";
let lastResults = [];
const $ = (id) => document.getElementById(id);

function esc(text) {
  const d = document.createElement("div"); d.textContent = String(text); return d.innerHTML;
}

async function loadInfo() {
  const r = await fetch("/api/info");
  const info = await r.json();
  $("model").textContent = `Model: ${info.estimator} (${info.task}; classes: ${info.classes.join(", ")}). ` +
    `Out-of-distribution check: ${info.ood_guard ? info.ood_mode : "no guard (model saved by an earlier version)"}. ` +
    `Limits: ${info.limits.max_files} files, ${info.limits.max_file_mb} MB and ${info.limits.max_pixels} pixels per file.`;
}

function oodCell(r) {
  if (r.ood === null) return '<span>not checked</span>';
  if (!r.ood.flagged) return `<span class="ood-pass">in distribution</span><br><small>score ${r.ood.score === null ? "n/a" : r.ood.score.toFixed(2)}${r.ood.reason ? " - " + esc(r.ood.reason) : ""}</small>`;
  const cls = r.refused ? "ood-refused" : "ood-flagged";
  const word = r.refused ? "Refused: not like the training films" : "Flagged: not like the training films";
  return `<span class="${cls}">${word}</span><br><small>${esc(r.ood.reason)}</small>`;
}

function render() {
  const body = $("results").querySelector("tbody");
  body.innerHTML = "";
  const overlay = $("show-heatmap").checked;
  for (const r of lastResults) {
    const tr = document.createElement("tr");
    tr.className = "result";
    tr.dataset.sha256 = r.sha256;
    const src = overlay && r.overlay ? r.overlay : r.preview;
    const probs = Object.entries(r.probabilities || {}).map(([k, p]) =>
      `<div>${esc(k)}: <span class="bar" style="width:${Math.round(p * 70)}px"></span> ${(p * 100).toFixed(1)}%</div>`).join("");
    tr.innerHTML = `<td><img class="film" alt="${esc(r.name)}" src="${src}"><br><small>${esc(r.name)} (${r.width}x${r.height})</small></td>` +
      `<td class="label">${r.refused ? "-" : esc(r.label)}<br><small>${r.refused ? "" : (r.probability * 100).toFixed(1) + "%"}</small></td>` +
      `<td class="probabilities">${probs || "-"}</td><td class="ood">${oodCell(r)}</td>`;
    body.appendChild(tr);
  }
  $("results").hidden = lastResults.length === 0;
}

async function predict() {
  const files = $("files").files;
  $("errors").textContent = "";
  if (!files.length) { $("errors").textContent = "Choose one or more films first."; return; }
  const form = new FormData();
  for (const f of files) form.append("files", f, f.name);
  $("status").textContent = `Analysing ${files.length} file(s)...`;
  $("predict").disabled = true;
  const start = performance.now();
  try {
    const r = await fetch("/predict", {method: "POST", body: form});
    let data;
    try { data = await r.json(); } catch (e) { data = {detail: `server answered ${r.status}`}; }
    if (!r.ok) {
      const per = (data.errors || []).map((e) => `${e.name}: ${e.error}`).join("\\n");
      $("errors").textContent = `Could not analyse the upload (${r.status}): ${data.detail}` + (per ? "\\n" + per : "");
      lastResults = []; render(); $("download-csv").hidden = true;
    } else {
      lastResults = data.results;
      render();
      $("errors").textContent = (data.errors || []).map((e) => `${e.name}: ${e.error}`).join("\\n");
      // The server writes the CSV (formula-like names made safe there).
      const blob = new Blob([data.csv], {type: "text/csv"});
      $("download-csv").href = URL.createObjectURL(blob);
      $("download-csv").hidden = false;
    }
    $("status").textContent = `Done in ${((performance.now() - start) / 1000).toFixed(2)} s.`;
    $("status").dataset.seconds = ((performance.now() - start) / 1000).toFixed(3);
  } catch (e) {
    $("errors").textContent = "The server could not be reached: " + e;
    $("status").textContent = "";
  } finally {
    $("predict").disabled = false;
  }
}

$("predict").addEventListener("click", predict);
$("show-heatmap").addEventListener("change", render);
loadInfo();
</script>
</body>
</html>
"""
