// The Live mirror's on-device reader: the camera, the face found, levelled and framed as fercore.faces frames
// it, read by the app's model with onnxruntime-web, the outline and the calm meter drawn over the video. No
// frame leaves the browser: Python hears only of a goal held, with that one still (README.md).
const EMOTIONS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"];
// fercore.faces' settings, for the same faces in the same frames
const COARSE_SIDE = 320, BORDER = 0.25, SCORE = 0.4, NMS = 0.3, TURN = 30, LEAN = 3, DUPLICATE_OVERLAP = 0.5;
const FRAME_SCALE = 1.04, FACE = 48, STRIDES = [8, 16, 32];
const NEAR_SPAN = 2, WHOLE_FRAME_EVERY = 10, LEAN_CHANGE = 10;
// A face still for this many frames is framed as a photo's face is (find_faces): the close-up pass alone frames
// some faces a few pixels differently, which moved some readings by up to 0.3 from Your photo's and
// `fercore predict`'s. Four detector passes, once per still spell, then every STILL_AGAIN frames.
const STILL_FRAMES = 6, STILL_AGAIN = 30, STILL_ROOM = 0.015;
const WORK_SIDE = 640;  // a frame's longest side as read, whatever the camera gives (the server read 640x480)
const SMOOTHING = 0.5, HOLD_SECONDS = 2, SAY_EVERY_MS = 1500;  // fercore.mirror's and the old page's calm

// ---- pictures: gray Uint8Arrays with their sizes, as OpenCV computes them ----

function grayOf(rgba, width, height) {  // OpenCV's BGR2GRAY, to the same fixed-point rounding
  const gray = new Uint8Array(width * height);
  for (let i = 0, j = 0; i < gray.length; i++, j += 4)
    gray[i] = (rgba[j] * 4899 + rgba[j + 1] * 9617 + rgba[j + 2] * 1868 + 8192) >> 14;
  return { data: gray, width, height };
}

function areaResized(image, width, height) {  // INTER_AREA: each output pixel the mean of what it covers
  // separable: the weights of each output column and row over the source's, then rows, then columns
  const spans = (n, from) => {
    const scale = from / n, starts = new Int32Array(n), counts = new Int32Array(n), weights = [];
    for (let o = 0; o < n; o++) {
      const start = o * scale, end = start + scale, first = Math.floor(start), last = Math.min(Math.ceil(end), from);
      starts[o] = first; counts[o] = last - first;
      for (let s = first; s < last; s++) weights.push((Math.min(end, s + 1) - Math.max(start, s)) / scale);
    }
    return [starts, counts, Float32Array.from(weights)];
  };
  const [colStarts, colCounts, colWeights] = spans(width, image.width);
  const [rowStarts, rowCounts, rowWeights] = spans(height, image.height);
  const across = new Float32Array(image.height * width), src = image.data, out = new Uint8Array(width * height);
  for (let y = 0, o = 0; y < image.height; y++)
    for (let x = 0, k = 0; x < width; x++, o++) {
      let sum = 0;
      for (let c = 0, i = y * image.width + colStarts[x]; c < colCounts[x]; c++, k++, i++) sum += src[i] * colWeights[k];
      across[o] = sum;
    }
  for (let y = 0, k = 0; y < height; k += rowCounts[y], y++)
    for (let x = 0; x < width; x++) {
      let sum = 0;
      for (let r = 0, i = rowStarts[y] * width + x; r < rowCounts[y]; r++, i += width) sum += across[i] * rowWeights[k + r];
      out[y * width + x] = Math.min(255, Math.round(sum));
    }
  return { data: out, width, height };
}

function halved(image) {  // INTER_AREA at exactly one half: OpenCV's fast path, (a + b + c + d + 2) >> 2
  const width = image.width >> 1, height = image.height >> 1, out = new Uint8Array(width * height), d = image.data;
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const i = 2 * y * image.width + 2 * x;
      out[y * width + x] = (d[i] + d[i + 1] + d[i + image.width] + d[i + image.width + 1] + 2) >> 2;
    }
  return { data: out, width, height };
}

function invert(m) {  // the inverse of a 2x3 affine map [a, b, c, d, e, f]
  const [a, b, c, d, e, f] = m, det = a * e - b * d;
  return [e / det, -b / det, (b * f - c * e) / det, -d / det, a / det, (c * d - a * f) / det];
}

function composed(outer, inner) {  // inner, then outer
  const [a, b, c, d, e, f] = outer, [g, h, i, j, k, l] = inner;
  return [a * g + b * j, a * h + b * k, a * i + b * l + c, d * g + e * j, d * h + e * k, d * i + e * l + f];
}

function rotation(cx, cy, degrees, scale) {  // cv2.getRotationMatrix2D
  const alpha = scale * Math.cos(degrees * Math.PI / 180), beta = scale * Math.sin(degrees * Math.PI / 180);
  return [alpha, beta, (1 - alpha) * cx - beta * cy, -beta, alpha, beta * cx + (1 - alpha) * cy];
}

// cv2.warpAffine with INTER_LINEAR: `map` takes the source to the output; outside the source, its edge
// repeated (replicate) or black
function warped(image, map, width, height, replicate) {
  const [a, b, c, d, e, f] = invert(map), out = new Uint8Array(width * height), src = image.data;
  const w = image.width, h = image.height;
  const at = (x, y) => {
    if (replicate) return src[Math.min(h - 1, Math.max(0, y)) * w + Math.min(w - 1, Math.max(0, x))];
    return x < 0 || y < 0 || x >= w || y >= h ? 0 : src[y * w + x];
  };
  for (let y = 0; y < height; y++) {
    let sx = b * y + c, sy = e * y + f;  // stepped along the row: the map is affine
    for (let x = 0; x < width; x++, sx += a, sy += d) {
      const x0 = Math.floor(sx), y0 = Math.floor(sy), fx = sx - x0, fy = sy - y0;
      let top, bottom;
      if (x0 >= 0 && y0 >= 0 && x0 < w - 1 && y0 < h - 1) {  // inside: most pixels, read directly
        const i = y0 * w + x0;
        top = src[i] + (src[i + 1] - src[i]) * fx; bottom = src[i + w] + (src[i + w + 1] - src[i + w]) * fx;
      } else {
        top = at(x0, y0) * (1 - fx) + at(x0 + 1, y0) * fx; bottom = at(x0, y0 + 1) * (1 - fx) + at(x0 + 1, y0 + 1) * fx;
      }
      out[y * width + x] = Math.round(top + (bottom - top) * fy);
    }
  }
  return { data: out, width, height };
}

function shifted(image, dx, dy, width, height) {  // warped(image, [1, 0, dx, 0, 1, dy], ..., true), in less time
  const out = new Uint8Array(width * height), src = image.data, w = image.width, h = image.height;
  const ix = Math.floor(-dx), iy = Math.floor(-dy), fx = -dx - ix, fy = -dy - iy;
  const left = new Int32Array(width), right = new Int32Array(width);  // each column's two source columns
  for (let x = 0; x < width; x++) {
    left[x] = Math.min(w - 1, Math.max(0, x + ix)); right[x] = Math.min(w - 1, Math.max(0, x + ix + 1));
  }
  for (let y = 0, o = 0; y < height; y++) {
    const top = Math.min(h - 1, Math.max(0, y + iy)) * w, bottom = Math.min(h - 1, Math.max(0, y + iy + 1)) * w;
    for (let x = 0; x < width; x++, o++) {
      const p = left[x], q = right[x];
      const upper = src[top + p] + (src[top + q] - src[top + p]) * fx;
      const lower = src[bottom + p] + (src[bottom + q] - src[bottom + p]) * fx;
      out[o] = upper + (lower - upper) * fy + 0.5;  // rounded half up, as Math.round: a typed array truncates
    }
  }
  return { data: out, width, height };
}

function bordered(image, pad) {  // cv2.copyMakeBorder, BORDER_REPLICATE
  const width = image.width + 2 * pad, height = image.height + 2 * pad, out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    const row = Math.min(image.height - 1, Math.max(0, y - pad)) * image.width;
    for (let x = 0; x < width; x++) out[y * width + x] = image.data[row + Math.min(image.width - 1, Math.max(0, x - pad))];
  }
  return { data: out, width, height };
}

// ---- finding the face: fercore.faces.find_near_faces ----

function shrunk(gray) {  // the frame shrunk to COARSE_SIDE, the scale, and the border the close-up view adds
  const scale = Math.min(1, COARSE_SIDE / Math.max(gray.width, gray.height));
  let small = gray;
  if (scale < 1) {
    const width = Math.round(gray.width * scale), height = Math.round(gray.height * scale);
    small = width * 2 === gray.width && height * 2 === gray.height ? halved(gray) : areaResized(gray, width, height);
  }
  return [small, scale, Math.round(BORDER * Math.min(small.width, small.height))];
}

function coarseView(gray, [small, scale, pad] = shrunk(gray)) {  // with its replicated border, and the map to it
  return [bordered(small, pad), [scale, 0, pad, 0, scale, pad]];
}

function turned(image, toImage, degrees) {
  if (degrees === 0) return [image, toImage];
  const turn = rotation(image.width / 2, image.height / 2, degrees, 1);
  return [warped(image, turn, image.width, image.height, true), composed(turn, toImage)];
}

function tilt(landmarks) {  // degrees from the line through the eyes to the horizontal
  const [left, right] = [landmarks.slice(0, 2), landmarks.slice(2, 4)].sort((p, q) => p[0] - q[0] || p[1] - q[1]);
  return Math.atan2(right[1] - left[1], right[0] - left[0]) * 180 / Math.PI;
}

function overlap(a, b) {  // the intersection over the smaller box
  const w = Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x), h = Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y);
  return Math.max(w, 0) * Math.max(h, 0) / Math.min(a.w * a.h, b.w * b.h);
}

function iou(a, b) {  // OpenCV's NMSBoxes on whole-pixel boxes
  const w = Math.min(a[0] + a[2], b[0] + b[2]) - Math.max(a[0], b[0]), h = Math.min(a[1] + a[3], b[1] + b[3]) - Math.max(a[1], b[1]);
  const inter = w > 0 && h > 0 ? w * h : 0;
  return inter / (a[2] * a[3] + b[2] * b[3] - inter);
}

class Detector {  // YuNet as cv2.FaceDetectorYN runs it: padded to 32, decoded, suppressed
  constructor(session) { this.session = session; }

  async rows(image) {
    const padW = Math.ceil(image.width / 32) * 32, padH = Math.ceil(image.height / 32) * 32, plane = padW * padH;
    const input = new Float32Array(plane);  // the gray view, black padding (the detector reads one channel)
    for (let y = 0; y < image.height; y++) input.set(image.data.subarray(y * image.width, (y + 1) * image.width), y * padW);
    const out = await this.session.run({ input: new this.session.ort.Tensor("float32", input, [1, 1, padH, padW]) });
    const found = [];
    for (const stride of STRIDES) {
      const cols = padW / stride, rows = padH / stride;
      const cls = out[`cls_${stride}`].data, obj = out[`obj_${stride}`].data;
      const box = out[`bbox_${stride}`].data, kps = out[`kps_${stride}`].data;
      for (let r = 0; r < rows; r++)
        for (let c = 0; c < cols; c++) {
          const i = r * cols + c, clamp = v => Math.min(1, Math.max(0, v));
          const score = Math.sqrt(clamp(cls[i]) * clamp(obj[i]));
          if (score < SCORE) continue;
          const cx = (c + box[4 * i]) * stride, cy = (r + box[4 * i + 1]) * stride;
          const w = Math.exp(box[4 * i + 2]) * stride, h = Math.exp(box[4 * i + 3]) * stride;
          const points = [];
          for (let n = 0; n < 5; n++) points.push((kps[10 * i + 2 * n] + c) * stride, (kps[10 * i + 2 * n + 1] + r) * stride);
          found.push({ row: [cx - w / 2, cy - h / 2, w, h, ...points], score });
        }
    }
    found.sort((a, b) => b.score - a.score);
    const kept = [], boxes = found.map(f => f.row.slice(0, 4).map(Math.trunc));
    found.forEach((f, i) => { if (kept.every(k => iou(boxes[k], boxes[i]) <= NMS)) kept.push(i); });
    return kept.map(i => found[i]);
  }

  // rows in frame pixels: the view's boxes mapped back (they stay upright), as fercore.faces._run
  async mapped(image, toImage) {
    const back = invert(toImage), scale = Math.sqrt(Math.abs(back[0] * back[4] - back[1] * back[3]));
    const map = (x, y) => [back[0] * x + back[1] * y + back[2], back[3] * x + back[4] * y + back[5]];
    return (await this.rows(image)).map(({ row, score }) => {
      const [cx, cy] = map(row[0] + row[2] / 2, row[1] + row[3] / 2), w = row[2] * scale, h = row[3] * scale;
      const landmarks = [];
      for (let n = 0; n < 5; n++) landmarks.push(...map(row[4 + 2 * n], row[5 + 2 * n]));
      return { x: cx - w / 2, y: cy - h / 2, w, h, landmarks, score };
    });
  }

  // the largest face as fercore.faces.find_faces finds it in a photo (Your photo, `fercore predict`): the frame
  // itself (a frame is never over its 2048 px) and the close-up view upright and turned both ways
  async photoFace(gray) {
    const [small, toSmall] = coarseView(gray);
    let rows = await this.mapped(gray, [1, 0, 0, 0, 1, 0]);
    for (const turn of [0, TURN, -TURN]) rows = rows.concat(await this.mapped(...turned(small, toSmall, turn)));
    const [largest] = unique(rows, gray).sort((a, b) => b.w - a.w);
    return largest || null;
  }

  // the largest faces found in a view of the frame turned `turn` degrees (fercore.faces._near_passes): as it
  // is, then turned further the way the faces lean from it, or both ways when the first pass finds none
  async nearPasses(gray, view, toView, most, turn = 0) {
    let rows = await this.mapped(view, toView);
    const leans = rows.length ? new Set(rows.map(r => tilt(r.landmarks) - turn).filter(t => Math.abs(t) >= LEAN).map(Math.sign))
      : new Set([1, -1]);
    for (const lean of leans) rows = rows.concat(await this.mapped(...turned(view, toView, TURN * lean)));
    return unique(rows, gray).sort((a, b) => b.w - a.w).slice(0, most).map(r => ({ row: r, box: boxOf(r), tilt: Math.round(tilt(r.landmarks) * 10) / 10 }));
  }
}

// One video's face, followed from frame to frame as fercore.faces.FaceFollower follows it: looked for in the
// window around where it was found, turned to its tilt then, and in the whole frame at first, when it is lost
// and every tenth frame.
class FaceFollower {
  constructor(detector) { Object.assign(this, { detector, anchor: null, frames: 0 }); }

  async find(gray) {
    this.frames = (this.frames + 1) % WHOLE_FRAME_EVERY;
    const small = shrunk(gray);
    const near = this.anchor ? await this.near(gray, small) : null;
    if (near && this.frames) return framedFace(gray, near.row);
    const [whole] = await this.detector.nearPasses(gray, ...coarseView(gray, small), 1);
    if (whole && !(near && close(whole, near) && Math.abs(whole.tilt - near.tilt) < LEAN_CHANGE)) {
      this.anchor = whole;  // the first face, a lost one found again, someone nearer, or a new tilt
      return framedFace(gray, whole.row);
    }
    if (!near) this.anchor = null;
    return near && framedFace(gray, near.row);
  }

  // the window around the anchor, cut from the shrunk frame on the coarse view's YuNet grid (its border is
  // the frame's edge repeated, as cropped repeats it)
  async near(gray, [small, scale, pad]) {
    const [x, y, w] = this.anchor.box, side = Math.ceil(NEAR_SPAN * w * scale / 32) * 32;
    if (side >= Math.min(small.width, small.height) + 2 * pad) return null;
    const corner = [x + w / 2, y + w / 2].map(centre => Math.round((centre * scale - side / 2 + pad) / 32) * 32 - pad);
    const turn = Math.abs(this.anchor.tilt) >= LEAN ? this.anchor.tilt : 0;
    const [window, toWindow] = turned(cropped(small, corner[0], corner[1], side),
                                      [scale, 0, -corner[0], 0, scale, -corner[1]], turn);
    const [found] = (await this.detector.nearPasses(gray, window, toWindow, 3, turn)).filter(f => close(f, this.anchor));
    return found || null;
  }
}

function unique(rows, gray) {  // duplicates suppressed, best score first; centres inside the frame
  const kept = [];
  rows.sort((a, b) => b.score - a.score || b.w - a.w)
    .forEach(r => { if (kept.every(k => overlap(r, k) <= DUPLICATE_OVERLAP)) kept.push(r); });
  return kept.filter(r => r.x + r.w / 2 >= 0 && r.x + r.w / 2 < gray.width && r.y + r.h / 2 >= 0 && r.y + r.h / 2 < gray.height);
}

function close(face, other) {  // face's centre within half a side of other's: the same face, moved a little
  const [x, y, w] = face.box, [ox, oy, ow] = other.box;
  return Math.abs(x + w / 2 - ox - ow / 2) <= ow / 2 && Math.abs(y + w / 2 - oy - ow / 2) <= ow / 2;
}

function cropped(image, left, top, side) {  // a side x side square of the image, its edge repeated beyond it
  const out = new Uint8Array(side * side);
  for (let y = 0; y < side; y++) {
    const row = Math.min(image.height - 1, Math.max(0, top + y)) * image.width;
    for (let x = 0; x < side; x++) out[y * side + x] = image.data[row + Math.min(image.width - 1, Math.max(0, left + x))];
  }
  return { data: out, width: side, height: side };
}

function sideOf(row) { return Math.max(1, (row.w + row.h) / 2 * FRAME_SCALE); }

function boxOf(row) {  // the square framed region, before levelling, in whole pixels (fercore.faces.Face.box)
  const side = sideOf(row), cx = row.x + row.w / 2, cy = row.y + row.h / 2;
  return [Math.round(cx - side / 2), Math.round(cy - side / 2), Math.round(side), Math.round(side)];
}

function framedFace(gray, row) {  // fercore.faces._face: levelled by the eyes, framed as FER2013, 48x48
  const side = sideOf(row), cx = row.x + row.w / 2, cy = row.y + row.h / 2;
  const angle = tilt(row.landmarks);
  // the square around the face that holds it at any turn, shrunk to at most 3x the crop
  const size = Math.ceil(side * 1.5), most = 3 * FACE;
  let region = shifted(gray, size / 2 - cx, size / 2 - cy, size, size), zoom = 1;
  if (size > most) { region = areaResized(region, most, most); zoom = most / size; }
  const middle = region.width / 2, frame = rotation(middle, middle, angle, FACE / (side * zoom));
  frame[2] += FACE / 2 - middle; frame[5] += FACE / 2 - middle;
  return { crop: warped(region, frame, FACE, FACE, false).data, box: boxOf(row) };
}

// ---- reading ----

async function read(session, crop) {  // the face and its mirror image, averaged, as fercore.predict reads
  const both = new Float32Array(2 * FACE * FACE);
  for (let y = 0; y < FACE; y++)
    for (let x = 0; x < FACE; x++) {
      both[y * FACE + x] = crop[y * FACE + x];
      both[FACE * FACE + y * FACE + x] = crop[y * FACE + FACE - 1 - x];
    }
  const out = await session.run({ faces: new session.ort.Tensor("float32", both, [2, FACE, FACE, 1]) });
  const p = out.probabilities.data;
  return EMOTIONS.map((_, i) => (p[i] + p[EMOTIONS.length + i]) / 2);
}

const sessions = new Map();  // url -> promise of an InferenceSession, for the page's life
async function session(ort, url) {
  if (!sessions.has(url)) sessions.set(url, ort.InferenceSession.create(url, { executionProviders: ["wasm"] })
    .then(s => Object.assign(s, { ort })).catch(e => { sessions.delete(url); throw e; }));
  return sessions.get(url);
}

let runtime = null;  // onnxruntime-web, from this app's server
function loadRuntime(files) {
  runtime = runtime || import(new URL(`${files}ort.wasm.min.mjs`, location.href)).then(ort => {
    ort.env.wasm.wasmPaths = new URL(files, location.href).href;
    // threads need the page isolated (ui/camera_reader/files.py sets its headers); onnxruntime's own default
    // is half the cores, and a learner's device has nothing better to do while the mirror reads
    ort.env.wasm.numThreads = crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
    return ort;
  }).catch(e => { runtime = null; throw e; });
  return runtime;
}

// ---- the words, as fercore.mirror said them on the server ----

const percent = v => `${Math.round(v * 100)}%`;

function said(reading, target) {  // the meter in one sentence for a screen reader, in steps of 10%
  if (!reading) return "Waiting for the first reading.";
  if (!reading.probabilities) return "No face found: look towards the camera.";
  const p = reading.probabilities, top = p.indexOf(Math.max(...p));
  let words = `The model reads ${EMOTIONS[target]} at about ${Math.round(p[target] * 10) * 10}%.`;
  if (top !== target) words += ` Its top reading is ${EMOTIONS[top]} (${percent(p[top])}).`;
  return words;
}

function meterWords(reading, target, goal, step, heldWords) {
  const name = EMOTIONS[target];
  if (!reading) return [[`${name}: starting`], null];
  if (!reading.probabilities) return [[`${name}: no face found`], null];
  const p = reading.probabilities, strength = Math.round(p[target] / step) * step, top = p.indexOf(Math.max(...p));
  const words = [`${name}: ${percent(strength)}`];
  if (top !== target) words.push(`top reading: ${EMOTIONS[top]} ${percent(p[top])}`);
  else if (goal?.held) words.push(heldWords);
  else if (goal?.since != null) words.push("holding");
  return [words, strength];
}

// ---- the goal: the target read at the level or above for HOLD_SECONDS in a row (fercore.mirror.HoldGoal) ----

class HoldGoal {
  constructor(target, level) { Object.assign(this, { target, level, since: null, best: null, held: null }); }

  update(frame, face, raw, shown, now) {
    if (this.held) return;
    if (!face || shown[this.target] < this.level) { this.since = this.best = null; return; }
    this.since ??= now;
    if (!this.best || raw[this.target] > this.best.probabilities[this.target])
      this.best = { frame: frame(), box: face.box, probabilities: raw };
    if (now - this.since >= HOLD_SECONDS) this.held = this.best;
  }
}

// ---- the component ----

const HTML = `
<div class="reader">
  <button type="button" class="start">Start the camera</button>
  <p class="problem" role="alert" hidden></p>
  <div class="stage" hidden>
    <video muted playsinline></video>
    <svg class="outline" aria-hidden="true"><rect class="dark"/><rect class="light"/></svg>
    <div class="meter" aria-hidden="true">
      <div class="bar"><div class="fill"></div><div class="notch" hidden></div></div>
      <p class="words"></p><p class="more"></p>
    </div>
  </div>
  <p class="twin" role="status" aria-live="polite" hidden></p>
  <div class="choices" role="group" hidden></div>
</div>`;

const CSS = `
[hidden] { display: none !important; }
.reader { font-family: var(--st-font, sans-serif); color: var(--st-text-color, inherit); }
button { font: inherit; min-height: 44px; padding: 0.4rem 1rem; border-radius: 0.5rem; cursor: pointer;
  border: 1px solid var(--st-border-color, #888); background: var(--st-secondary-background-color, #f0f2f6);
  color: inherit; }
button:focus-visible { outline: 3px solid var(--st-primary-color, #1a56db); outline-offset: 2px; }
.stage { position: relative; width: fit-content; max-width: 100%; margin-top: 0.5rem; line-height: 0; }
video { display: block; max-width: 100%; height: auto; background: #000; }
.outline { position: absolute; inset: 0; width: 100%; height: 100%; pointer-events: none; }
.outline rect { fill: none; } .outline .dark { stroke: #141414; stroke-width: 6; } .outline .light { stroke: #fff; stroke-width: 2; }
.meter { position: absolute; left: 0; right: 0; bottom: 0; padding: 0.4rem 0.75rem; line-height: 1.3;
  background: rgba(0, 0, 0, 0.65); color: #fff; font-size: 1rem; }
.meter p { margin: 0; } .meter .more:empty { display: none; }
.bar { position: relative; float: right; width: 45%; height: 1rem; margin-top: 0.2rem; border: 2px solid #fff; }
.fill { height: 100%; width: 0; background: #fff; }
.notch { position: absolute; top: -0.35rem; bottom: -0.35rem; width: 2px; background: #fff; outline: 2px solid #141414; }
.problem { margin: 0.5rem 0; }
.choices { display: grid; grid-template-columns: repeat(auto-fit, minmax(9rem, 1fr)); gap: 0.75rem; margin-top: 0.75rem; }
.choices button { min-height: 56px; font-size: 1.1rem; }
.guessing .meter, .guessing .twin { display: none; }
`;

class Reader {
  constructor(root, { setTriggerValue }) {
    root.innerHTML = `<style>${CSS}</style>${HTML}`;
    this.root = root; this.send = setTriggerValue;
    this.el = name => root.querySelector(`.${name}`);
    this.video = root.querySelector("video");
    this.canvas = document.createElement("canvas");
    this.el("start").addEventListener("click", () => (this.stream ? this.stop() : this.start()));
    this.readings = 0; this.reading = null; this.settings = {}; this.stillFrames = 0;
    this.spent = { finding: 0, reading: 0 };  // milliseconds in all, for benchmarks/mirror.py
    this.leaving = () => this.stop();
    this.fit = () => this.fitScreen();
    addEventListener("pagehide", this.leaving);
    addEventListener("resize", this.fit);
  }

  fitScreen() {  // the video no taller than the screen below its top, so its meter shows with it
    const scroller = this.root.host?.closest("[data-testid='stMain']");
    const top = this.el("stage").getBoundingClientRect().top + (scroller?.scrollTop || 0);
    const below = this.el("choices").hidden ? 0 : this.el("choices").getBoundingClientRect().height + 12;
    this.video.style.maxHeight = `${Math.max(200, Math.round(innerHeight - top - below - 16))}px`;
  }

  configure(data) {
    const before = this.settings;
    this.settings = data;
    this.guessing = data.mode === "guess";  // the model's reading stays hidden until the learner has chosen
    this.root.querySelector(".reader").classList.toggle("guessing", this.guessing);
    if (data.round !== before.round || String(data.choices) !== String(before.choices)) this.offerChoices();
    if (!this.el("stage").hidden) { this.el("choices").hidden = !this.guessing; this.fit(); }  // once reading
    if (data.target !== before.target || data.level !== before.level || data.goal_round !== before.goal_round)
      this.goal = data.level == null ? null : new HoldGoal(data.target, data.level);
  }

  get step() { return this.settings.calm || matchMedia("(prefers-reduced-motion: reduce)").matches ? 0.1 : 0.01; }

  say(problem) {
    const p = this.el("problem");
    p.hidden = !problem; p.textContent = problem || "";
  }

  async start() {
    const button = this.el("start");
    button.disabled = true; this.say(null);
    try {
      if (!navigator.mediaDevices?.getUserMedia) throw Object.assign(new Error(), { name: "NoCamera" });
      const ort = loadRuntime(this.settings.files);
      this.stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
      this.video.srcObject = this.stream;
      await this.video.play();
      const [detector, model] = await Promise.all([
        ort.then(o => session(o, this.settings.detector)), ort.then(o => session(o, this.settings.model))]);
      if (!this.stream) return;  // stopped while the model loaded
      this.faces = new FaceFollower(new Detector(detector)); this.model = model;
      this.el("stage").hidden = false; this.el("twin").hidden = false; this.el("choices").hidden = !this.guessing;
      button.textContent = "Stop";
      this.fit();
      this.loop(this.stream);
    } catch (error) {
      this.stop();
      this.say(this.settings.words[problemOf(error)]);
    } finally {
      button.disabled = false;
    }
  }

  stop() {
    this.stream?.getTracks().forEach(track => track.stop());
    this.stream = null; this.reading = null; this.spoken = null;
    this.video.srcObject = null;
    if (this.goal) { this.goal.since = this.goal.best = null; }
    this.el("stage").hidden = true; this.el("twin").hidden = true; this.el("twin").textContent = "";
    this.el("choices").hidden = true; this.latest = this.stillAnchor = this.photoRow = null; this.stillFrames = 0;
    this.el("start").textContent = "Start the camera";
  }

  close() {
    this.stop();
    removeEventListener("pagehide", this.leaving);
    removeEventListener("resize", this.fit);
  }

  frame() {  // the video's newest frame, its longest side WORK_SIDE, as RGBA
    const v = this.video, scale = WORK_SIDE / Math.max(v.videoWidth, v.videoHeight);
    this.canvas.width = Math.round(v.videoWidth * scale); this.canvas.height = Math.round(v.videoHeight * scale);
    const g = this.canvas.getContext("2d", { willReadFrequently: true });
    g.drawImage(v, 0, 0, this.canvas.width, this.canvas.height);
    return g.getImageData(0, 0, this.canvas.width, this.canvas.height);
  }

  async loop(stream) {
    let arrived = nextFrame(this.video);
    while (this.stream === stream) {
      await arrived;
      // armed before the work: a frame that comes while this one is read is read next, without waiting for
      // the one after it (half a frame's time a reading, at 15 readings/s)
      arrived = nextFrame(this.video);
      if (this.stream !== stream || !this.video.videoWidth) continue;
      const began = performance.now(), rgba = this.frame(), gray = grayOf(rgba.data, rgba.width, rgba.height);
      const face = await this.still(gray, await this.faces.find(gray)), found = performance.now();
      const raw = face ? await read(this.model, face.crop) : null;
      this.spent.finding += found - began; this.spent.reading += performance.now() - found;
      if (this.stream !== stream) return;
      const before = this.reading?.probabilities;
      const shown = raw && (before ? raw.map((v, i) => SMOOTHING * v + (1 - SMOOTHING) * before[i]) : raw);
      this.reading = { face, probabilities: shown, raw, size: [rgba.width, rgba.height] };
      this.latest = { rgba, raw };  // what a guess is checked against: the frame on screen as it is made
      this.readings++;
      this.goal?.update(() => copied(rgba), face, raw, shown, performance.now() / 1000);
      this.draw();
      if (this.goal?.held && !this.goal.sent) this.sendHeld(this.goal);
    }
  }

  async still(gray, face) {  // while the face stays put, the face as a photo's is found
    // still: within a few pixels of where the spell began (the follower's window and its whole-frame look
    // every tenth frame place a still face a pixel or two apart; a slow drift ends the spell)
    const anchor = this.stillAnchor, room = anchor && Math.max(2, STILL_ROOM * anchor.box[2]);
    if (!face || !anchor || face.box.some((v, i) => Math.abs(v - anchor.box[i]) > room)) {
      this.stillAnchor = face; this.stillFrames = 0; this.photoRow = null;
      return face;
    }
    this.stillFrames++;
    if (this.stillFrames < STILL_FRAMES) return face;
    if (!this.photoRow || (this.stillFrames - STILL_FRAMES) % STILL_AGAIN === 0)
      this.photoRow = await this.faces.detector.photoFace(gray);
    return this.photoRow ? framedFace(gray, this.photoRow) : face;
  }

  draw() {
    const { face, size } = this.reading, target = this.settings.target;
    const svg = this.el("outline");
    svg.setAttribute("viewBox", `0 0 ${size[0]} ${size[1]}`);
    svg.querySelectorAll("rect").forEach(rect => {
      rect.style.display = face ? "" : "none";
      if (face) ["x", "y", "width", "height"].forEach((k, i) => rect.setAttribute(k, face.box[i]));
    });
    const [words, strength] = meterWords(this.reading, target, this.goal, this.step, this.settings.held_words || "you held it");
    this.el("words").textContent = words[0]; this.el("more").textContent = words[1] || "";
    this.el("fill").style.width = `${Math.min(1, strength ?? 0) * 100}%`;
    const notch = this.el("notch");
    notch.hidden = !this.goal; if (this.goal) notch.style.left = `${this.goal.level * 100}%`;
    const now = performance.now(), sentence = said(this.reading, target);
    if (sentence !== this.spoken && !(now - (this.spokenAt || 0) < SAY_EVERY_MS)) {
      this.el("twin").textContent = this.spoken = sentence; this.spokenAt = now;
    }
  }

  offerChoices() {
    const group = this.el("choices");
    group.setAttribute("aria-label", this.settings.choices_label || "What do you see?");
    group.replaceChildren(...(this.settings.choices || []).map(name => {
      const button = Object.assign(document.createElement("button"), { type: "button", textContent: name });
      button.addEventListener("click", () => this.sendGuess(name));
      return button;
    }));
  }

  sendGuess(choice) {  // the learner's choice, with the frame on screen at that moment and its reading
    if (!this.latest || this.guessed === this.settings.round) return;  // one guess a round
    this.guessed = this.settings.round;
    this.el("choices").querySelectorAll("button").forEach(b => { b.disabled = true; });
    this.send("guessed", { choice, still: jpeg(this.latest.rgba), probabilities: this.latest.raw, round: this.settings.round });
  }

  sendHeld(goal) {  // the one still that leaves the browser: the best frame of a goal held
    goal.sent = true;
    const { frame, probabilities } = goal.held;
    this.send("held", { still: jpeg(frame), probabilities, target: goal.target,
                        level: goal.level, round: this.settings.goal_round });
  }
}

function jpeg(image) {
  const canvas = document.createElement("canvas");
  canvas.width = image.width; canvas.height = image.height;
  canvas.getContext("2d").putImageData(image, 0, 0);
  return canvas.toDataURL("image/jpeg", 0.95);
}

function copied(image) { return new ImageData(new Uint8ClampedArray(image.data), image.width, image.height); }

function nextFrame(video) {  // the next frame the camera gives
  return new Promise(resolve => (video.requestVideoFrameCallback ? video.requestVideoFrameCallback(() => resolve())
    : requestAnimationFrame(() => resolve())));
}

function problemOf(error) {
  if (error?.name === "NotAllowedError" || error?.name === "SecurityError") return "refused";
  if (["NotFoundError", "OverconstrainedError", "NotReadableError", "AbortError", "NoCamera"].includes(error?.name))
    return "missing";
  return "reader";  // onnxruntime-web or a model that could not load
}

// One picture's largest face found, framed and read as the camera's first frame is (find_near_faces), or as a
// still face is (photo: find_faces), for
// tests/test_mirror_e2e.py to hold against fercore on pictures a fake camera can't easily show
export async function readPicture(settings, rgba, width, height, photo = false) {
  const ort = await loadRuntime(settings.files);
  const detector = new Detector(await session(ort, settings.detector)), model = await session(ort, settings.model);
  const gray = grayOf(rgba, width, height);
  const row = photo ? await detector.photoFace(gray) : (await detector.nearPasses(gray, ...coarseView(gray), 1))[0]?.row;
  if (!row) return null;
  const face = framedFace(gray, row);
  return { box: face.box, crop: Array.from(face.crop), probabilities: await read(model, face.crop) };
}

export default function ({ data, parentElement, setTriggerValue }) {
  const reader = (parentElement.fercoreReader ??= new Reader(parentElement, { setTriggerValue }));
  reader.configure(data);
  window.fercoreReaders = (window.fercoreReaders || new Set()).add(reader);  // for the tests and benchmarks
  return () => { reader.close(); window.fercoreReaders?.delete(reader); };
}
