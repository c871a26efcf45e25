// The gate screen. Verdicts arrive over Server-Sent Events; guard actions are JSON posts.
"use strict";

const CONFIG = JSON.parse(document.getElementById("config").textContent);
const T = {
  "zh-CN": {
    admit: "通行", deny: "禁止通行", remeasure: "请复测", manual: "人工核验",
    offline: "离线", online: "在线", refused_403: "设备已停用，请联系管理员", refused_401: "设备密钥无效，请重新导入设备文件", backlog: "待上传", last_sync: "上次同步", never: "从未",
    trust: "信任列表", clock_unset: "时钟未校准", camera: "摄像头", sensor: "测温仪",
    state_ok: "正常", state_waiting: "等待", state_error: "故障", state_stale: "无画面", state_stopped: "已停止",
    idle: "请出示健康码", idle_hint: "请将二维码对准摄像头", recent: "最近记录", minutes: "分钟",
    visitor: "访客登记", manual_entry: "手工录入", refusal: "拒绝检查", visitors_inside: "在场访客",
    handover: "交班", login: "保安登录", logout: "退出", guard_id: "保安编号", pin: "PIN 码",
    own_temp: "本人体温 °C（上岗前）",
    itinerary: "行程卡", it_green: "绿色", it_star: "带星", it_none: "未出示",
    mask: "口罩", mask_worn: "已戴", mask_none: "未戴", mask_given: "发放",
    person: "人员", person_unset: "未选类别", leaving: "离开登记", person_title: "人员类别与健康问题", questions: "健康问题（有则勾选）",
    all_no: "已询问，均无", asked_none: "已问·均无", asked_yes: "有症状", visitor_hint: "询问后请访客扫码（或手工录入），通过后登记访客信息",
    visitor_book: "访客登记", escort_required: "陪同人（必填）", act_register: "登记访客", asked_conflict: "已勾选症状时不能选“均无”",
    next_visitor: "请访客出示健康码", registered: "访客已登记",
    cancel: "取消", save: "保存", close: "关闭", register: "登记", dismiss: "关闭",
    camera_read: "摄像头识别为：", confirm: "确认颜色", override: "人工判定", decision: "判定", why: "原因（必填）",
    typed_temp: "手工输入体温 °C（留空则用测温仪）", typed_temp_hint: "例如 36.6",
    green: "绿码", yellow: "黄码", red: "红码",
    manual_kind: "方式", resident_id: "身份证号", passport: "护照号", name_phone: "姓名 + 电话",
    typed_code: "手工输入码文", id_number: "证件号码", name: "姓名", phone: "电话", code_text: "码文",
    host: "被访人 / 单位", purpose: "事由", escort: "陪同人", entered: "进入时间", left: "离开",
    note: "备注", ack_action: "处置措施", acknowledge: "确认处置",
    end_shift: "结束本班", checks: "检查", fevers: "发热", overrides: "人工判定", visitors_in: "在场访客",
    act_remeasure: "复测", act_confirm: "确认颜色", act_override: "人工判定",
    need_login: "请先登录", saved: "已保存", lang: "English", by_hand: "手工", none_temp: "未测温",
    storage_full: "存储已满 — 请联系管理员，人工登记", storage_fault: "存储故障 — 请联系管理员，人工登记",
    log_replaced: "检查记录曾丢失 — 请联系技术员",
    hold_retest: "体温偏高 — 车道暂停", hold_fever: "体温异常 — 请处置", waiting_banner: "请稍候 — 正在处置体温异常",
    hold_login: "请保安登录后处置", retest_method: "复测方式", retest_temp: "体温 °C（红外测温可留空）", retest: "复测",
    release: "离开未复测", release_hint: "此人未复测即离开：请写明情况。", countdown: "距复测", retest_now: "请现在复测",
    window_left: "复测窗口剩余", typed_temp_short: "体温 °C（可留空）",
    unreadable: "请将二维码对准摄像头", repeat: "此码刚已检查", camera_lost: "摄像头无画面 — 请人工核验登记",
    present: "在场人员已记录",
    "": "",
  },
  en: {
    admit: "Admit", deny: "No entry", remeasure: "Measure again", manual: "Check by hand",
    offline: "Offline", online: "Online", refused_403: "Device revoked: call the operator", refused_401: "Device key not accepted: load the new bundle", backlog: "Unsent", last_sync: "Last sync", never: "never",
    trust: "Trust list", clock_unset: "Clock not set", camera: "Camera", sensor: "Thermometer",
    state_ok: "OK", state_waiting: "waiting", state_error: "FAULT", state_stale: "no picture", state_stopped: "stopped",
    idle: "Please show your health code", idle_hint: "Hold the code to the camera", recent: "Recent checks", minutes: "min",
    visitor: "Register visitor", manual_entry: "Manual entry", refusal: "Refusal", visitors_inside: "Visitors inside",
    handover: "Shift handover", login: "Guard login", logout: "Log out", guard_id: "Guard id", pin: "PIN",
    own_temp: "Your own temperature °C (before the shift)",
    itinerary: "Itinerary", it_green: "Green", it_star: "Star", it_none: "None",
    mask: "Mask", mask_worn: "Worn", mask_none: "None", mask_given: "Given",
    person: "Person", person_unset: "Kind not set", leaving: "Leaving", person_title: "Who and health questions", questions: "Health questions (tick any yes)",
    all_no: "Asked: all no", asked_none: "asked: all no", asked_yes: "symptoms", visitor_hint: "Ask, then the visitor shows their code (or manual entry); once admitted, register them",
    visitor_book: "Visitor book", escort_required: "Escort (required)", act_register: "Register visitor", asked_conflict: "A symptom is ticked: 'all no' cannot be",
    next_visitor: "Visitor: show your health code", registered: "Visitor registered",
    cancel: "Cancel", save: "Save", close: "Close", register: "Register", dismiss: "Close",
    camera_read: "The camera read: ", confirm: "Confirm colour", override: "Override", decision: "Decision", why: "Reason (required)",
    typed_temp: "Typed temperature °C (empty: use the thermometer)", typed_temp_hint: "e.g. 36.6",
    green: "Green", yellow: "Yellow", red: "Red",
    manual_kind: "How", resident_id: "Resident ID", passport: "Passport", name_phone: "Name + phone",
    typed_code: "Type the code", id_number: "Document number", name: "Name", phone: "Phone", code_text: "Code text",
    host: "Host / unit", purpose: "Purpose", escort: "Escort", entered: "Entered", left: "Left",
    note: "Note", ack_action: "What was done", acknowledge: "Record",
    end_shift: "End my shift", checks: "Checks", fevers: "Fevers", overrides: "Overrides", visitors_in: "Visitors inside",
    act_remeasure: "Re-measure", act_confirm: "Confirm colour", act_override: "Override",
    need_login: "Log in first", saved: "Saved", lang: "中文", by_hand: "typed", none_temp: "no temperature",
    storage_full: "Storage full: call the administrator, log by hand", storage_fault: "Storage fault: call the administrator, log by hand",
    log_replaced: "Check log was lost: call the technician",
    hold_retest: "High temperature: lane on hold", hold_fever: "FEVER: action required", waiting_banner: "Please wait: a fever case is being handled",
    hold_login: "A guard must log in to act", retest_method: "Re-test method", retest_temp: "Temperature °C (infrared: may be empty)", retest: "Re-test",
    release: "Left without re-test", release_hint: "The person left before the re-test: say what happened.", countdown: "Re-test in", retest_now: "Re-test now",
    window_left: "Re-test window closes in", typed_temp_short: "Temperature °C (optional)",
    unreadable: "Hold the code to the camera", repeat: "This code was just checked", camera_lost: "No camera picture: check people by hand",
    present: "people present recorded",
    "": "",
  },
};
const ICONS = { admit: "✓", deny: "✕", remeasure: "↻", manual: "?" };
const CAMERA_LOST = ["error", "stale", "stopped"];
let lang = localStorage.getItem("gatecheck-lang") || "zh-CN";
let current = null;         // the check on the overlay
let clearTimer = null;
let holds = [];
let holdsAt = 0;            // when the holds arrived (their countdowns run from then)
let guard = null;           // the guard on duty, or null
let pending = null;         // an action waiting for a guard to log in
let audio = null;
let alarm = null;
let dueSpoken = new Set();
const recent = [];
window.gatecheckSpoken = [];
const $ = (sel, root = document) => root.querySelector(sel);
const t = (key) => (T[lang][key] ?? key);

function applyLanguage() {
  document.documentElement.lang = lang;
  for (const el of document.querySelectorAll("[data-k]")) el.textContent = t(el.dataset.k);
  for (const el of document.querySelectorAll("[data-zh]")) el.textContent = lang === "en" ? el.dataset.en : el.dataset.zh;
  $("#lang").textContent = t("lang");
  renderRecent();
  if (current) showVerdict(current, false);
  renderHolds();
  renderGuard();
}

// Times in the site's own zone, whatever zone the board is set to.
const timeFormat = () => new Intl.DateTimeFormat(lang, { timeZone: CONFIG.timezone, hour: "2-digit", minute: "2-digit",
  second: "2-digit", hourCycle: "h23" });
const clockTime = (ms) => timeFormat().format(new Date(ms));
const minutesSeconds = (s) => `${Math.floor(s / 60)}:${String(Math.floor(s % 60)).padStart(2, "0")}`;

function reasonText(check) {
  return lang === "en" ? check.text_en : check.text_zh;
}

function temperatureText(check) {
  if (check.temp_c == null) return t("none_temp");
  return `${check.temp_c.toFixed(1)} °C${check.temp_source === "manual" ? ` (${t("by_hand")})` : ""}`;
}

function context() {
  audio = audio || new AudioContext();
  return audio;
}

function beep(verdict) {
  // Distinct patterns, made here (no sound files): one high tone to pass, three low to stop.
  if (!CONFIG.volume) return;
  try {
    const ctx = context();
    const pattern = { admit: [[880, 0, 0.15]], deny: [[330, 0, 0.25], [330, 0.35, 0.25], [330, 0.7, 0.25]],
      remeasure: [[600, 0, 0.15], [600, 0.25, 0.15]], manual: [[500, 0, 0.3]] }[verdict] || [];
    for (const [freq, start, length] of pattern) {
      const osc = ctx.createOscillator(); const gain = ctx.createGain();
      osc.frequency.value = freq; osc.connect(gain); gain.connect(ctx.destination);
      gain.gain.setValueAtTime(0.3 * CONFIG.volume / 100, ctx.currentTime + start);
      osc.start(ctx.currentTime + start); osc.stop(ctx.currentTime + start + length);
    }
  } catch (e) { /* no audio device: the screen still shows everything */ }
}

// A spoken prompt rendered on the device (espeak-ng); tones where there is none.
function speak(key, fallback) {
  if (!CONFIG.volume) return;
  if (!CONFIG.voice.includes(key)) { if (fallback) beep(fallback); return; }
  const clip = new Audio(`/voice/${lang}/${key}.wav`);
  clip.volume = CONFIG.volume / 100;
  const entry = { key, lang, at: Date.now(), played: null };
  window.gatecheckSpoken.push(entry);
  clip.play().then(() => { entry.played = true; }).catch(() => { entry.played = false; if (fallback) beep(fallback); });
}

// The fever alarm: a two-tone siren that runs until the fever's disposition is recorded.
function soundAlarm(on) {
  window.gatecheckAlarm = on;
  if (!on || !CONFIG.volume) { if (alarm) { alarm.stop(); alarm = null; } return; }
  if (alarm) return;
  try {
    const ctx = context();
    const osc = ctx.createOscillator(); const gain = ctx.createGain(); const sweep = ctx.createOscillator();
    const depth = ctx.createGain();
    osc.frequency.value = 750; sweep.frequency.value = 1.5; depth.gain.value = 250;
    sweep.connect(depth); depth.connect(osc.frequency);
    gain.gain.value = 0.25 * CONFIG.volume / 100;
    osc.connect(gain); gain.connect(ctx.destination);
    osc.start(); sweep.start();
    alarm = { stop: () => { osc.stop(); sweep.stop(); } };
  } catch (e) { /* no audio device */ }
}

function promptFor(check) {
  if (check.reason === "temp_high") return "fever";
  if (check.reason === "fever") return "fever_confirmed";
  return check.verdict;
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
    looked = { ...lookedDefault }; renderLooked();  // the taps went with this check
    window.gatecheckShown = { seq: check.seq, at: Date.now() };
    speak(promptFor(check), check.verdict);
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

// A frame that made no check: say why (lane held, code unreadable, the same code again).
let noticeTimer = null;
function showNotice(state) {
  if (state === "waiting") {
    const banner = $("#hold-waiting");
    banner.hidden = false;
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(() => { banner.hidden = true; }, 3000);
  } else {
    const box = $("#notice");
    box.textContent = t(state);
    box.dataset.state = state;
    box.hidden = false;
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(() => { box.hidden = true; }, 2500);
  }
  window.gatecheckNotice = { state, at: Date.now() };
  speak(state, null);
}

function renderRecent() {
  const list = $("#recent");
  list.replaceChildren();
  for (const check of recent) {
    const li = document.createElement("li");
    li.className = check.verdict;
    li.dataset.seq = check.seq;
    li.textContent = `#${check.seq} ${clockTime(check.recorded_ms)} ${ICONS[check.verdict]} ${t(check.verdict)} · ${reasonText(check)} · ${temperatureText(check)}`;
    if (check.actions.length) li.append(document.createElement("br"));
    for (const action of check.actions) {
      const b = document.createElement("button");
      b.type = "button"; b.textContent = t(`act_${action}`); b.dataset.action = action; b.dataset.seq = check.seq;
      li.append(b);
    }
    list.append(li);
  }
  fitRecent();
}

// Only whole entries are shown: an older one that would be cut off at the bottom is left out.
function fitRecent() {
  const wrap = $("#recent-wrap");
  const bottom = wrap.getBoundingClientRect().bottom;
  let full = false;
  for (const li of $("#recent").children) li.hidden = false;
  for (const li of $("#recent").children) {
    full = full || li.getBoundingClientRect().bottom > bottom;
    li.hidden = full;
  }
}
window.addEventListener("resize", fitRecent);

function remember(check) {
  recent.unshift(check);
  recent.splice(10);
  renderRecent();
}

function renderHolds() {
  const box = $("#hold");
  const fever = holds.some((h) => h.stage === "fever");
  soundAlarm(fever);
  if (!holds.length) { box.hidden = true; delete box.dataset.seq; return; }
  const hold = holds.find((h) => h.stage === "fever") || holds[0];
  const changed = box.dataset.seq !== String(hold.seq) || box.dataset.stage !== hold.stage;
  box.dataset.seq = hold.seq;
  box.dataset.stage = hold.stage;
  box.className = `overlay ${hold.stage}`;
  $("#hold-title").textContent = t(hold.stage === "fever" ? "hold_fever" : "hold_retest");
  $("#hold-detail").textContent = `#${hold.seq} · ${hold.temp_c == null ? t("none_temp") : hold.temp_c.toFixed(1) + " °C"} · ${clockTime(hold.wall_ms)}`;
  $("#retest-form").hidden = hold.stage !== "retest";
  $("#ack-form").hidden = hold.stage !== "fever";
  $(".need-login", box).hidden = Boolean(guard);
  if (changed) for (const form of box.querySelectorAll("form")) { form.reset(); $(".error", form).textContent = ""; }
  box.hidden = false;
  tickHold();
}

// The re-test countdown, from the server's seconds at the moment the holds arrived.
function tickHold() {
  const hold = holds.find((h) => h.stage === "fever") || holds[0];
  const el = $("#hold-countdown");
  if (!hold || hold.stage !== "retest") { el.textContent = ""; return; }
  const passed = (Date.now() - holdsAt) / 1000;
  const opens = Math.max(0, hold.opens_in_s - passed);
  const closes = Math.max(0, hold.closes_in_s - passed);
  el.dataset.opensIn = Math.ceil(opens);
  if (opens > 0) el.textContent = `${t("countdown")} ${minutesSeconds(Math.ceil(opens))}`;
  else {
    el.textContent = `${t("retest_now")} · ${t("window_left")} ${minutesSeconds(closes)}`;
    if (!dueSpoken.has(hold.seq)) { dueSpoken.add(hold.seq); speak("retest_due", "remeasure"); }
  }
}
setInterval(tickHold, 1000);

function renderStatus(s) {
  const online = $("#st-online");
  online.textContent = s.hub_refused ? t(s.hub_refused === 403 ? "refused_403" : "refused_401") : s.online ? t("online") : t("offline");
  online.className = s.online && !s.hub_refused ? "good" : "bad";
  $("#st-backlog").textContent = `${t("backlog")}: ${s.backlog}`;
  $("#st-backlog").className = s.backlog > 1000 ? "warn" : "";
  const ago = s.last_sync_ms ? `${Math.round((s.now_ms - s.last_sync_ms) / 60000)} ${t("minutes")}` : t("never");
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
  // No picture: the whole idle area says so, not just the status bar.
  const lost = CAMERA_LOST.includes(s.camera);
  const idle = $("#idle");
  idle.classList.toggle("camera-lost", lost);
  $(".big", idle).dataset.k = lost ? "camera_lost" : "idle";
  $(".big", idle).textContent = t($(".big", idle).dataset.k);
}

async function post(url, body) {
  const response = await fetch(url, { method: "POST", body: JSON.stringify(body),
    headers: { "Content-Type": "application/json", "Accept-Language": lang } });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.error || `${response.status}`);
  return data;
}

async function fetchJson(url) {
  const response = await fetch(url, { headers: { "Accept-Language": lang } });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.error || `${response.status}`);
  return data;
}

function formBody(form, submitter) {
  const body = {};
  for (const el of form.elements) {
    if (!el.name || el.type === "submit" || el.closest("label")?.hidden) continue;
    if ((el.type === "radio" || el.type === "checkbox") && !el.checked) continue;
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

// Every action is a guard's: without one on duty, the login comes first, then the action.
function openDialog(id, seq, visitor = false) {
  if (id !== "login-form" && !guard) { pending = { id, seq, visitor }; id = "login-form"; seq = null; }
  const dialog = document.getElementById(id);
  const form = $("form", dialog);
  if (form) { form.reset(); form.dataset.seq = seq ?? ""; }
  if (id === "person-form") fillPerson(form, visitor);
  for (const err of dialog.querySelectorAll(".error")) err.textContent = "";
  if (id === "login-form" && pending) $(".error", dialog).textContent = t("need_login");
  clearTimeout(clearTimer);  // the guard is acting: keep the verdict up
  if (id === "manual-form") syncManualFields();
  if (id === "confirm-form") suggestColour(dialog);
  if (id === "release-form") form.dataset.seq = $("#hold").dataset.seq;
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

// The guard's taps for the next person (itinerary card, mask, who, health questions,
// leaving); each check sets them back to the site's defaults.
const NO_ONE = { itinerary: null, mask: null, category: null, symptoms: null, leaving: false };
let looked = { ...NO_ONE };
let lookedDefault = { ...NO_ONE };
const named = (texts) => texts[lang === "en" ? 1 : 0];

function renderLooked() {
  for (const row of document.querySelectorAll("#looked .tap-row")) {
    for (const button of row.querySelectorAll("button[data-v]")) {
      button.setAttribute("aria-pressed", String(looked[row.dataset.part] === button.dataset.v));
    }
  }
  const who = looked.category ? named(CONFIG.categories[looked.category]) : t("person_unset");
  const asked = looked.symptoms === null ? "" : ` · ${t(looked.symptoms.length ? "asked_yes" : "asked_none")}`;
  $("#person-button").textContent = `${who}${asked} ▾`;
  $("#person-button").setAttribute("aria-pressed", String(Boolean(looked.category || looked.symptoms)));
  $("#leaving").setAttribute("aria-pressed", String(looked.leaving));
}

// The server keeps the taps (a camera check may come before the next tap); a tap shows at
// once, and goes back if the server refuses it.
async function sendLooked(next) {
  const before = looked;
  looked = { ...NO_ONE, ...next };
  renderLooked();
  const body = Object.fromEntries(Object.entries(next).filter(([, v]) => v !== null && v !== false));
  try {
    looked = { ...NO_ONE, ...(await post("/api/looked", body)) };
  } catch (error) {
    looked = before;
    throw error;
  } finally { renderLooked(); }
}

async function tapLooked(event) {
  const button = event.target.closest("button[data-v], #leaving");
  if (!button) return;
  let next;
  if (button.id === "leaving") {
    next = looked.leaving ? { ...NO_ONE } : { ...NO_ONE, category: looked.category, leaving: true };
  } else {
    const part = button.closest(".tap-row").dataset.part;
    next = { ...looked, leaving: false, [part]: looked[part] === button.dataset.v ? null : button.dataset.v };
  }
  try { await sendLooked(next); } catch (error) { showNotice(error.message); }
}

// Who the next person is and their answers: a visitor starts here (then shows their code).
function fillPerson(form, visitor) {
  $("[data-k=visitor_hint]", form.closest("dialog")).hidden = !visitor;
  const category = visitor ? "visitor" : looked.category;
  for (const input of form.querySelectorAll("input[name=category]")) input.checked = input.value === category;
  const symptoms = visitor ? null : looked.symptoms;
  $("input[name=asked]", form).checked = Array.isArray(symptoms) && !symptoms.length;
  for (const input of form.querySelectorAll("input[name=symptom]")) input.checked = Boolean(symptoms?.includes(input.value));
}

async function submitPerson(event) {
  event.preventDefault();
  const form = event.target;
  const ticked = [...form.querySelectorAll("input[name=symptom]:checked")].map((input) => input.value);
  const asked = $("input[name=asked]", form).checked;
  if (asked && ticked.length) { $(".error", form).textContent = t("asked_conflict"); return; }
  const category = $("input[name=category]:checked", form)?.value ?? null;
  const visitor = !$("[data-k=visitor_hint]", form.closest("dialog")).hidden;
  try {
    await sendLooked({ ...looked, leaving: false, category, symptoms: ticked.length || asked ? ticked : null });
    form.closest("dialog").close();
    if (visitor) showNotice("next_visitor");
  } catch (error) { $(".error", form).textContent = error.message; }
}

function renderGuard() {
  $("#guard-name").textContent = guard ? `${guard.name} (${guard.id})` : t("need_login");
  $("#looked").hidden = !guard;
  $("#login-button").hidden = Boolean(guard);
  $("#hold .need-login").hidden = Boolean(guard);
}

async function refreshState() {
  const state = await fetchJson("/api/state");
  renderStatus(state.status);
  guard = state.guard;
  renderGuard();
  looked = { ...NO_ONE, ...state.looked }; lookedDefault = { ...NO_ONE, ...state.looked_default }; renderLooked();
  holds = state.holds; holdsAt = Date.now(); renderHolds();
}

const ACTION_URLS = {
  "release-form": (seq) => `/api/holds/${seq}/release`,
};

async function submitDialog(event) {
  event.preventDefault();
  const form = event.target;
  const dialog = form.closest("dialog");
  const error = $(".error", dialog);
  const seq = form.dataset.seq;
  const url = form.dataset.post || (ACTION_URLS[dialog.id] || ((n) => `/api/checks/${n}/${dialog.id.replace("-form", "")}`))(seq);
  try {
    await post(url, formBody(form, event.submitter));  // a new check arrives as an event
    dialog.close();
    if (dialog.id === "register-form") { hideVerdict(); showNotice("registered"); }
    if (dialog.id === "login-form") {
      await refreshState();
      if (pending) { const next = pending; pending = null; openDialog(next.id, next.seq, next.visitor); }
    }
  } catch (e) {
    error.textContent = e.message;
  }
}

async function submitHold(event, url) {
  event.preventDefault();
  const form = event.target;
  try {
    await post(url($("#hold").dataset.seq), formBody(form, event.submitter));
    form.reset();
    await refreshState();
  } catch (e) { $(".error", form).textContent = e.message; }
}

async function showVisitors() {
  const dialog = $("#visitors-list");
  const body = $("tbody", dialog);
  $(".error", dialog).textContent = "";
  try {
    const visitors = await fetchJson("/api/visitors?inside=true");
    body.replaceChildren();
    for (const v of visitors) {
      const tr = document.createElement("tr");
      tr.dataset.visitor = v.id;
      for (const text of [v.id, v.name, v.host, clockTime(v.entered_ms)]) {
        const td = document.createElement("td"); td.textContent = text; tr.append(td);
      }
      const td = document.createElement("td"); const b = document.createElement("button");
      b.type = "button"; b.textContent = t("left"); b.dataset.leave = v.id; td.append(b); tr.append(td);
      body.append(tr);
    }
  } catch (e) { $(".error", dialog).textContent = e.message; }
  if (!dialog.open) dialog.showModal();
}

async function showShift() {
  const dialog = $("#shift-panel");
  const box = $(".counts", dialog);
  box.replaceChildren();
  $(".error", dialog).textContent = "";
  try {
    const shift = await fetchJson("/api/shift");
    for (const key of ["checks", "admit", "deny", "remeasure", "manual", "fevers", "overrides", "visitors_in"]) {
      const row = document.createElement("div"); row.dataset.count = key;
      const label = document.createElement("span"); label.textContent = t(key);
      const n = document.createElement("b"); n.textContent = shift.counts[key];
      row.append(label, n); box.append(row);
    }
  } catch (e) { $(".error", dialog).textContent = e.message; }
  dialog.showModal();
}

function connect() {
  const source = new EventSource("/events");
  source.addEventListener("verdict", (e) => { const check = JSON.parse(e.data); remember(check); showVerdict(check); });
  source.addEventListener("status", (e) => renderStatus(JSON.parse(e.data)));
  source.addEventListener("fault", (e) => showFault(JSON.parse(e.data)));
  source.addEventListener("holds", (e) => { holds = JSON.parse(e.data); holdsAt = Date.now(); renderHolds(); });
  source.addEventListener("notice", (e) => showNotice(JSON.parse(e.data).state));
  source.onopen = () => document.body.classList.add("live");
}

$("#looked").addEventListener("click", tapLooked);
document.addEventListener("click", (event) => {
  const target = event.target.closest("button");
  if (!target) return;
  if (target.id === "lang") { lang = lang === "en" ? "zh-CN" : "en"; localStorage.setItem("gatecheck-lang", lang); applyLanguage(); }
  else if (target.dataset.open) openDialog(target.dataset.open, null, Boolean(target.dataset.visitor));
  else if (target.classList.contains("close")) { pending = null; target.closest("dialog").close(); }
  else if (target.dataset.action === "dismiss") hideVerdict();
  else if (target.dataset.action) openDialog(`${target.dataset.action}-form`, target.dataset.seq || $("#verdict").dataset.seq);
  else if (target.id === "show-visitors") guard ? showVisitors() : openDialog("login-form");
  else if (target.id === "show-shift") guard ? showShift() : openDialog("login-form");
  else if (target.id === "end-shift") post("/api/logout", {}).then(() => { $("#shift-panel").close(); refreshState(); })
    .catch((e) => { $("#shift-panel .error").textContent = e.message; });
  else if (target.dataset.leave) post(`/api/visitors/${target.dataset.leave}/leave`, {}).then(showVisitors)
    .catch((e) => { $("#visitors-list .error").textContent = e.message; });
});
for (const form of document.querySelectorAll("dialog form")) {
  form.addEventListener("submit", form.closest("#person-form") ? submitPerson : submitDialog);
}
$("#manual-form select[name=kind]").addEventListener("change", syncManualFields);
$("#retest-form").addEventListener("submit", (event) => submitHold(event, (seq) => `/api/holds/${seq}/retest`));
$("#ack-form").addEventListener("submit", (event) => submitHold(event, (seq) => `/api/fevers/${seq}/ack`));
document.addEventListener("close", (event) => { if (event.target.id === "release-form") refreshState().catch(() => {}); }, true);

applyLanguage();
refreshState().catch(() => {});
connect();

// The kiosk-browser service restarts Chromium if these beats stop (a frozen page).
const beat = () => fetch("/api/heartbeat", { method: "POST" }).catch(() => {});
beat();
setInterval(beat, 10000);
