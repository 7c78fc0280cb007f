// xmodal web page: how media is shown. Image thumbnails come from the
// server (composited on white there); a sound gets a player that knows its
// duration and a small waveform drawn from the decoded file, lazily, when
// its card scrolls into view.
(() => {
"use strict";

const WAVE_MAX_BYTES = 16 << 20;  // bigger files get a player but no waveform
let decoder = null;               // one OfflineAudioContext: decoding needs no user gesture

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

function withParam(url, key, value) {
  return url + (url.includes("?") ? "&" : "?") + key + "=" + value;
}

function formatTime(seconds) {
  if (!isFinite(seconds)) return "";
  const s = Math.max(0, Math.round(seconds * 10) / 10);
  const m = Math.floor(s / 60), rest = s - 60 * m;
  return m + ":" + (rest < 10 ? "0" : "") + (s < 10 ? rest.toFixed(1) : Math.round(rest));
}

// Peak amplitude per column of the first channel.
function peaks(buffer, columns) {
  const data = buffer.getChannelData(0), step = Math.max(1, Math.floor(data.length / columns));
  const out = new Float32Array(columns);
  for (let c = 0; c < columns; c++) {
    let peak = 0;
    for (let i = c * step, end = Math.min(data.length, (c + 1) * step); i < end; i++) {
      const v = Math.abs(data[i]);
      if (v > peak) peak = v;
    }
    out[c] = peak;
  }
  return out;
}

function drawWave(canvas, buffer) {
  const ctx = canvas.getContext("2d"), w = canvas.width, h = canvas.height;
  const p = peaks(buffer, w), top = Math.max(...p) || 1;
  ctx.clearRect(0, 0, w, h);
  ctx.fillStyle = "#2f6fde";
  for (let x = 0; x < w; x++) {
    const bar = Math.max(1, (p[x] / top) * (h - 2));
    ctx.fillRect(x, (h - bar) / 2, 1, bar);
  }
  canvas.dataset.drawn = "1";
}

async function loadWave(card) {
  const canvas = card.querySelector("canvas.wave"), label = card.querySelector(".duration");
  try {
    const resp = await fetch(canvas.dataset.src);
    if (!resp.ok) throw new Error("HTTP " + resp.status);
    if (Number(resp.headers.get("content-length") || 0) > WAVE_MAX_BYTES) { canvas.remove(); return; }
    decoder = decoder || new OfflineAudioContext(1, 1, 44100);
    const buffer = await decoder.decodeAudioData(await resp.arrayBuffer());
    drawWave(canvas, buffer);
    label.textContent = formatTime(buffer.duration);
    card.dataset.duration = buffer.duration.toFixed(3);
  } catch (err) {
    canvas.remove();  // the player still works; only the picture is missing
    label.textContent = label.textContent || "?";
  }
}

const waveObserver = "IntersectionObserver" in window ? new IntersectionObserver((entries) => {
  for (const entry of entries) {
    if (!entry.isIntersecting) continue;
    waveObserver.unobserve(entry.target);
    loadWave(entry.target);
  }
}, { rootMargin: "200px" }) : null;

function audioBlock(src, holder) {
  const wrap = el("div", "sound");
  const canvas = el("canvas", "wave");
  canvas.width = 180; canvas.height = 36;
  canvas.dataset.src = src;
  const audio = el("audio");
  audio.controls = true;
  audio.preload = "metadata";  // the player shows the real duration, not 0:00
  audio.src = src;
  audio.addEventListener("click", (e) => e.stopPropagation());
  const label = el("span", "duration");
  audio.addEventListener("loadedmetadata", () => { if (!label.textContent) label.textContent = formatTime(audio.duration); });
  wrap.append(canvas, audio, label);
  if (waveObserver) waveObserver.observe(holder); else loadWave(holder);
  return wrap;
}

// The media part of a result card.
function mediaBlock(hit, card) {
  const media = el("div", "media " + hit.modality);
  if (hit.modality === "image" && hit.media_url) {
    const img = el("img");
    img.loading = "lazy";
    img.alt = hit.metadata.text || hit.id;
    img.src = withParam(hit.media_url, "thumb", "1");
    media.append(img);
  } else if (hit.modality === "audio" && hit.media_url) {
    media.append(audioBlock(hit.media_url, card));
  } else {
    media.append(el("div", "text", hit.metadata.text || ""));
    if (hit.metadata.parent_id) parentPicture(hit.metadata.parent_id, media);
  }
  return media;
}

// A caption's card also shows the picture it describes (a small thumbnail).
async function parentPicture(parentId, media) {
  try {
    const resp = await fetch("/items/" + parentId.split("/").map(encodeURIComponent).join("/"));
    if (!resp.ok) return;
    const parent = await resp.json();
    if (parent.modality !== "image" || !parent.media_url) return;
    const img = el("img", "parent");
    img.loading = "lazy";
    img.alt = "the image this caption describes";
    img.src = withParam(parent.media_url, "thumb", "1");
    media.classList.add("with-parent");
    media.append(img);
  } catch { /* the caption alone is still shown */ }
}

// What the query was: an uploaded file (a data: URL) or an indexed item.
function queryPreview(kind, src, name) {
  if (kind === "image") {
    const img = el("img");
    img.src = src;
    img.alt = name;
    return img;
  }
  const holder = el("div", "query-sound");
  holder.append(audioBlock(src, holder));
  return holder;
}

window.xmodalMedia = { el, mediaBlock, queryPreview, withParam, formatTime };
})();
