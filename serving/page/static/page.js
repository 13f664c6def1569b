// Folkgen's page: the form -> POST /api/generate -> poll the job -> engrave the ABC with abcjs,
// play it with abcjs's synth (note samples from /soundfont/, served by Folkgen), vary bars, download.
"use strict";

const page = {
  tune: null,          // the tune's JSON from the server
  visualObj: null,     // abcjs's parsed and engraved tune
  selected: new Set(), // 0-based bar numbers chosen for Vary
  synth: null,
  timings: {},         // clicked / drawn times of the last generation (performance.now(), ms)
  lastJob: null,       // the server's seconds for the last job: {seconds (all), sampling}
};
window.folkgen = page;

const $ = (id) => document.getElementById(id);

async function api(path, body) {
  const response = await fetch(path, body === undefined ? {} : {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
  const answer = await response.json();
  if (!response.ok) throw new Error(answer.error || `${response.status} ${response.statusText}`);
  return answer;
}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = !message;
}

function setBusy(busy, text) {
  $("generate").disabled = busy;
  $("vary").disabled = busy || page.selected.size === 0;
  $("progress").hidden = !busy;
  $("status-text").textContent = text || "";
}

async function loadModels() {
  const answer = await api("/api/models");
  for (const model of answer.models) {
    const option = new Option(`${model.name} (${model.kind.replace("token_", "")})`, model.name);
    $("model").add(option);
  }
  for (const name of answer.primers) $("primer").add(new Option(name, name));
  $("primer").add(new Option("ABC text", "abc"));
  $("primer").add(new Option("a file (ABC, MIDI, MusicXML)", "file"));
  page.synthesiser = answer.synthesiser;
}

function readFile(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result.split(",", 2)[1] || "");
    reader.onerror = () => reject(new Error(`cannot read ${file.name}`));
    reader.readAsDataURL(file);
  });
}

async function formFields() {
  const fields = {};
  for (const name of ["model", "key", "mode", "meter", "bars", "temperature", "top_p", "seed", "primer", "primer_abc"]) {
    fields[name] = $(name).value;
  }
  fields.tempo = $("tempo").value;
  if (fields.primer === "file") {
    const file = $("primer_file").files[0];
    fields.primer_file = file ? {name: file.name, data: await readFile(file)} : null;
  }
  return fields;
}

async function follow(jobId, what) {
  for (;;) {
    const job = await api(`/api/jobs/${jobId}`);
    if (job.state === "failed") throw new Error(job.error);
    if (job.state === "done") {
      page.lastJob = {seconds: job.seconds, sampling: job.sampling_seconds};
      return job.tune;
    }
    if (job.total > 0) {
      $("progress").max = job.total;
      $("progress").value = job.done;
    }
    setBusy(true, job.state === "writing" ? "Writing the score and files…"
      : job.total > 0 ? `${what}: step ${job.done} of at most ${job.total}` : `${what}…`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function run(start, what) {
  showError("");
  stop();
  page.timings = {clicked: performance.now()};
  setBusy(true, `${what}…`);
  try {
    const tune = await follow((await start()).job, what);
    show(tune);
    const took = `${((page.timings.drawn - page.timings.clicked) / 1000).toFixed(1)} s` +
      (page.lastJob.sampling !== null ? ` (sampling ${page.lastJob.sampling.toFixed(1)} s)` : "");
    setBusy(false, tune.parent ? `Bars ${tune.varied.map((bar) => bar + 1).join(", ")} varied in ${took}.`
      : `Drawn in ${took}.`);
  } catch (error) {
    setBusy(false, "");
    showError(error.message);
  }
}

function show(tune) {
  page.tune = tune;
  page.selected.clear();
  $("tune").hidden = false;
  // The N: (notes) line stays in the ABC download; the page states the novelty below the score.
  const engraved = tune.abc.split("\n").filter((line) => !line.startsWith("N:")).join("\n");
  page.visualObj = ABCJS.renderAbc("score", engraved, {
    add_classes: true, responsive: "resize", staffwidth: 1000, clickListener: clicked,
    selectTypes: ["note", "rest", "bar"],
  })[0];
  page.timings.drawn = performance.now();
  const varied = tune.parent ? `; bar${tune.varied.length > 1 ? "s" : ""} ${tune.varied.map((bar) => bar + 1).join(", ")} ` +
    `varied (best of the candidates: log p ${tune.log_p.toFixed(1)} nats)` : "";
  $("seed-line").textContent = `${tune.model}, seed ${tune.seed}, ${tune.bars} bars in ${tune.key} ${tune.meter}${varied}`;
  $("novelty").textContent = `longest run in a training tune: ${tune.novelty}`;
  $("seed").placeholder = `random (last: ${tune.seed})`;
  showDownloads(tune);
  $("tempo").value = Math.round(tune.tempo);
  markSelection();
  if (tune.files_pending) followDownloads(tune.id);
}

function showDownloads(tune) {
  for (const fmt of ["abc", "mid", "musicxml", "wav", "png"]) {
    const link = $(`dl-${fmt}`);
    link.hidden = !(fmt in tune.files);
    link.href = tune.files[fmt] || "";
  }
  $("downloads-status").textContent = tune.files_error ? `some files could not be written: ${tune.files_error}`
    : tune.files_pending ? "(writing MIDI, MusicXML, WAV and PNG…)" : "";
}

// The downloads other than the ABC are written after the score is shown: their links appear when ready.
async function followDownloads(tuneId) {
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    if (!page.tune || page.tune.id !== tuneId) return;
    const tune = await api(`/api/tunes/${tuneId}`);
    page.tune.files = tune.files;
    showDownloads(tune);
    if (!tune.files_pending) return;
  }
}

// The 0-based bar of an engraved element, from abcjs's "abcjs-mmN" class (N counts the tune's measures).
function barOf(classes) {
  const match = /(?:^|\s)abcjs-mm(\d+)(?:\s|$)/.exec(classes || "");
  return match ? Number(match[1]) : null;
}

function clicked(abcElem, tuneNumber, classes) {
  const bar = barOf(classes);
  if (bar === null) return;
  if (page.selected.has(bar)) page.selected.delete(bar); else page.selected.add(bar);
  markSelection();
}

page.markSelection = markSelection;
function markSelection() {
  for (const element of document.querySelectorAll("#score .bar-selected")) element.classList.remove("bar-selected");
  for (const bar of page.selected) {
    for (const element of document.querySelectorAll(`#score .abcjs-mm${bar}`)) element.classList.add("bar-selected");
  }
  const bars = [...page.selected].sort((a, b) => a - b);
  $("selection").textContent = bars.length ? `selected: bar${bars.length > 1 ? "s" : ""} ${bars.map((bar) => bar + 1).join(", ")}` : "";
  $("vary").disabled = bars.length === 0 || $("generate").disabled;
}

function stop() {
  if (page.synth) page.synth.stop();
  page.synth = null;
  $("play").disabled = false;
  $("stop").disabled = true;
}

async function play() {
  if (!page.visualObj) return;
  stop();
  $("play").disabled = true;
  $("play-status").textContent = "Loading the notes…";
  try {
    const qpm = Number($("tempo").value);
    if (!(qpm >= 30 && qpm <= 300)) throw new Error(`tempo: must be 30 to 300 quarter notes a minute, got ${$("tempo").value}`);
    const meter = page.visualObj.getMeterFraction();
    const barQuarters = meter.den ? 4 * meter.num / meter.den : 4;
    const synth = new ABCJS.synth.CreateSynth();
    await synth.init({visualObj: page.visualObj, millisecondsPerMeasure: 60000 * barQuarters / qpm,
      options: {soundFontUrl: "/soundfont/", program: 0}});
    await synth.prime();
    page.synth = synth;
    synth.start();
    $("stop").disabled = false;
    $("play-status").textContent = `Playing at ${qpm} (notes by ${page.synthesiser}).`;
  } catch (error) {
    $("play").disabled = false;
    $("play-status").textContent = "";
    showError(`playback: ${error.message || error}`);
  }
}

$("primer").addEventListener("change", () => {
  $("primer_abc").hidden = $("primer").value !== "abc";
  $("primer_file").hidden = $("primer").value !== "file";
});
$("compose").addEventListener("submit", async (event) => {
  event.preventDefault();
  const fields = await formFields();
  run(() => api("/api/generate", fields), "Sampling");
});
$("vary").addEventListener("click", () => {
  const bars = [...page.selected].sort((a, b) => a - b);
  run(() => api(`/api/tunes/${page.tune.id}/vary`, {bars}), "Varying");
});
$("play").addEventListener("click", play);
$("stop").addEventListener("click", stop);
loadModels().then(() => { page.ready = true; }, (error) => showError(`cannot list the models: ${error.message}`));
