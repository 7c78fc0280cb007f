// xmodal web page: search by text, file (image/sound) or id ("more like
// this"); text/id searches live in the URL so reload and back restore them.
"use strict";

const $ = (id) => document.getElementById(id);
const form = $("search-form"), qBox = $("q"), fileBox = $("file"), targetBox = $("target"), kBox = $("k");
const statusLine = $("status"), results = $("results");

function setStatus(text, isError) {
  statusLine.textContent = text;
  statusLine.classList.toggle("error", !!isError);
}

function stateFromUrl() {
  const p = new URLSearchParams(location.search);
  return { q: p.get("q") || "", id: p.get("id") || "", index: p.get("index") || "",
           target: p.get("target") || "all", k: p.get("k") || "20" };
}

function pushState(state) {
  const p = new URLSearchParams();
  if (state.q) p.set("q", state.q);
  if (state.id) p.set("id", state.id);
  if (state.target && state.target !== "all") p.set("target", state.target);
  if (state.k) p.set("k", state.k);
  const url = "?" + p.toString();
  if (url !== location.search) history.pushState(state, "", url);
}

function fileToBase64(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(",", 2)[1] || "");
    reader.onerror = () => reject(new Error("could not read " + file.name));
    reader.readAsDataURL(file);
  });
}

async function runSearch(body, what) {
  setStatus("Searching " + what + "…");
  results.setAttribute("aria-busy", "true");
  try {
    const resp = await fetch("/search", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    const data = await resp.json().catch(() => ({ detail: "the server sent no JSON" }));
    if (!resp.ok) { results.replaceChildren(); setStatus(data.detail || resp.statusText, true); return; }
    render(data.hits);
    setStatus(data.hits.length ? `${data.hits.length} results for ${what} (${data.took_ms.toFixed(1)} ms)`
                               : `No results for ${what}.`);
  } catch (err) {
    setStatus("Search failed: " + err.message, true);
  } finally {
    results.removeAttribute("aria-busy");
  }
}

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

function withParam(url, key, value) {
  return url + (url.includes("?") ? "&" : "?") + key + "=" + value;
}

function render(hits) {
  results.replaceChildren(...hits.map((hit) => {
    const card = el("article", "hit");
    card.dataset.id = hit.id;
    card.dataset.modality = hit.modality;
    card.title = "More like this";
    const media = el("div", "media");
    if (hit.modality === "image" && hit.media_url) {
      const img = el("img");
      img.loading = "lazy";
      img.alt = hit.metadata.text || hit.id;
      img.src = withParam(hit.media_url, "thumb", "1");
      media.append(img);
    } else if (hit.modality === "audio" && hit.media_url) {
      const audio = el("audio");
      audio.controls = true;
      audio.preload = "none";
      audio.src = hit.media_url;
      audio.addEventListener("click", (e) => e.stopPropagation());
      media.append(audio);
    } else {
      media.append(el("div", "text", hit.metadata.text || ""));
    }
    const info = el("div", "info");
    info.append(el("div", "id", hit.id));
    const caption = hit.metadata.caption || (hit.modality !== "text" && hit.metadata.text);
    if (caption) info.append(el("div", "caption", caption));
    if (hit.metadata.parent_id) info.append(el("div", "caption", "caption of " + hit.metadata.parent_id));
    const meta = el("div", "meta");
    meta.append(el("span", "badge", hit.modality), el("span", "score", hit.score.toFixed(3)));
    info.append(meta);
    card.append(media, info);
    card.addEventListener("click", (e) => {
      if (e.target.closest("audio")) return;
      const state = { id: hit.id, target: targetBox.value, k: kBox.value };
      pushState(state);
      searchState(state);
    });
    return card;
  }));
}

function searchState(state) {
  qBox.value = state.q || "";
  targetBox.value = state.target || "all";
  if (state.k) kBox.value = state.k;
  const common = { k: Number(kBox.value), target: targetBox.value === "all" ? null : targetBox.value };
  if (state.id) return runSearch({ id: state.id, ...common }, `items like “${state.id}”`);
  if (state.q) return runSearch({ text: state.q, ...common }, `“${state.q}”`);
  results.replaceChildren();
  setStatus("Type a description, or pick an image or a sound to search with.");
}

form.addEventListener("submit", async (e) => {
  e.preventDefault();
  const file = fileBox.files[0];
  if (file) {
    const field = file.type.startsWith("audio") ? "audio_b64" : "image_b64";
    fileBox.value = "";
    $("file-label").textContent = "image / sound…";
    const data = await fileToBase64(file);
    history.pushState({}, "", "?" + new URLSearchParams({ target: targetBox.value, k: kBox.value }));
    return runSearch({ [field]: data, k: Number(kBox.value),
                       target: targetBox.value === "all" ? null : targetBox.value }, file.name);
  }
  const state = { q: qBox.value.trim(), target: targetBox.value, k: kBox.value };
  pushState(state);
  searchState(state);
});

fileBox.addEventListener("change", () => {
  const file = fileBox.files[0];
  $("file-label").textContent = file ? file.name : "image / sound…";
  if (file) form.requestSubmit();
});
targetBox.addEventListener("change", () => {
  const state = stateFromUrl();
  if (!state.q && !state.id) return;
  state.target = targetBox.value;
  state.k = kBox.value;
  pushState(state);
  searchState(state);
});
window.addEventListener("popstate", () => searchState(stateFromUrl()));
searchState(stateFromUrl());
