// Calibration page: polls images and state, sends slider values, face-box drags and record requests.
// Plain browser JavaScript, no build step, no network beyond the local server.
"use strict";

const IMAGE_PERIOD_MS = 200;   // overlay and landmark image: 5 per second each
const PREVIEW_PERIOD_MS = 100;
const STATE_PERIOD_MS = 300;
const AUDIO_PERIOD_MS = 100;   // the microphone level meter: 10 per second
const METER_FLOOR_DB = -90;    // the meter's left end (its right end is 0 dBFS)
const ANCHORS = ["right_eye", "left_eye", "nose", "mouth"];

const $ = (sel) => document.querySelector(sel);
let frame = null;              // {box: [l, t, r, b], anchors: {name: [x, y]}} normalised 0..1
let dragging = null;           // active drag, see startDrag
const touched = new Map();     // slider key -> time of the user's last change (do not overwrite then)
const pendingParams = {};
let paramsInFlight = false;

async function api(path, body) {
  const init = body === undefined ? {} :
    {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)};
  const response = await fetch(path, init);
  const data = await response.json();
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

function setStatus(text, isError = false) {
  const el = $("#status");
  el.textContent = text;
  el.classList.toggle("error", isError);
}

// ---- images: fetch as blobs so a new picture replaces the old one only once it has arrived ----
function pollImage(img, url, periodMs, enabled = () => true) {
  let previous = null;
  const tick = async () => {
    if (enabled()) {
      try {
        const response = await fetch(`${url}?t=${Date.now()}`, {cache: "no-store"});
        if (response.status === 200) {
          const objectUrl = URL.createObjectURL(await response.blob());
          img.src = objectUrl;
          if (previous) URL.revokeObjectURL(previous);
          previous = objectUrl;
        }
      } catch (err) { /* server gone or busy: try again next tick */ }
    }
    setTimeout(tick, periodMs);
  };
  tick();
}

// ---- sliders ----
function buildSliders(params) {
  const form = $("#sliders");
  let group = null;
  for (const p of params) {
    if (p.group !== group) {
      group = p.group;
      const heading = document.createElement("div");
      heading.className = "group";
      heading.textContent = group;
      form.append(heading);
    }
    const id = `param-${p.key.replace(".", "-")}`;
    const label = document.createElement("label");
    label.htmlFor = id;
    label.textContent = p.label;
    const input = document.createElement("input");
    Object.assign(input, {type: "range", id, min: p.min, max: p.max, step: p.step, value: p.value});
    input.dataset.key = p.key;
    const output = document.createElement("output");
    output.htmlFor = id;
    output.textContent = Number(p.value).toFixed(2);
    input.addEventListener("input", () => {
      output.textContent = Number(input.value).toFixed(2);
      touched.set(p.key, Date.now());
      pendingParams[p.key] = Number(input.value);
      flushParams();
    });
    form.append(label, input, output);
  }
}

async function flushParams() {
  if (paramsInFlight || Object.keys(pendingParams).length === 0) return;
  const values = {...pendingParams};
  for (const key of Object.keys(values)) delete pendingParams[key];
  paramsInFlight = true;
  try {
    applyState(await api("/api/params", {values}));
  } catch (err) {
    setStatus(err.message, true);
  } finally {
    paramsInFlight = false;
    flushParams();
  }
}

function updateSliders(params) {
  const now = Date.now();
  for (const p of params) {
    const input = document.querySelector(`input[data-key="${p.key}"]`);
    if (!input || now - (touched.get(p.key) || 0) < 800) continue;
    input.value = p.value;
    input.nextElementSibling.textContent = Number(p.value).toFixed(2);
  }
}

// ---- face box and anchors ----
function placeFrame() {
  if (!frame) return;
  const [l, t, r, b] = frame.box;
  Object.assign($("#box").style, {
    left: `${l * 100}%`, top: `${t * 100}%`, width: `${(r - l) * 100}%`, height: `${(b - t) * 100}%`,
  });
  for (const name of ANCHORS) {
    const [x, y] = frame.anchors[name];
    Object.assign(document.querySelector(`[data-anchor="${name}"]`).style, {left: `${x * 100}%`, top: `${y * 100}%`});
  }
}

function stagePoint(event) {
  const rect = $("#stage").getBoundingClientRect();
  return [(event.clientX - rect.left) / rect.width, (event.clientY - rect.top) / rect.height];
}

const clamp01 = (v) => Math.min(1, Math.max(0, v));

function startDrag(event, kind, detail) {
  if (!frame) return;
  event.preventDefault();
  event.stopPropagation();
  event.target.setPointerCapture(event.pointerId);
  dragging = {kind, detail, start: stagePoint(event), original: structuredClone(frame)};
}

function moveDrag(event) {
  if (!dragging) return;
  const [x, y] = stagePoint(event);
  const dx = x - dragging.start[0], dy = y - dragging.start[1];
  const orig = dragging.original;
  if (dragging.kind === "anchor") {
    const [ax, ay] = orig.anchors[dragging.detail];
    frame.anchors[dragging.detail] = [clamp01(ax + dx), clamp01(ay + dy)];
  } else {
    let [l, t, r, b] = orig.box;
    if (dragging.kind === "move") {
      l += dx; r += dx; t += dy; b += dy;
    } else {
      const c = dragging.detail;
      if (c.includes("w")) l = Math.min(l + dx, r - 0.03);
      if (c.includes("e")) r = Math.max(r + dx, l + 0.03);
      if (c.includes("n")) t = Math.min(t + dy, b - 0.03);
      if (c.includes("s")) b = Math.max(b + dy, t + 0.03);
    }
    frame.box = [l, t, r, b];
    // the anchors ride along, keeping their place inside the box
    const [ol, ot, or, ob] = orig.box;
    for (const name of ANCHORS) {
      const [ax, ay] = orig.anchors[name];
      frame.anchors[name] = [l + (ax - ol) / (or - ol) * (r - l), t + (ay - ot) / (ob - ot) * (b - t)];
    }
  }
  placeFrame();
}

async function endDrag() {
  if (!dragging) return;
  dragging = null;
  try {
    applyState(await api("/api/frame", frame));
    setStatus("framing solved");
  } catch (err) {
    setStatus(err.message, true);
  }
}

function wireDragging() {
  $("#box").addEventListener("pointerdown", (e) =>
    startDrag(e, e.target.dataset.corner ? "resize" : "move", e.target.dataset.corner));
  for (const el of document.querySelectorAll(".anchor")) {
    el.addEventListener("pointerdown", (e) => startDrag(e, "anchor", el.dataset.anchor));
  }
  document.addEventListener("pointermove", moveDrag);
  document.addEventListener("pointerup", endDrag);
  document.addEventListener("pointercancel", endDrag);
}

// ---- state ----
function applyState(state) {
  $("#character").textContent = state.name;
  const source = $("#source");
  source.textContent = state.source ? `${state.source.name}: ${state.source.state}` : "no face source";
  source.className = `pill ${state.source ? state.source.state : ""}`;
  source.title = state.source && state.source.error ? state.source.error : "face source state";
  updateSliders(state.params);
  if (!dragging) {
    frame = state.frame;
    placeFrame();
  }
  const rec = state.recording;
  const countdown = $("#countdown");
  countdown.hidden = rec.phase !== "countdown" && rec.phase !== "recording";
  $("#recording").textContent = rec.message || "";
  countdown.textContent = rec.phase === "countdown" ? Math.ceil(rec.seconds_left) : rec.prompt;
  for (const b of document.querySelectorAll(".record button")) {
    const available = b.dataset.audio ? state.audio.available : state.source;
    b.disabled = !available || countdown.hidden === false;
  }
  const e = state.expressions;
  $("#ranges").textContent =
    `eyes closed ${e.eye_closed.toFixed(3)} / open ${e.eye_open.toFixed(3)}, ` +
    `mouth closed ${e.mouth_closed.toFixed(3)} / open ${e.mouth_open.toFixed(3)}`;
  const fit = state.auto_fit;
  $("#auto-fit").checked = fit.enabled;
  $("#auto-fit-state").textContent = fit.state === "off" ? "" : fit.state === "waiting" ?
    "(waiting for a steady second of tracking)" :
    `(fitted: face size ${fit.neutral_size.toFixed(3)} at ${fit.neutral.map((v) => v.toFixed(2)).join(", ")})`;
  document.body.dataset.autoFit = fit.state;
  $("#preview-panel").hidden = !state.preview.available;
  $("#preview-note").textContent = state.preview.available ? "" : `No live preview: ${state.preview.reason}`;
  $("#audio-panel").hidden = !state.audio.available;
  $("#audio-note").textContent = state.audio.available ? "" : state.audio.hint;
  showAudio(state.audio);
  $("#save").textContent = state.dirty ? "Save (unsaved changes)" : "Save";
  document.body.dataset.recordPhase = rec.phase;
  document.body.dataset.savedCount = state.saved_count;
}

// ---- microphone level meter ----
const meterPercent = (db) => Math.min(100, Math.max(0, (db - METER_FLOOR_DB) / -METER_FLOOR_DB * 100));

function showAudio(audio) {
  if (!audio.available) return;
  const level = audio.level_db;
  const bar = $("#audio-level");
  bar.style.width = `${level === null ? 0 : meterPercent(level)}%`;
  bar.classList.toggle("open", audio.open > 0);
  $("#audio-gate").style.left = `${meterPercent(audio.gate_db)}%`;
  $("#audio-speech").style.left = `${meterPercent(audio.speech_db)}%`;
  const heard = level === null ? "no sound" : `${level.toFixed(1)} dBFS, mouth ${audio.open.toFixed(2)}`;
  $("#audio-readout").textContent =
    `${audio.device} (${audio.error ? `error: ${audio.error}` : audio.state}): ${heard}; ` +
    `noise floor ${audio.noise_floor_db.toFixed(1)} dBFS, speech ${audio.speech_db.toFixed(1)} dBFS`;
  document.body.dataset.audioState = audio.state;
  document.body.dataset.audioLevel = level === null ? "" : level.toFixed(1);
}

function pollAudio() {
  const tick = async () => {
    try {
      showAudio(await api("/api/audio"));
    } catch (err) { /* server gone: pollState says so */ }
    setTimeout(tick, AUDIO_PERIOD_MS);
  };
  tick();
}

async function pollState() {
  try {
    applyState(await api("/api/state"));
  } catch (err) {
    setStatus("lost contact with the calibration server (closed?)", true);
  }
  setTimeout(pollState, STATE_PERIOD_MS);
}

function wireButtons() {
  for (const b of document.querySelectorAll(".record button[data-step]")) {
    b.addEventListener("click", async () => {
      try {
        applyState(await api("/api/record", {step: b.dataset.step}));
      } catch (err) {
        setStatus(err.message, true);
      }
    });
  }
  const simple = {"#recenter": ["/api/recenter", "recentred"], "#quit": ["/api/quit", "closed; you can close this tab"]};
  for (const [sel, [path, done]] of Object.entries(simple)) {
    $(sel).addEventListener("click", async () => {
      try {
        await api(path, {});
        setStatus(done);
      } catch (err) {
        setStatus(err.message, true);
      }
    });
  }
  $("#auto-fit").addEventListener("change", async (event) => {
    try {
      applyState(await api("/api/auto_fit", {enabled: event.target.checked}));
    } catch (err) {
      setStatus(err.message, true);
    }
  });
  $("#save").addEventListener("click", async () => {
    try {
      const result = await api("/api/save", {});
      setStatus(`saved ${result.path}`);
      applyState(result.state);
    } catch (err) {
      setStatus(err.message, true);
    }
  });
}

async function main() {
  const state = await api("/api/state");
  $("#stage").style.aspectRatio = `${state.reference.width} / ${state.reference.height}`;
  buildSliders(state.params);
  applyState(state);
  wireDragging();
  wireButtons();
  pollImage($("#overlay"), "/overlay.jpg", IMAGE_PERIOD_MS);
  pollImage($("#pose"), "/pose.png", IMAGE_PERIOD_MS);
  pollImage($("#preview"), "/preview.jpg", PREVIEW_PERIOD_MS, () => !$("#preview-panel").hidden);
  setTimeout(pollState, STATE_PERIOD_MS);
  if (state.audio.available) pollAudio();
  document.body.dataset.ready = "1";
}

main().catch((err) => setStatus(`cannot start: ${err.message}`, true));
