// The gate screen. Verdicts arrive over Server-Sent Events; guard actions are JSON posts.
"use strict";

const CONFIG = JSON.parse(document.getElementById("config").textContent);
const T = {
  "zh-CN": {
    admit: "通行", deny: "禁止通行", remeasure: "请复测", manual: "人工核验",
    offline: "离线", online: "在线", refused_403: "设备已停用，请联系管理员", refused_401: "设备密钥无效，请重新导入设备文件", backlog: "待上传", last_sync: "上次同步", never: "从未",
    trust: "信任列表", clock_unset: "时钟未校准", camera: "摄像头", sensor: "测温仪",
    state_ok: "正常", state_waiting: "等待", state_error: "故障", state_stale: "无画面", state_stopped: "已停止",
    idle: "请出示健康码", idle_hint: "Please show your health code", recent: "最近记录",
    visitor: "访客登记", manual_entry: "手工录入", refusal: "拒绝检查", visitors_inside: "在场访客",
    handover: "交班", login: "保安登录", logout: "退出", guard_id: "保安编号", pin: "PIN 码",
    cancel: "取消", save: "保存", close: "关闭", register: "登记", dismiss: "关闭",
    camera_read: "摄像头识别为：", confirm: "确认颜色", override: "人工判定", decision: "判定", why: "原因（必填）",
    typed_temp: "手工输入体温 °C（留空则用测温仪）", typed_temp_hint: "例如 36.6",
    green: "绿码", yellow: "黄码", red: "红码",
    manual_kind: "方式", resident_id: "身份证号", passport: "护照号", name_phone: "姓名 + 电话",
    typed_code: "手工输入码文", id_number: "证件号码", name: "姓名", phone: "电话", code_text: "码文",
    host: "被访人 / 单位", purpose: "事由", escort: "陪同人", entered: "进入时间", left: "离开",
    note: "备注", fever_hold: "体温异常 — 请处置", ack_action: "处置措施", acknowledge: "确认处置",
    end_shift: "结束本班", checks: "检查", fevers: "发热", overrides: "人工判定", visitors_in: "在场访客",
    act_remeasure: "复测", act_confirm: "确认颜色", act_override: "人工判定",
    need_login: "请先登录", saved: "已保存", lang: "English", by_hand: "手工", none_temp: "未测温",
    storage_full: "存储已满 — 请联系管理员，人工登记", storage_fault: "存储故障 — 请联系管理员，人工登记",
    log_replaced: "检查记录曾丢失 — 请联系技术员",
    "": "",
  },
  en: {
    admit: "Admit", deny: "No entry", remeasure: "Measure again", manual: "Check by hand",
    offline: "Offline", online: "Online", refused_403: "Device revoked: call the operator", refused_401: "Device key not accepted: load the new bundle", backlog: "Unsent", last_sync: "Last sync", never: "never",
    trust: "Trust list", clock_unset: "Clock not set", camera: "Camera", sensor: "Thermometer",
    state_ok: "OK", state_waiting: "waiting", state_error: "FAULT", state_stale: "no picture", state_stopped: "stopped",
    idle: "Please show your health code", idle_hint: "请出示健康码", recent: "Recent checks",
    visitor: "Register visitor", manual_entry: "Manual entry", refusal: "Refusal", visitors_inside: "Visitors inside",
    handover: "Shift handover", login: "Guard login", logout: "Log out", guard_id: "Guard id", pin: "PIN",
    cancel: "Cancel", save: "Save", close: "Close", register: "Register", dismiss: "Close",
    camera_read: "The camera read: ", confirm: "Confirm colour", override: "Override", decision: "Decision", why: "Reason (required)",
    typed_temp: "Typed temperature °C (empty: use the thermometer)", typed_temp_hint: "e.g. 36.6",
    green: "Green", yellow: "Yellow", red: "Red",
    manual_kind: "How", resident_id: "Resident ID", passport: "Passport", name_phone: "Name + phone",
    typed_code: "Type the code", id_number: "Document number", name: "Name", phone: "Phone", code_text: "Code text",
    host: "Host / unit", purpose: "Purpose", escort: "Escort", entered: "Entered", left: "Left",
    note: "Note", fever_hold: "FEVER — action required", ack_action: "What was done", acknowledge: "Acknowledge",
    end_shift: "End my shift", checks: "Checks", fevers: "Fevers", overrides: "Overrides", visitors_in: "Visitors inside",
    act_remeasure: "Re-measure", act_confirm: "Confirm colour", act_override: "Override",
    need_login: "Log in first", saved: "Saved", lang: "中文", by_hand: "typed", none_temp: "no temperature",
    storage_full: "Storage full: call the administrator, log by hand", storage_fault: "Storage fault: call the administrator, log by hand",
    log_replaced: "Check log was lost: call the technician",
    "": "",
  },
};
const ICONS = { admit: "✓", deny: "✕", remeasure: "↻", manual: "?" };
let lang = localStorage.getItem("gatecheck-lang") || "zh-CN";
let current = null;         // the check on the overlay
let clearTimer = null;
let holds = [];
let audio = null;
const recent = [];
const $ = (sel, root = document) => root.querySelector(sel);
const t = (key) => (T[lang][key] ?? key);

function applyLanguage() {
  document.documentElement.lang = lang;
  for (const el of document.querySelectorAll("[data-k]")) {
    el.textContent = t(el.dataset.k);
  }
  for (const opt of document.querySelectorAll("option[data-zh]")) opt.textContent = lang === "en" ? opt.dataset.en : opt.dataset.zh;
  $("#lang").textContent = t("lang");
  renderRecent();
  if (current) showVerdict(current, false);
  renderHolds();
}

function reasonText(check) {
  return lang === "en" ? check.text_en : check.text_zh;
}

function temperatureText(check) {
  if (check.temp_c == null) return t("none_temp");
  return `${check.temp_c.toFixed(1)} °C${check.temp_source === "manual" ? ` (${t("by_hand")})` : ""}`;
}

function beep(verdict) {
  // Distinct patterns, made here (no sound files): one high tone to pass, three low to stop.
  try {
    audio = audio || new AudioContext();
    const pattern = { admit: [[880, 0, 0.15]], deny: [[330, 0, 0.25], [330, 0.35, 0.25], [330, 0.7, 0.25]],
      remeasure: [[600, 0, 0.15], [600, 0.25, 0.15]], manual: [[500, 0, 0.3]] }[verdict] || [];
    for (const [freq, start, length] of pattern) {
      const osc = audio.createOscillator(); const gain = audio.createGain();
      osc.frequency.value = freq; osc.connect(gain); gain.connect(audio.destination);
      gain.gain.setValueAtTime(0.3, audio.currentTime + start);
      osc.start(audio.currentTime + start); osc.stop(audio.currentTime + start + length);
    }
  } catch (e) { /* no audio device: the screen still shows everything */ }
}

function showVerdict(check, fresh = true) {
  current = check;
  const box = $("#verdict");
  box.className = `overlay ${check.verdict}`;
  box.dataset.seq = check.seq;
  box.dataset.verdict = check.verdict;
  $(".icon", box).textContent = ICONS[check.verdict] || "?";
  $(".headline", box).textContent = t(check.verdict);
  $(".reason", box).textContent = reasonText(check);
  $(".temp", box).textContent = temperatureText(check);
  $(".name", box).textContent = check.name || "";
  for (const button of box.querySelectorAll("[data-action]")) {
    const action = button.dataset.action;
    button.hidden = action !== "dismiss" && !check.actions.includes(action);
  }
  box.hidden = false;
  if (fresh) {
    window.gatecheckShown = { seq: check.seq, at: Date.now() };
    beep(check.verdict);
    clearTimeout(clearTimer);
    clearTimer = setTimeout(hideVerdict, CONFIG.clear_after_s * 1000);
  }
}

// A presentation the gate could not record (the card refused it): the guard logs by hand.
function showFault(fault) {
  showVerdict({ seq: null, verdict: "manual", reason: fault.code, text_zh: fault.zh, text_en: fault.en,
                temp_c: null, temp_source: "none", name: null, flags: [], actions: [] });
  $(".temp", $("#verdict")).textContent = "";  // nothing was measured or stored
}

function hideVerdict() {
  clearTimeout(clearTimer);
  $("#verdict").hidden = true;
  current = null;
}

function renderRecent() {
  const list = $("#recent");
  list.replaceChildren();
  for (const check of recent) {
    const li = document.createElement("li");
    li.className = check.verdict;
    li.dataset.seq = check.seq;
    const time = new Date(check.recorded_ms).toLocaleTimeString(lang, { hour12: false });
    li.textContent = `#${check.seq} ${time} ${ICONS[check.verdict]} ${t(check.verdict)} · ${reasonText(check)} · ${temperatureText(check)}`;
    li.append(document.createElement("br"));
    for (const action of check.actions) {
      const b = document.createElement("button");
      b.type = "button"; b.textContent = t(`act_${action}`); b.dataset.action = action; b.dataset.seq = check.seq;
      li.append(b);
    }
    list.append(li);
  }
}

function remember(check) {
  recent.unshift(check);
  recent.splice(10);
  renderRecent();
}

function renderHolds() {
  const box = $("#hold");
  if (!holds.length) { box.hidden = true; return; }
  const hold = holds[0];
  box.dataset.seq = hold.seq;
  const when = new Date(hold.wall_ms).toLocaleTimeString(lang, { hour12: false });
  $("#hold-detail").textContent = `#${hold.seq} · ${hold.temp_c == null ? "" : hold.temp_c.toFixed(1) + " °C"} · ${when}`;
  box.hidden = false;
}

function renderStatus(s) {
  const online = $("#st-online");
  online.textContent = s.hub_refused ? t(s.hub_refused === 403 ? "refused_403" : "refused_401") : s.online ? t("online") : t("offline");
  online.className = s.online && !s.hub_refused ? "good" : "bad";
  $("#st-backlog").textContent = `${t("backlog")}: ${s.backlog}`;
  $("#st-backlog").className = s.backlog > 1000 ? "warn" : "";
  const ago = s.last_sync_ms ? `${Math.round((s.now_ms - s.last_sync_ms) / 60000)} min` : t("never");
  $("#st-sync").textContent = `${t("last_sync")}: ${ago}`;
  $("#st-trust").textContent = `${t("trust")}: ${s.trust_age_h == null ? t("never") : s.trust_age_h + " h"}`;
  $("#st-trust").className = s.trust_stale || s.trust_age_h == null ? "warn" : "";
  $("#st-clock").hidden = !s.clock_unset;
  $("#st-clock").className = "bad";
  const storage = $("#st-storage");
  storage.hidden = !s.storage || s.storage === "ok" || s.storage === "waiting";
  storage.textContent = storage.hidden ? "" : t(s.storage);
  storage.className = "bad";
  $("#st-log").hidden = !s.log_replaced;
  $("#st-log").textContent = t("log_replaced");
  $("#st-log").className = "bad";
  for (const [id, key, state, detail] of [["#st-camera", "camera", s.camera, s.camera_detail], ["#st-sensor", "sensor", s.sensor, s.sensor_detail]]) {
    const el = $(id);
    el.textContent = `${t(key)}: ${t("state_" + state)}`;
    el.title = detail || "";
    el.className = state === "ok" ? "good" : (state === "error" || state === "stale" ? "bad" : "warn");
  }
}

async function post(url, body) {
  const response = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error((data.code && T[lang][data.code]) || data.error || `${response.status}`);
  return data;
}

function formBody(form, submitter) {
  const body = {};
  for (const el of form.elements) {
    if (!el.name || el.type === "submit" || el.closest("label")?.hidden) continue;
    const value = el.value.trim();
    if (value === "") continue;
    body[el.name] = el.name === "temp_c" ? value.replace(",", ".") : value;
  }
  if (submitter && submitter.name) body[submitter.name] = submitter.value;
  if ("temp_c" in body) {
    const n = Number(body.temp_c);
    body.temp_c = Number.isFinite(n) ? n : body.temp_c;
  }
  return body;
}

function openDialog(id, seq) {
  const dialog = document.getElementById(id);
  const form = $("form", dialog);
  if (form) { form.reset(); form.dataset.seq = seq ?? ""; }
  for (const err of dialog.querySelectorAll(".error")) err.textContent = "";
  clearTimeout(clearTimer);  // the guard is acting: keep the verdict up
  if (id === "manual-form") syncManualFields();
  if (id === "confirm-form") suggestColour(dialog);
  dialog.showModal();
}

// The colour the camera read is pre-selected (marked and focused); the guard still taps it.
function suggestColour(dialog) {
  const camera = current && current.camera_colour;
  for (const button of dialog.querySelectorAll(".colours button")) {
    button.classList.toggle("suggested", button.value === camera);
    button.autofocus = button.value === camera;
  }
  $(".camera", dialog).textContent = camera ? `${t("camera_read")}${t(camera)}` : "";
}

function syncManualFields() {
  const kind = $("#manual-form select[name=kind]").value;
  for (const label of document.querySelectorAll("#manual-form label[data-for]")) label.hidden = !label.dataset.for.split(" ").includes(kind);
}

async function refreshState() {
  const state = await (await fetch("/api/state")).json();
  renderStatus(state.status);
  holds = state.holds; renderHolds();
  $("#guard-name").textContent = state.guard ? `${state.guard.name} (${state.guard.id})` : t("need_login");
  $("#login-button").hidden = Boolean(state.guard);
}

async function submitDialog(event) {
  event.preventDefault();
  const form = event.target;
  const dialog = form.closest("dialog");
  const error = $(".error", dialog);
  const seq = form.dataset.seq;
  const url = form.dataset.post || `/api/checks/${seq}/${dialog.id.replace("-form", "")}`;
  try {
    await post(url, formBody(form, event.submitter));  // a new check arrives as an event
    dialog.close();
    if (dialog.id === "login-form") await refreshState();
  } catch (e) {
    error.textContent = e.message;
  }
}

async function showVisitors() {
  const dialog = $("#visitors-list");
  const body = $("tbody", dialog);
  $(".error", dialog).textContent = "";
  try {
    const visitors = await (await fetchJson("/api/visitors?inside=true"));
    body.replaceChildren();
    for (const v of visitors) {
      const tr = document.createElement("tr");
      tr.dataset.visitor = v.id;
      for (const text of [v.id, v.name, v.host, new Date(v.entered_ms).toLocaleTimeString(lang, { hour12: false })]) {
        const td = document.createElement("td"); td.textContent = text; tr.append(td);
      }
      const td = document.createElement("td"); const b = document.createElement("button");
      b.type = "button"; b.textContent = t("left"); b.dataset.leave = v.id; td.append(b); tr.append(td);
      body.append(tr);
    }
  } catch (e) { $(".error", dialog).textContent = e.message; }
  if (!dialog.open) dialog.showModal();
}

async function fetchJson(url) {
  const response = await fetch(url);
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error((data.code && T[lang][data.code]) || data.error || `${response.status}`);
  return data;
}

async function showShift() {
  const dialog = $("#shift-panel");
  const body = $("tbody", dialog);
  body.replaceChildren();
  $(".error", dialog).textContent = "";
  try {
    const shift = await fetchJson("/api/shift");
    for (const key of ["checks", "admit", "deny", "remeasure", "manual", "fevers", "overrides", "visitors_in"]) {
      const tr = document.createElement("tr"); tr.dataset.count = key;
      const th = document.createElement("th"); th.textContent = t(key);
      const td = document.createElement("td"); td.textContent = shift.counts[key];
      tr.append(th, td); body.append(tr);
    }
  } catch (e) { $(".error", dialog).textContent = e.message; }
  dialog.showModal();
}

function connect() {
  const source = new EventSource("/events");
  source.addEventListener("verdict", (e) => { const check = JSON.parse(e.data); remember(check); showVerdict(check); });
  source.addEventListener("status", (e) => renderStatus(JSON.parse(e.data)));
  source.addEventListener("fault", (e) => showFault(JSON.parse(e.data)));
  source.addEventListener("holds", (e) => { holds = JSON.parse(e.data); renderHolds(); });
  source.onopen = () => document.body.classList.add("live");
}

document.addEventListener("click", (event) => {
  const target = event.target.closest("button");
  if (!target) return;
  if (target.id === "lang") { lang = lang === "en" ? "zh-CN" : "en"; localStorage.setItem("gatecheck-lang", lang); applyLanguage(); }
  else if (target.dataset.open) openDialog(target.dataset.open);
  else if (target.classList.contains("close")) target.closest("dialog").close();
  else if (target.dataset.action === "dismiss") hideVerdict();
  else if (target.dataset.action) openDialog(`${target.dataset.action}-form`, target.dataset.seq || $("#verdict").dataset.seq);
  else if (target.id === "show-visitors") showVisitors();
  else if (target.id === "show-shift") showShift();
  else if (target.id === "end-shift") post("/api/logout", {}).then(() => { $("#shift-panel").close(); refreshState(); })
    .catch((e) => { $("#shift-panel .error").textContent = e.message; });
  else if (target.dataset.leave) post(`/api/visitors/${target.dataset.leave}/leave`, {}).then(showVisitors)
    .catch((e) => { $("#visitors-list .error").textContent = e.message; });
});
for (const form of document.querySelectorAll("dialog form")) form.addEventListener("submit", submitDialog);
$("#manual-form select[name=kind]").addEventListener("change", syncManualFields);
$("#ack-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    holds = await post(`/api/fevers/${$("#hold").dataset.seq}/ack`, formBody(event.target));
    renderHolds();
  } catch (e) { $("#ack-form .error").textContent = e.message; }
});

applyLanguage();
refreshState().catch(() => {});
connect();

// The kiosk-browser service restarts Chromium if these beats stop (a frozen page).
const beat = () => fetch("/api/heartbeat", { method: "POST" }).catch(() => {});
beat();
setInterval(beat, 10000);
