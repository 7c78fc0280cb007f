// xmodal web page: search by text, file (image/sound) or id ("more like
// this"). Text/id searches, the target, page size, filter and dedup live in
// the URL, so a link is shareable and reload/back restore them; an uploaded
// file is kept for this tab (sessionStorage) so a reload keeps it too.
"use strict";

const { el, mediaBlock, queryPreview } = window.xmodalMedia;
const $ = (id) => document.getElementById(id);
const form = $("search-form"), qBox = $("q"), fileBox = $("file"), targetBox = $("target"), kBox = $("k");
const whereBox = $("where"), dedupBox = $("dedup"), moreButton = $("more");
const statusLine = $("status"), results = $("results");
const DEDUP = 0.95, MAX_K = 1000, UPLOAD_KEY = "xmodal-upload", UPLOAD_MAX = 4 << 20;
let current = null;  // {body, what, shown: Set of keys, count, pageSize}

function setStatus(text, isError) {
  statusLine.textContent = text;
  statusLine.classList.toggle("error", !!isError);
}

function stateFromUrl() {
  const p = new URLSearchParams(location.search);
  return { q: p.get("q") || "", id: p.get("id") || "", target: p.get("target") || "all",
           k: p.get("k") || "20", where: p.get("where") || "", dedup: p.get("dedup") === "1",
           upload: p.get("upload") === "1" };
}

function formState(extra) {
  return { q: qBox.value.trim(), target: targetBox.value, k: kBox.value, where: whereBox.value.trim(),
           dedup: dedupBox.checked, ...extra };
}

function pushState(state) {
  const p = new URLSearchParams();
  if (state.q) p.set("q", state.q);
  if (state.id) p.set("id", state.id);
  if (state.upload) p.set("upload", "1");
  if (state.target && state.target !== "all") p.set("target", state.target);
  if (state.k) p.set("k", state.k);
  if (state.where) p.set("where", state.where);
  if (state.dedup) p.set("dedup", "1");
  const url = "?" + p.toString();
  if (url !== location.search) history.pushState(null, "", url);
}

// "license=cc0 category=animals|food" -> {license: "cc0", category: ["animals", "food"]}
function parseWhere(text) {
  const where = {};
  for (const part of text.split(/\s+/).filter(Boolean)) {
    const eq = part.indexOf("=");
    if (eq < 1) throw new Error(`filter “${part}” is not key=value`);
    const values = part.slice(eq + 1).split("|").filter((v) => v !== "");
    if (!values.length) throw new Error(`filter “${part}” has no value`);
    where[part.slice(0, eq)] = values.length === 1 ? values[0] : values;
  }
  return Object.keys(where).length ? where : null;
}

function fileToDataUrl(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => reject(new Error("could not read " + file.name));
    reader.readAsDataURL(file);
  });
}

function savedUpload() {
  try { return JSON.parse(sessionStorage.getItem(UPLOAD_KEY) || "null"); } catch { return null; }
}

function showQuery(kind, src, label) {
  const box = $("query");
  $("query-media").replaceChildren(...(src ? [queryPreview(kind, src, label)] : []));
  $("query-text").textContent = label;
  box.hidden = false;
}

function hideQuery() {
  $("query").hidden = true;
  $("query-media").replaceChildren();
}

async function post(body) {
  const resp = await fetch("/search", { method: "POST", headers: { "Content-Type": "application/json" },
                                        body: JSON.stringify(body) });
  if (resp.status === 401) {  // the server has an API key and this browser has no session
    location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search);
    return null;
  }
  const data = await resp.json().catch(() => ({ detail: "the server sent no JSON" }));
  if (!resp.ok) throw new Error(data.detail || resp.statusText);
  return data;
}

const hitKey = (hit) => (hit.metadata.index || "") + "\u0000" + hit.id;

// One page more of the current search. A server that pages (its answer
// carries `offset`) is asked for the next `pageSize` results after the ones
// shown; an older one for the first `count + pageSize`, of which the ones
// not shown yet are appended. Either way pages add up to one long list.
async function fetchPage(reset) {
  const c = current;
  const paged = c.paged && !reset;
  const want = paged ? c.pageSize : Math.min(MAX_K, c.count + c.pageSize);
  results.setAttribute("aria-busy", "true");
  moreButton.disabled = true;
  if (reset) setStatus("Searching " + c.what + "…");
  try {
    const data = await post(paged ? { ...c.body, k: want, offset: c.count } : { ...c.body, k: want });
    if (!data || c !== current) return;
    c.paged = data.offset !== undefined;
    const fresh = data.hits.filter((h) => !c.shown.has(hitKey(h)));
    fresh.forEach((h) => c.shown.add(hitKey(h)));
    if (reset) results.replaceChildren();
    results.append(...fresh.map(card));
    c.count = c.shown.size;
    moreButton.hidden = data.hits.length < want || (!c.paged && want >= MAX_K) || !fresh.length;
    setStatus(c.count ? `${c.count} results for ${c.what} (${data.took_ms.toFixed(1)} ms)`
                      : `No results for ${c.what}.`);
  } catch (err) {
    if (reset) results.replaceChildren();
    moreButton.hidden = true;
    setStatus(err.message, true);
  } finally {
    results.removeAttribute("aria-busy");
    moreButton.disabled = false;
  }
}

function startSearch(query, what, state) {
  let where;
  try { where = state.where ? parseWhere(state.where) : null; } catch (err) { setStatus(err.message, true); return; }
  const body = { ...query, target: state.target === "all" ? null : state.target };
  if (where) body.where = where;
  if (state.dedup) body.dedup = DEDUP;
  current = { body, what, shown: new Set(), count: 0, pageSize: Number(state.k) || 20 };
  return fetchPage(true);
}

function card(hit) {
  const node = el("article", "hit");
  node.dataset.id = hit.id;
  node.dataset.modality = hit.modality;
  node.title = "More like this";
  const info = el("div", "info");
  info.append(el("div", "id", hit.id));
  const caption = hit.caption || hit.metadata.caption || (hit.modality !== "text" && hit.metadata.text);
  if (caption) info.append(el("div", "caption", caption));
  if (hit.metadata.parent_id) info.append(el("div", "caption", "caption of " + hit.metadata.parent_id));
  const meta = el("div", "meta");
  meta.append(el("span", "badge", hit.modality));
  if (hit.match) {  // an item: did its own media or one of its captions match?
    const why = el("span", "badge match", hit.match === "caption" ? "by caption" : "by " + hit.modality);
    why.title = hit.match === "caption" ? "matched through its caption “" + (hit.caption || "") + "”"
                                        : "matched by the " + hit.modality + " itself";
    meta.append(why);
  }
  meta.append(el("span", "score", hit.score.toFixed(3)));
  info.append(meta);
  node.append(mediaBlock(hit, node), info);
  node.addEventListener("click", (e) => {
    if (e.target.closest("audio")) return;
    const state = formState({ q: "", id: hit.id });
    pushState(state);
    searchState(state);
  });
  return node;
}

async function showItem(id) {
  showQuery("text", null, "more like “" + id + "”");
  try {
    const resp = await fetch("/items/" + id.split("/").map(encodeURIComponent).join("/"));
    if (!resp.ok) return;
    const hit = await resp.json();
    if (hit.media_url && (hit.modality === "image" || hit.modality === "audio")) {
      const src = hit.modality === "image" ? hit.media_url + (hit.media_url.includes("?") ? "&" : "?") + "thumb=1"
                                           : hit.media_url;
      showQuery(hit.modality, src, "more like “" + id + "”");
    }
  } catch { /* the search itself reports errors */ }
}

function searchState(state) {
  qBox.value = state.q || "";
  targetBox.value = state.target || "all";
  if (state.k) kBox.value = state.k;
  whereBox.value = state.where || "";
  dedupBox.checked = !!state.dedup;
  const upload = state.upload ? savedUpload() : null;
  if (upload) {
    showQuery(upload.kind, upload.data, upload.name);
    return startSearch({ [upload.kind + "_b64"]: upload.data }, upload.name, state);
  }
  if (state.id) {
    showItem(state.id);
    return startSearch({ id: state.id }, `items like “${state.id}”`, state);
  }
  hideQuery();
  if (state.q) return startSearch({ text: state.q }, `“${state.q}”`, state);
  current = null;
  results.replaceChildren();
  moreButton.hidden = true;
  setStatus(state.upload ? "The uploaded file is gone (another tab or a closed one): pick it again."
                         : "Type a description, or pick an image or a sound to search with.");
}

async function searchFile(file) {
  const kind = file.type.startsWith("audio") ? "audio" : "image";
  fileBox.value = "";
  $("file-label").textContent = "image / sound…";
  const data = await fileToDataUrl(file);
  try {
    sessionStorage.setItem(UPLOAD_KEY, data.length <= UPLOAD_MAX ? JSON.stringify({ kind, data, name: file.name }) : "null");
  } catch { sessionStorage.removeItem(UPLOAD_KEY); }  // over the storage quota: this search only
  const state = formState({ q: "", upload: true });
  pushState(state);
  showQuery(kind, data, file.name);
  return startSearch({ [kind + "_b64"]: data }, file.name, state);
}

form.addEventListener("submit", (e) => {
  e.preventDefault();
  const file = fileBox.files[0];
  if (file) return searchFile(file);
  if (!qBox.value.trim()) return rerun();  // Enter in the filter box: same query, new filter
  const state = formState();
  pushState(state);
  searchState(state);
});

function rerun() {  // a control changed: same query, new settings
  const url = stateFromUrl();
  if (!url.q && !url.id && !url.upload) return;
  const state = formState({ q: url.q, id: url.id, upload: url.upload });
  pushState(state);
  searchState(state);
}

fileBox.addEventListener("change", () => {
  const file = fileBox.files[0];
  $("file-label").textContent = file ? file.name : "image / sound…";
  if (file) form.requestSubmit();
});
targetBox.addEventListener("change", rerun);
kBox.addEventListener("change", rerun);
dedupBox.addEventListener("change", rerun);
moreButton.addEventListener("click", () => { if (current) fetchPage(false); });
$("query-clear").addEventListener("click", () => {
  sessionStorage.removeItem(UPLOAD_KEY);
  pushState({}); searchState({});
});
window.addEventListener("popstate", () => searchState(stateFromUrl()));
searchState(stateFromUrl());
