// The digitrec page: draw on a canvas or send a picture, show the answer and why.
// Plain ES module, no dependencies; every request goes to this app's own origin.

const API = "/api/v1/predict?explain=1&multi=1";
const FEEDBACK_API = "/api/v1/feedback";
// The drawing is sent as a small PNG (dark strokes on transparent), whatever the screen's
// pixel density: the engine works on ~80 px of ink anyway, and a small file is encoded,
// sent and decoded in a few milliseconds.
const EXPORT_SIZE = 140;
// Brush width as a share of the canvas: a felt pen's. The engine brings every stroke to
// MNIST's width, so a big digit reads as well as with a marker twice as broad (7.5 %, the
// brush until session 15), while the digits of a number written across a phone keep their
// loops open: 294 of 294 such numbers read right, against 131 (docs/model.md).
const BRUSH = 0.04;
const LIVE_MS = 200; // while the pen is down, an answer at most this often (<= 5 requests/s)

const $ = (id) => document.getElementById(id);
const canvas = $("draw-canvas");
const ctx = canvas.getContext("2d");
const strokes = []; // each stroke: [[x, y], ...] in canvas fractions (0-1)
let current = null;
let inFlight = null;
let liveAt = 0; // when the last answer while drawing was asked for
let drawingEpoch = 0; // bumped when the drawing is cleared: a PNG encoded before is stale
let lastSent = null; // {blob, source, answer, corrected}: the image the answer shown is about
let chosenDigit = null; // which digit of a number the person is correcting

// ---- drawing -------------------------------------------------------------------------

function fitCanvas() {
  const rect = canvas.getBoundingClientRect();
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.max(1, Math.round(rect.width * ratio));
  canvas.height = Math.max(1, Math.round(rect.height * ratio));
  paint(ctx, canvas.width, canvas.height, getComputedStyle(canvas).color);
}

function paint(context, width, height, colour) {
  context.clearRect(0, 0, width, height);
  context.strokeStyle = context.fillStyle = colour;
  context.lineCap = context.lineJoin = "round";
  context.lineWidth = BRUSH * width;
  for (const stroke of strokes) drawStroke(context, stroke, width, height);
}

function drawStroke(context, stroke, width, height) {
  const pts = stroke.map(([x, y]) => [x * width, y * height]);
  if (pts.length === 1) {
    context.beginPath();
    context.arc(pts[0][0], pts[0][1], context.lineWidth / 2, 0, 2 * Math.PI);
    context.fill();
    return;
  }
  // Quadratic curves through the midpoints: smooth lines from jittery pointer samples.
  context.beginPath();
  context.moveTo(pts[0][0], pts[0][1]);
  for (let i = 1; i < pts.length - 1; i++) {
    const mid = [(pts[i][0] + pts[i + 1][0]) / 2, (pts[i][1] + pts[i + 1][1]) / 2];
    context.quadraticCurveTo(pts[i][0], pts[i][1], mid[0], mid[1]);
  }
  const last = pts[pts.length - 1];
  context.lineTo(last[0], last[1]);
  context.stroke();
}

function pointFrom(event) {
  const rect = canvas.getBoundingClientRect();
  return [
    Math.min(1, Math.max(0, (event.clientX - rect.left) / rect.width)),
    Math.min(1, Math.max(0, (event.clientY - rect.top) / rect.height)),
  ];
}

canvas.addEventListener("pointerdown", (event) => {
  if (event.pointerType === "mouse" && event.button !== 0) return;
  event.preventDefault();
  canvas.setPointerCapture(event.pointerId);
  if (removePicture()) showResult(null); // drawing replaces a picture and its answer
  current = [pointFrom(event)];
  strokes.push(current);
  fitCanvas();
});

canvas.addEventListener("pointermove", (event) => {
  if (!current) return;
  event.preventDefault();
  const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
  for (const e of events.length ? events : [event]) current.push(pointFrom(e));
  paint(ctx, canvas.width, canvas.height, getComputedStyle(canvas).color);
  liveAnswer();
});

// Answers while drawing: throttled, and never queued behind one still on its way.
function liveAnswer() {
  const now = performance.now();
  if (now - liveAt < LIVE_MS || inFlight) return;
  liveAt = now;
  const epoch = drawingEpoch;
  exportDrawing().then((blob) => current && epoch === drawingEpoch && send(blob, "canvas", true));
}

function endStroke() {
  if (!current) return;
  current = null;
  predictDrawing(); // at once: the answer for the finished stroke replaces any live one
}
canvas.addEventListener("pointerup", endStroke);
canvas.addEventListener("pointercancel", endStroke);
canvas.addEventListener("touchstart", (e) => e.preventDefault(), { passive: false });

function clearDrawing() {
  strokes.length = 0;
  drawingEpoch++;
  inFlight?.abort();
  fitCanvas();
  showBoxes($("canvas-boxes"), []);
}

// Clear (the button, Esc): whichever input is shown goes, with its answer.
function clearAll() {
  const hadPicture = removePicture();
  clearDrawing();
  showResult(null);
  say(hadPicture ? "Picture removed." : "Canvas cleared.");
}

function removePicture() {
  pictureEpoch++; // a picture still being shrunk is not sent
  const wrap = $("preview-wrap");
  const shown = !wrap.hidden;
  const preview = $("preview");
  if (preview.src.startsWith("blob:")) URL.revokeObjectURL(preview.src);
  preview.removeAttribute("src");
  wrap.hidden = true;
  showBoxes($("preview-boxes"), []);
  return shown;
}

function undo() {
  if (!strokes.length) return;
  strokes.pop();
  fitCanvas();
  if (strokes.length) predictDrawing();
  else {
    showBoxes($("canvas-boxes"), []);
    showResult(null);
  }
  say("Last stroke removed.");
}

function exportDrawing() {
  const off = document.createElement("canvas");
  off.width = off.height = EXPORT_SIZE;
  paint(off.getContext("2d"), EXPORT_SIZE, EXPORT_SIZE, "#000");
  // Encoded at once: toBlob waits for the browser to be idle, and with nothing left to
  // repaint after the pen lifts, Chromium was seen holding it for a whole second. A
  // 140 px drawing takes a couple of milliseconds this way.
  const url = off.toDataURL("image/png");
  const bytes = Uint8Array.from(atob(url.slice(url.indexOf(",") + 1)), (c) => c.charCodeAt(0));
  return Promise.resolve(new Blob([bytes], { type: "image/png" }));
}

// The answer panel says while a final answer (pen up, a picture) is on its way: assistive
// technology waits for it, and so can a test.
const busy = (on) => $("answer").setAttribute("aria-busy", String(on));

async function predictDrawing() {
  if (!strokes.length) {
    showError("Draw a digit first.", "canvas");
    return;
  }
  busy(true);
  // Encoding is asynchronous: a picture chosen (or Clear) meanwhile wins over this drawing.
  const epoch = drawingEpoch;
  const blob = await exportDrawing();
  if (epoch === drawingEpoch) send(blob, "canvas");
}

// ---- pictures: file picker, camera, drag and drop, paste ----------------------------

function usePicture(file) {
  if (!file) return;
  if (file.size === 0) {
    removePicture(); // the picture shown before is not what this answer is about
    showError("That file is empty: choose a picture of a digit.", "picture");
    reveal();
    return;
  }
  // A picture replaces the drawing (one input, one answer); a file that says it is not
  // one (a PDF, a text) leaves the drawing as it was, and the server says what is wrong.
  if (!file.type || file.type.startsWith("image/")) clearDrawing();
  removePicture();
  const wrap = $("preview-wrap");
  const preview = $("preview");
  // Shown once the browser could draw it: a file that is not a picture never shows up as
  // a broken-image icon labelled "The picture you sent".
  wrap.hidden = true;
  if (file.type.startsWith("image/")) {
    preview.onload = () => (wrap.hidden = false);
    preview.onerror = () => (wrap.hidden = true);
    preview.src = URL.createObjectURL(file);
  }
  const epoch = ++pictureEpoch;
  forServer(file, preview).then((sendable) => epoch === pictureEpoch && send(sendable, "picture"));
}

// What the server reads (decode.py), and how much of it: a picture it cannot take (a
// 48 MP photo, a 24 MP PNG, a HEIC that this browser can show) is shrunk here to 2048 px
// and sent as a JPEG (a PNG where it may be transparent), instead of being refused.
const SERVER_TYPES = ["image/png", "image/jpeg", "image/gif", "image/bmp", "image/webp", "image/tiff", "image/avif"];
const MAX_FULL_PIXELS = 16e6; // JPEGs are read up to 40 MP, everything else in full up to 16 MP
const MAX_SENT_BYTES = 8 * 2 ** 20; // under the server's default 10 MB body
const SHRUNK_SIDE = 2048;
let pictureEpoch = 0;

async function forServer(file, preview) {
  if (!file.type.startsWith("image/") || file.type === "image/svg+xml") return file; // the server explains
  try {
    await preview.decode(); // the preview's own decoding (EXIF orientation applied) gives the size
  } catch {
    return file; // the browser cannot read it either: the server says what is wrong
  }
  const width = preview.naturalWidth;
  const height = preview.naturalHeight;
  const known = SERVER_TYPES.includes(file.type);
  const limit = file.type === "image/jpeg" ? 40e6 : MAX_FULL_PIXELS;
  if (known && width * height <= limit && file.size <= MAX_SENT_BYTES) return file;
  const scale = Math.min(1, SHRUNK_SIDE / Math.max(width, height));
  const out = document.createElement("canvas");
  out.width = Math.max(1, Math.round(width * scale));
  out.height = Math.max(1, Math.round(height * scale));
  out.getContext("2d").drawImage(preview, 0, 0, out.width, out.height);
  const type = file.type === "image/jpeg" || !known ? "image/jpeg" : "image/png";
  const url = out.toDataURL(type, 0.92); // at once (see exportDrawing)
  const bytes = Uint8Array.from(atob(url.slice(url.indexOf(",") + 1)), (c) => c.charCodeAt(0));
  const name = (file.name || "picture").replace(/\.[^.]*$/, "") + (type === "image/png" ? ".png" : ".jpg");
  return new File([bytes], name, { type });
}

for (const id of ["upload-input", "camera-input"]) {
  $(id).addEventListener("change", (event) => {
    usePicture(event.target.files[0]);
    event.target.value = "";
  });
}

// A picture dropped anywhere on the page is used, the canvas (the natural target)
// included: left to itself, the browser would open the file and leave the app.
const dropzone = $("dropzone");
const carriesFiles = (event) => [...(event.dataTransfer?.types || [])].includes("Files");
document.addEventListener("dragover", (event) => {
  if (!carriesFiles(event)) return;
  event.preventDefault();
  dropzone.classList.add("dragging");
});
document.addEventListener("dragleave", (event) => {
  if (!event.relatedTarget) dropzone.classList.remove("dragging");
});
document.addEventListener("drop", (event) => {
  if (!carriesFiles(event)) return;
  event.preventDefault();
  dropzone.classList.remove("dragging");
  usePicture(event.dataTransfer.files[0]);
});
document.addEventListener("paste", (event) => {
  const item = [...(event.clipboardData?.items || [])].find((i) => i.kind === "file");
  if (item) {
    event.preventDefault();
    usePicture(item.getAsFile());
  }
});

// Examples: a click fetches the picture from this app and uses it as if it had been chosen.
for (const button of document.querySelectorAll(".example")) {
  button.addEventListener("click", async () => {
    const response = await fetch(button.dataset.src);
    const blob = await response.blob();
    usePicture(new File([blob], button.dataset.src.split("/").pop(), { type: blob.type }));
  });
}

// ---- talking to the API --------------------------------------------------------------

async function send(blob, source, whileDrawing = false) {
  inFlight?.abort(); // only the newest drawing matters
  const controller = new AbortController();
  inFlight = controller;
  const form = new FormData();
  form.append("image", blob, source === "canvas" ? "drawing.png" : blob.name || "picture");
  if (!whileDrawing) {
    busy(true);
    say("Reading…");
  }
  try {
    const response = await fetch(API, { method: "POST", body: form, signal: controller.signal });
    const body = await response.json().catch(() => null);
    if (controller !== inFlight) return;
    inFlight = null;
    if (!response.ok) {
      if (whileDrawing) return; // half a digit may be unreadable: wait for the pen to lift
      showError(body?.error?.message || `The server answered ${response.status}.`, source);
      showBoxes(boxesFor(source), []);
      if (source === "picture") reveal();
      return;
    }
    lastSent = { blob, source, answer: body, corrected: new Set() }; // digits (or "number") corrected
    showResult(body, source, whileDrawing);
    if (source === "picture") reveal();
    // For benchmarks/bench_page.py: when each answer reached the screen, and for what.
    document.dispatchEvent(new CustomEvent("digitrec:answer", { detail: { source, whileDrawing } }));
  } catch (error) {
    if (error.name === "AbortError") return;
    console.error(error);
    showError("Could not reach the server. Check your connection.", source);
  }
}

// On a phone the answer sits below the upload buttons, out of sight once a picture is
// chosen: it is scrolled into view (a drawing is not: the pen is still on the canvas).
function reveal() {
  const panel = $("answer");
  const { top, bottom } = panel.getBoundingClientRect();
  if (top >= 0 && bottom <= window.innerHeight) return;
  const smooth = !window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  panel.scrollIntoView({ behavior: smooth ? "smooth" : "auto", block: "start" });
}

function boxesFor(source) {
  return source === "canvas" ? $("canvas-boxes") : $("preview-boxes");
}

// ---- showing the answer --------------------------------------------------------------

function confidenceWords(p, uncertain) {
  // Flagged uncertain can still be 97 %: "Not sure: 97%" would contradict itself.
  if (uncertain) return p >= 0.9 ? "Probably, but check" : "Not sure";
  if (p >= 0.98) return "Very sure";
  if (p >= 0.9) return "Sure";
  return "Fairly sure";
}

const isNumber = (answer) => Boolean(answer.digits && answer.digits.length > 1);
// The model's first choice for one digit (or one mark of a number) is "not a digit".
const markNoDigit = (d) => d.not_digit > d.confidence;
const looksLikeNoDigit = (answer) => !isNumber(answer) && markNoDigit(answer);
// A probability as the bars show it: whole percent at the ends, one decimal between.
const barPercent = (p) => `${(p * 100).toFixed(p >= 0.995 || p < 0.1 ? 0 : 1)}%`;

function showResult(body, source, whileDrawing = false) {
  if (!whileDrawing) busy(false);
  $("error-message").hidden = true;
  feedbackSays("");
  $("typed-number").value = "";
  const panel = $("result");
  panel.hidden = !body;
  $("placeholder").hidden = Boolean(body);
  // The answer says what it is about: only that input is shown (see usePicture, clearAll).
  $("result-title").textContent = body ? titleFor(source) : "Answer";
  if (!body) return;
  const several = isNumber(body);
  // Marks that are no digits; all of them (shapes, not digits): no number to read first,
  // only a "?" (as for one mark).
  const someAreNoDigits = several && body.digits.some(markNoDigit);
  const noneAreDigits = several && body.digits.every(markNoDigit);
  const digitEl = $("result-digit");
  const numberEl = $("result-number");
  digitEl.hidden = several && !noneAreDigits;
  numberEl.hidden = !several || noneAreDigits;
  // Not a digit: no big digit to read first, and nothing to copy.
  const notDigit = looksLikeNoDigit(body) || noneAreDigits;
  digitEl.textContent = notDigit ? "?" : String(body.digit);
  // In a number, a mark that does not look like a digit shows as "?", and nothing is copied.
  const shown = several ? body.digits.map((d) => (markNoDigit(d) ? "?" : String(d.digit))).join("") : "";
  $("copy").hidden = notDigit || someAreNoDigits;
  numberEl.textContent = shown;
  numberEl.style.setProperty("--digits", several ? body.number.length : 1); // fits one line
  panel.classList.toggle("uncertain", body.uncertain);

  const percent = (p) => (p < 0.005 ? "under 1%" : barPercent(p));
  let announcement;
  if (noneAreDigits) {
    $("result-confidence").textContent = "This does not look like a digit or a number";
    $("result-alternatives").textContent = "None of its marks looks like a digit.";
    announcement = "This does not look like a digit or a number.";
  } else if (someAreNoDigits) {
    // A mark that is no digit makes the product of confidences meaningless ("under 1%").
    const marks = body.digits.filter(markNoDigit).length;
    $("result-confidence").textContent = `Not sure: ${marks} of ${body.digits.length} marks ${marks === 1 ? "does" : "do"} not look like a digit`;
    $("result-alternatives").textContent = "Check them below.";
    announcement = `Answer: the number ${shown}, not sure.`;
  } else if (several) {
    // How sure the whole number is (the product of its digits' confidences).
    $("result-confidence").textContent = `${confidenceWords(body.confidence, body.uncertain)}: ${percent(body.confidence)}`;
    $("result-alternatives").textContent = body.uncertain ? "Some digits are unclear: check them below." : "";
    announcement = `Answer: the number ${body.number}.`;
  } else if (notDigit) {
    // The model's first choice is "not a digit": say so, and keep the best digit as a guess.
    $("result-confidence").textContent = `This does not look like a digit (${percent(body.not_digit)})`;
    $("result-alternatives").textContent = `If it is one, the best guess is ${body.digit} (${percent(body.confidence)}).`;
    announcement = `This does not look like a digit. Best guess: ${body.digit}.`;
  } else {
    $("result-confidence").textContent = `${confidenceWords(body.confidence, body.uncertain)}: ${percent(body.confidence)}`;
    const ranked = body.probabilities.map((p, d) => [p, d]).sort((a, b) => b[0] - a[0]);
    $("result-alternatives").textContent = body.uncertain
      ? `Could also be ${ranked[1][1]} (${percent(ranked[1][0])}).`
      : "";
    announcement = `Answer: ${body.digit}. ${$("result-confidence").textContent}.`;
  }

  // One digit: its ten bars and its 28x28; a number: each digit's 28x28 in the list below.
  $("bars").hidden = several;
  $("model-seen").hidden = several;
  if (!several) {
    body.probabilities.forEach((p, d) => {
      const bar = $(`prob-bar-${d}`);
      bar.style.width = `${(p * 100).toFixed(1)}%`;
      bar.setAttribute("aria-valuenow", (p * 100).toFixed(0));
      bar.classList.toggle("top", d === body.digit);
      $(`prob-value-${d}`).textContent = barPercent(p);
    });
    $("model-view").src = body.input_28x28;
  }

  chosenDigit = null;
  $("feedback-title").textContent = several
    ? "Wrong? Tap the digit that is wrong, then the right digit:"
    : "Wrong? Tap the right digit:";
  const list = $("digit-list");
  list.hidden = !several;
  list.replaceChildren(
    ...(several ? body.digits : []).map((d, index) => {
      const li = document.createElement("li");
      const choose = document.createElement("button");
      choose.type = "button";
      choose.className = "digit-choice";
      choose.dataset.testid = `digit-choice-${index}`;
      choose.setAttribute("aria-pressed", "false");
      // A mark that does not look like a digit (its best guess is shown nowhere as a digit).
      const noDigit = markNoDigit(d);
      choose.setAttribute(
        "aria-label",
        noDigit
          ? `Mark ${index + 1}, which does not look like a digit: correct this one`
          : `Digit ${index + 1}, read as ${d.digit}: correct this one`
      );
      const img = document.createElement("img");
      img.src = d.input_28x28;
      img.alt = "";
      // An unsure digit is marked, so the person knows which one to check.
      choose.classList.toggle("unsure", d.uncertain);
      choose.append(
        img,
        noDigit ? `no digit · ${percent(d.not_digit)}` : `${d.digit}${d.uncertain ? "?" : ""} · ${percent(d.confidence)}`
      );
      choose.addEventListener("click", () => chooseDigit(index));
      li.append(choose);
      return li;
    }),
  );
  showBoxes(boxesFor(source), several ? body.digits : []);
  if (!whileDrawing) say(announcement); // a screen reader hears the answer once, at pen up
}

function showBoxes(container, digits) {
  container.replaceChildren(
    ...digits.map((d) => {
      const box = document.createElement("div");
      box.className = "box";
      box.style.left = `${d.box.x * 100}%`;
      box.style.top = `${d.box.y * 100}%`;
      box.style.width = `${d.box.width * 100}%`;
      box.style.height = `${d.box.height * 100}%`;
      box.dataset.digit = markNoDigit(d) ? "?" : d.digit;
      return box;
    }),
  );
}

const titleFor = (source) => (source === "canvas" ? "Answer: your drawing" : "Answer: your picture");

function showError(message, source) {
  busy(false);
  $("result-title").textContent = titleFor(source);
  $("result").hidden = true;
  $("placeholder").hidden = true;
  const el = $("error-message");
  el.textContent = message;
  el.hidden = false;
  say(message);
}

function say(message) {
  $("status").textContent = message;
}

// ---- corrections ---------------------------------------------------------------------

function chooseDigit(index) {
  chosenDigit = index;
  for (const button of document.querySelectorAll(".digit-choice")) {
    button.setAttribute("aria-pressed", String(button.dataset.testid === `digit-choice-${index}`));
  }
  const read = lastSent.answer.digits[index].digit;
  feedbackSays(`The ${ordinal(index + 1)} digit, read as ${read}: now tap the right digit.`);
}

// 1st, 2nd, 3rd, 4th ... 11th, 12th, 13th ... 21st
function ordinal(n) {
  const teen = n % 100 >= 11 && n % 100 <= 13;
  return `${n}${teen ? "th" : { 1: "st", 2: "nd", 3: "rd" }[n % 10] || "th"}`;
}

async function sendCorrection(correct) {
  if (!lastSent) return;
  const answer = lastSent.answer;
  const several = isNumber(answer);
  if (several && chosenDigit === null) {
    feedbackSays("First tap the digit that is wrong, above.");
    return;
  }
  const read = several ? answer.digits[chosenDigit].digit : answer.digit;
  const which = several ? chosenDigit : 0;
  // Tapping what was read corrects nothing, unless it takes back a correction of that digit.
  const piece = several ? answer.digits[chosenDigit] : answer;
  if (correct === read && !markNoDigit(piece) && !lastSent.corrected.has(which)) {
    feedbackSays(`That is what it read (${read}): nothing to correct.`);
    return;
  }
  // A number is corrected one digit at a time: the server stores that digit's own 28x28.
  const form = new FormData();
  form.append("image", lastSent.blob, "image");
  form.append("predicted", String(read));
  form.append("correct", String(correct));
  if (several) form.append("digit_index", String(chosenDigit));
  if (answer.request_id) form.append("request_id", answer.request_id);
  const aDigit = `${correct === 8 ? "an" : "a"} ${correct}`;
  // In a number, say which digit: "the 2nd digit saved as a 3".
  const what = several ? `the ${ordinal(chosenDigit + 1)} digit ` : "";
  const thanks =
    correct === read ? `Saved: ${what || "it "}is ${aDigit} after all.` : `Thank you: ${what}saved as ${aDigit}.`;
  await postCorrection(form, thanks, (corrected) => {
    corrected.delete("number");
    corrected.add(which);
  });
}

async function sendNumber(event) {
  // When the digits were miscounted, the person types the whole number: stored as a
  // number-level correction (never as one-digit examples).
  event.preventDefault();
  if (!lastSent) return;
  const typed = $("typed-number").value.replace(/[\s.,'_-]/g, ""); // "2 024", "1,000"
  if (!/^[0-9]{1,32}$/.test(typed)) {
    feedbackSays("Type the number with the digits 0-9 only.");
    return;
  }
  // The number it read: takes back what was corrected about this answer, if anything.
  if (typed === lastSent.answer.number) {
    if (lastSent.corrected.size) undoCorrections(`Saved: it is ${typed} after all.`);
    else feedbackSays(`That is what it read (${typed}): nothing to correct.`);
    return;
  }
  const form = new FormData();
  form.append("image", lastSent.blob, "image");
  form.append("correct_number", typed);
  if (lastSent.answer.request_id) form.append("request_id", lastSent.answer.request_id);
  await postCorrection(form, `Thank you: saved as the number ${typed}.`, (corrected) => {
    corrected.clear();
    corrected.add("number");
  });
}

// The person's last word on an answer wins: the server replaces their earlier correction
// of the same digit (or of the whole answer, for a typed number), and Undo withdraws them all.
// Corrections and undos are sent one after another, so the last tap is the last word.
let feedbackQueue = Promise.resolve();

// Queue one request about the answer ``sent``; ``handled(response)`` deals with the answers
// it expects (true), anything else is said as an error while that answer is still shown.
function queueFeedback(sent, request, handled, what) {
  feedbackQueue = feedbackQueue.then(async () => {
    try {
      const response = await request();
      if (!(await handled(response)) && sent === lastSent) await feedbackFailed(response, what);
    } catch {
      if (sent === lastSent) feedbackSays("Could not reach the server.");
    }
  });
  return feedbackQueue;
}

function postCorrection(form, thanks, record) {
  const sent = lastSent;
  feedbackSays("Sending…");
  return queueFeedback(
    sent,
    () => fetch(FEEDBACK_API, { method: "POST", body: form }),
    async (response) => {
      if (response.status !== 201) return false;
      const saved = await response.json();
      if (sent.answer.request_id) record(sent.corrected);
      if (sent === lastSent) feedbackSays(saved.replaced ? `${thanks} It replaces what you sent before.` : thanks);
      return true;
    },
    "save"
  );
}

function undoCorrections(undone = "Undone: nothing you sent about this answer is kept.") {
  const sent = lastSent;
  if (!sent?.answer.request_id) return;
  feedbackSays("Undoing…");
  const query = new URLSearchParams({ request_id: sent.answer.request_id });
  queueFeedback(
    sent,
    () => fetch(`${FEEDBACK_API}?${query}`, { method: "DELETE" }),
    (response) => {
      if (!response.ok && response.status !== 404) return false;
      sent.corrected.clear();
      if (sent === lastSent) {
        feedbackSays(
          response.ok
            ? undone
            : "Nothing to undo: no correction of this answer is kept."
        );
      }
      return true;
    },
    "undo"
  );
}

async function feedbackFailed(response, what) {
  if (response.status === 404 && what === "save") return feedbackSays("This server does not collect corrections.");
  const body = await response.json().catch(() => null);
  feedbackSays(body?.error?.message || `Could not ${what} (${response.status}).`);
}

// Undo stays offered while this answer has corrections kept, whatever the status says.
function feedbackSays(message) {
  $("feedback-status").textContent = message;
  $("undo-correction").hidden = !(lastSent && lastSent.corrected.size);
}

$("number-fix").addEventListener("submit", sendNumber);
$("undo-correction").addEventListener("click", () => undoCorrections());
$("copy").addEventListener("click", async () => {
  if (!lastSent) return;
  try {
    await navigator.clipboard.writeText(lastSent.answer.number);
    say(`Copied ${lastSent.answer.number}.`);
    $("copy").textContent = "Copied";
    setTimeout(() => ($("copy").textContent = "Copy"), 1500);
  } catch {
    say("Copying is not allowed here: select the number and copy it by hand.");
  }
});
for (const button of document.querySelectorAll("[data-digit]")) {
  button.addEventListener("click", () => sendCorrection(Number(button.dataset.digit)));
}

// ---- controls and keys -----------------------------------------------------------------

$("clear").addEventListener("click", clearAll);
$("remove-picture").addEventListener("click", () => {
  // The answer (or the error) about the picture goes with it; one about the drawing stays.
  const answerWasAboutIt = lastSent?.source !== "canvas" || $("result-title").textContent === titleFor("picture");
  removePicture();
  if (answerWasAboutIt) showResult(null);
  say("Picture removed.");
});
$("undo").addEventListener("click", undo);
$("predict").addEventListener("click", predictDrawing);
document.addEventListener("keydown", (event) => {
  if (event.target instanceof HTMLInputElement) return;
  if (event.key === "Escape") {
    event.preventDefault();
    clearAll();
  } else if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "z") {
    event.preventDefault();
    undo();
  }
});
window.addEventListener("resize", fitCanvas);
fitCanvas();
