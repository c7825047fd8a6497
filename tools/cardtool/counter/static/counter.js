// The counter page: follows the session through /api/state (long polling), sends the officer's actions as
// same-origin JSON POSTs, and shows everything in Vietnamese or English.  Nothing is stored in the
// browser: the CAN field is emptied the moment it is sent, and the holder disappears with the card.
// Every /api request carries the counter's per-start token, which `cardtool counter` puts in the page's
// address after "#token=" (a browser never sends that fragment to a server); without it the API answers 403.
"use strict";

const TOKEN = new URLSearchParams(location.hash.slice(1)).get("token") || "";

const TEXT = {
  vi: {
    title: "Kiểm tra thẻ căn cước", lang_button: "English",
    state_connecting: "Đang kết nối…", state_no_service: "Dịch vụ đầu đọc chưa chạy", state_no_reader: "Chưa có đầu đọc", state_waiting: "Đang chờ thẻ",
    state_card: "Đã có thẻ", state_reading: "Đang đọc thẻ", state_done: "Đã đọc xong", state_offline: "Mất kết nối",
    no_service_title: "Dịch vụ đầu đọc thẻ chưa chạy",
    no_service_help: "Máy tính này không có dịch vụ đầu đọc thẻ (pcscd) đang chạy, nên không thấy được đầu đọc nào. "
      + "Hãy khởi động dịch vụ: mở cửa sổ dòng lệnh và gõ sudo systemctl start pcscd (nếu chưa cài: "
      + "sudo apt install pcscd). Trang này tự cập nhật khi dịch vụ chạy.",
    no_trust: "Máy này chưa có chứng thư gốc (CSCA) tin cậy nào, nên mọi kết quả sẽ là “CHƯA XÁC ĐỊNH ĐƯỢC”. "
      + "Cách khắc phục: khởi động lại với cardtool counter --trust <tệp CSCA> <tệp CRL>.",
    no_reader_title: "Chưa có đầu đọc thẻ",
    no_reader_help: "Hãy cắm đầu đọc thẻ vào máy tính. Trang này tự cập nhật khi đầu đọc sẵn sàng.",
    waiting_title: "Đặt thẻ lên đầu đọc",
    waiting_help: "Đặt thẻ căn cước nằm phẳng trên đầu đọc và giữ yên cho đến khi đọc xong.",
    card_title: "Nhập số CAN của thẻ", can_label: "Số CAN (6 chữ số)",
    can_help: "Là 6 chữ số cuối của số định danh cá nhân in trên thẻ. Nhấn Enter để đọc.",
    mrz_label: "Vùng đọc máy (MRZ)",
    mrz_help: "Gõ 3 dòng MRZ ở mặt sau thẻ (mỗi dòng 30 ký tự). Nhấn Ctrl+Enter để đọc.",
    read_button: "Đọc thẻ", use_mrz: "Dùng MRZ thay cho CAN", use_can: "Dùng số CAN",
    bad_can: "Số CAN phải gồm đúng 6 chữ số.", bad_key: "Khóa truy cập không hợp lệ. Hãy kiểm tra và gõ lại.",
    busy: "Chưa thể đọc lúc này: hãy chờ thẻ được nhận.",
    reading_title: "Đang đọc thẻ…", reading_help: "Không nhấc thẻ ra khỏi đầu đọc.",
    step_opening: "Mở chip bằng số CAN", step_reading: "Đọc dữ liệu", step_chip_check: "Kiểm tra chip gốc",
    step_verifying: "Kiểm tra chữ ký số", reading_file: "Đang đọc {file} — đã nhận {kb} KB",
    genuine: "THẺ THẬT", not_genuine: "THẺ KHÔNG HỢP LỆ", cannot_tell: "CHƯA XÁC ĐỊNH ĐƯỢC",
    expired_on: "đã hết hạn ngày {date}",
    expired_reason: "Thẻ là thật nhưng đã hết hạn ngày {date}: công dân cần làm thủ tục cấp đổi thẻ.",
    altered: "Thông tin dưới đây đã bị sửa sau khi cấp thẻ: không dùng để đối chiếu.",
    mark_fail: "không đạt kiểm tra", mark_warn: "lưu ý",
    no_portrait: "Chip không có ảnh chân dung.",
    no_portrait_under_6: "Thẻ cấp cho trẻ dưới 6 tuổi: không thu nhận ảnh khuôn mặt.",
    kind_cccd_2021: "Thẻ Căn cước công dân (mẫu 2021) · Cơ quan cấp: Cục Cảnh sát quản lý hành chính về trật tự xã hội",
    kind_can_cuoc_2024: "Thẻ Căn cước (cấp từ 01/07/2024) · Cơ quan cấp: Bộ Công an",
    kind_can_cuoc_2024_under_6: "Thẻ Căn cước cho công dân dưới 6 tuổi (mặt thẻ không in ảnh) · Cơ quan cấp: Bộ Công an",
    genuine_reason: "Chip đã tự xác thực và chữ ký số của cơ quan cấp thẻ hợp lệ.",
    new_check: "Kiểm tra thẻ khác", save_report: "Lưu báo cáo", saved: "Đã lưu: {file}",
    save_off: "Chưa bật lưu báo cáo (khởi động với --save-dir).",
    details: "Chi tiết kỹ thuật", technical: "Chi tiết kỹ thuật (nguyên văn tiếng Anh của chương trình)",
    col_status: "Kết quả", col_check: "Bước kiểm tra", col_reason: "Lý do",
    read_facts: "{access}, {ms} ms; dữ liệu từ {source}",
    portrait_alt: "Ảnh chân dung trong chip",
    notice_wrong_key: "Số CAN không đúng với thẻ này. Hãy xem lại 6 chữ số cuối của số định danh và gõ lại.",
    notice_removed: "Thẻ đã bị nhấc ra trước khi đọc xong. Đặt lại thẻ lên đầu đọc, giữ yên, rồi nhập lại số CAN.",
    notice_unreadable: "Không đọc được thẻ này. Hãy đặt thẻ nằm phẳng ở giữa đầu đọc và thử lại; nếu vẫn lỗi, chip có thể đã hỏng.",
    notice_unsupported_key: "Không mở được chip này bằng loại khóa vừa nhập. Hãy thử dùng MRZ thay cho số CAN.",
    notice_reader_gone: "Đầu đọc thẻ đã bị ngắt. Hãy cắm lại đầu đọc và đặt lại thẻ.",
    notice_not_answering: "Thẻ ngừng trả lời giữa chừng (thẻ chậm hoặc đặt lệch) nhưng vẫn còn trên đầu đọc. "
      + "Hãy giữ yên thẻ ở giữa đầu đọc rồi nhập lại số CAN.",
    offline: "Mất kết nối với chương trình kiểm tra thẻ. Hãy kiểm tra chương trình còn chạy rồi tải lại trang.",
    locked: "Trang chưa được mở bằng đúng địa chỉ. Hãy mở địa chỉ đầy đủ mà lệnh cardtool counter in ra (có phần "
      + "#token=…); mỗi lần chương trình khởi động lại, địa chỉ đó thay đổi.",
    shortcuts: "Phím tắt: Enter đọc thẻ · Alt+M dùng MRZ · Alt+N kiểm tra thẻ khác · Alt+S lưu báo cáo · "
      + "Alt+D chi tiết · Alt+L English",
    status_pass: "Đạt", status_fail: "KHÔNG ĐẠT", status_warn: "Lưu ý", "status_cannot tell": "Không xác định",
    "status_n/a": "Không áp dụng",
  },
  en: {
    title: "Identity card check", lang_button: "Tiếng Việt",
    state_connecting: "Connecting…", state_no_service: "Reader service stopped", state_no_reader: "No reader", state_waiting: "Waiting for a card",
    state_card: "Card on the reader", state_reading: "Reading", state_done: "Done", state_offline: "Disconnected",
    no_service_title: "The card reader service is not running",
    no_service_help: "This computer's card reader service (pcscd) is not running, so no reader can be seen. "
      + "Start it: open a terminal and type sudo systemctl start pcscd (install it first with "
      + "sudo apt install pcscd). This page updates by itself once it runs.",
    no_trust: "This counter trusts no root certificate (CSCA), so every verdict will be “CANNOT TELL”. "
      + "To fix it, restart with cardtool counter --trust <CSCA file> <CRL file>.",
    no_reader_title: "No card reader",
    no_reader_help: "Plug the card reader into this computer. This page updates by itself when it is ready.",
    waiting_title: "Put the card on the reader",
    waiting_help: "Lay the identity card flat on the reader and keep it still until the check is done.",
    card_title: "Type the card's CAN", can_label: "CAN (6 digits)",
    can_help: "The last 6 digits of the personal ID number printed on the card. Press Enter to read.",
    mrz_label: "Machine-readable zone (MRZ)",
    mrz_help: "Type the 3 MRZ lines on the back of the card (30 characters each). Press Ctrl+Enter to read.",
    read_button: "Read the card", use_mrz: "Use the MRZ instead", use_can: "Use the CAN",
    bad_can: "The CAN is exactly 6 digits.", bad_key: "That access key is not valid. Check it and type it again.",
    busy: "Cannot read now: wait until the card is detected.",
    reading_title: "Reading the card…", reading_help: "Do not lift the card off the reader.",
    step_opening: "Opening the chip with the CAN", step_reading: "Reading the data",
    step_chip_check: "Checking the chip is the original", step_verifying: "Checking the digital signature",
    reading_file: "Reading {file} — {kb} KB received",
    genuine: "GENUINE", not_genuine: "NOT GENUINE", cannot_tell: "CANNOT TELL",
    expired_on: "expired on {date}",
    expired_reason: "The card is genuine but expired on {date}: the citizen needs to have it renewed.",
    altered: "The data below was changed after the card was issued: do not rely on it.",
    mark_fail: "failed a check", mark_warn: "note",
    no_portrait: "The chip holds no portrait.",
    no_portrait_under_6: "A card for a child under 6: no face image is taken.",
    kind_cccd_2021: "Citizen identity card (2021 model) · Issued by the Police Department for Administrative "
      + "Management of Social Order",
    kind_can_cuoc_2024: "Identity card (issued from 01/07/2024) · Issued by the Ministry of Public Security",
    kind_can_cuoc_2024_under_6: "Identity card for a citizen under 6 (no face printed) · Issued by the Ministry of "
      + "Public Security",
    genuine_reason: "The chip authenticated itself and the issuing authority's signature is valid.",
    new_check: "Check another card", save_report: "Save report", saved: "Saved: {file}",
    save_off: "Saving reports is off (start the counter with --save-dir).",
    details: "Technical details", technical: "Technical details",
    col_status: "Result", col_check: "Check", col_reason: "Reason",
    read_facts: "{access}, {ms} ms; data from {source}",
    portrait_alt: "Portrait stored in the chip",
    notice_wrong_key: "The CAN does not match this card. Check the last 6 digits of the ID number and type it again.",
    notice_removed: "The card was lifted before the read finished. Put it back on the reader, keep it still, and type the CAN again.",
    notice_unreadable: "This card could not be read. Lay it flat in the middle of the reader and try again; if it fails again, the chip may be damaged.",
    notice_unsupported_key: "This chip cannot be opened with that kind of key. Try the MRZ instead of the CAN.",
    notice_reader_gone: "The card reader was disconnected. Plug it back in and put the card on it again.",
    notice_not_answering: "The card stopped answering (a slow card, or not lying flat) but is still on the reader. "
      + "Keep it still in the middle of the reader and type the CAN again.",
    offline: "Lost contact with the card-check program. Check that it is still running, then reload the page.",
    locked: "This page was not opened at its exact address. Open the full address printed by cardtool counter "
      + "(with its #token=… part); it changes each time the program starts.",
    shortcuts: "Shortcuts: Enter reads the card · Alt+M use the MRZ · Alt+N check another card · Alt+S save report · "
      + "Alt+D details · Alt+L Tiếng Việt",
    status_pass: "Pass", status_fail: "FAIL", status_warn: "Warning", "status_cannot tell": "Cannot tell",
    "status_n/a": "Not applicable",
  },
};

// Values the card writes in Vietnamese that have an English form.
const VALUE_EN = { "Nam": "Male", "Nữ": "Female", "M": "Male", "F": "Female", "Không thời hạn": "No expiry",
  "Không": "None", "Việt Nam": "Viet Nam" };

// Long fields get a whole row of the holder grid.
const WIDE_FIELDS = new Set(["full_name", "place_of_origin", "place_of_birth_registration", "place_of_residence"]);

// A holder field's label in the page's language, as a heading writes it.  The server sends each field's labels
// from the card kind's DG13 field table (a 2024 Căn cước prints some under other names).
const heading = (labels) => labels[lang].charAt(0).toUpperCase() + labels[lang].slice(1);

// An ISO date (yyyy-mm-dd) as the card prints it: dd/mm/yyyy.
const printed = (iso) => iso.split("-").reverse().join("/");

let lang = "vi";
let state = null;
let useMrz = false;
let offline = false;
let locked = false;
let portraitVersion = null;

const $ = (id) => document.getElementById(id);
const t = (key, values = {}) => (TEXT[lang][key] || key).replace(/\{(\w+)\}/g, (_, name) => values[name] ?? "");

function render() {
  document.documentElement.lang = lang;
  document.title = t("title");
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  $("lang").textContent = t("lang_button");
  $("use-mrz").textContent = useMrz ? t("use_can") : t("use_mrz");
  $("can-row").hidden = useMrz;
  $("mrz-row").hidden = !useMrz;
  const phase = offline || locked ? "offline" : state ? state.phase : "connecting";
  $("reader-state").textContent = t("state_" + phase);
  $("reader-state").dataset.phase = phase;
  const outcome = phase === "done" && state.result ? state.result.verdict.outcome : "";
  if (outcome) $("reader-state").dataset.outcome = outcome; else delete $("reader-state").dataset.outcome;
  $("trust-warning").hidden = !(state && state.no_trust) || offline || locked;
  $("trust-warning-text").textContent = t("no_trust");
  for (const screen of document.querySelectorAll(".screen")) screen.hidden = screen.id !== "screen-" + phase;
  renderNotice();
  if (state && state.phase === "reading") renderProgress(state.progress);
  renderResult(state && state.phase === "done" ? state.result : null);
}

function renderNotice() {
  const code = locked ? "locked" : offline ? "offline" : state && state.notice ? "notice_" + state.notice : "";
  $("notice").hidden = !code;
  $("notice-text").textContent = code ? t(code) : "";
  const detail = !offline && !locked && state ? state.detail : "";
  $("notice-details").hidden = !detail;
  $("notice-detail").textContent = detail || "";
}

function renderProgress(progress) {
  const steps = ["opening", "reading", "chip_check", "verifying"];
  const current = progress ? steps.indexOf(progress.step) : 0;
  $("progress").value = current + 1;
  for (const item of document.querySelectorAll("#steps li")) {
    const index = steps.indexOf(item.dataset.step);
    item.className = index < current ? "done" : index === current ? "current" : "";
    if (index === current) item.setAttribute("aria-current", "step"); else item.removeAttribute("aria-current");
  }
  $("progress-detail").textContent = progress && progress.step === "reading" && progress.file
    ? t("reading_file", { file: progress.file, kb: (progress.bytes / 1024).toFixed(1) }) : "";
}

function renderResult(result) {
  const fields = $("holder-fields");
  fields.replaceChildren();
  $("checks").tBodies[0].replaceChildren();
  $("verdict-reasons").replaceChildren();
  if (!result) {
    showPortrait(null);
    $("portrait-note").hidden = true;
    $("verdict").className = "verdict";
    $("verdict-title").textContent = "";
    $("read-facts").textContent = "";
    $("saved").textContent = "";
    $("card-kind").textContent = "";
    $("altered").hidden = true;
    $("details").open = false;  // the next card's details start folded
    return;
  }
  const verdict = result.verdict;
  $("verdict").className = "verdict " + verdict.outcome + (verdict.expired_on ? " expired" : "");
  $("verdict").dataset.outcome = verdict.outcome;
  $("verdict-title").textContent = t(verdict.outcome)
    + (verdict.expired_on ? " — " + t("expired_on", { date: printed(verdict.expired_on) }) : "");
  const reasons = verdict.reasons.length ? verdict.reasons.map((reason) => reason[lang]) : [t("genuine_reason")];
  if (verdict.expired_on) reasons.unshift(t("expired_reason", { date: printed(verdict.expired_on) }));
  for (const reason of reasons) $("verdict-reasons").append(element("li", reason));
  renderHolder(result);
  renderChecks(result.details);
  $("read-facts").textContent = t("read_facts", { access: result.access, ms: result.read_ms,
    source: result.holder_source });
  $("save").disabled = !state.can_save;
  $("save").title = state.can_save ? "" : t("save_off");
  $("saved").textContent = state.saved ? t("saved", { file: state.saved }) : "";
}

// The holder's fields under the labels of the card's kind, each field a check doubted marked where it is shown.
function renderHolder(result) {
  const kind = result.card_kind || "";
  $("card-kind").textContent = kind ? t("kind_" + kind) : "";
  $("altered").hidden = !result.altered;
  $("altered").textContent = t("altered");
  for (const [key, value] of Object.entries(result.holder)) {
    const shown = element("dd", lang === "en" ? VALUE_EN[value] ?? value : value);
    shown.dataset.field = key;
    if (WIDE_FIELDS.has(key)) shown.classList.add("wide");
    const mark = result.marks[key];
    if (mark) {
      shown.dataset.mark = mark;
      shown.append(element("span", t("mark_" + mark)));
      shown.lastChild.className = "mark";
    }
    $("holder-fields").append(element("dt", heading(result.labels[key])), shown);
  }
  showPortrait(result.portrait ? state.version : null);
  $("portrait").alt = result.portrait ? t("portrait_alt") : "";
  $("portrait").dataset.mark = result.marks.portrait || "";
  $("portrait-note").hidden = Boolean(result.portrait);
  $("portrait-note").textContent = result.portrait ? ""
    : t(kind === "can_cuoc_2024_under_6" ? "no_portrait_under_6" : "no_portrait");
}

// Every check, failed first (the server's order), in the page's language; English adds the technical reason.
function renderChecks(details) {
  for (const check of details) {
    const row = document.createElement("tr");
    row.className = "status-" + check.status.replace(/\W/g, "");
    row.dataset.check = check.id;
    const name = element("td", check.title[lang] + " ");
    name.append(element("code", check.id));
    const why = element("td", check.reason ? check.reason[lang] : "");
    if (lang === "en" && check.technical) why.append(element("small", check.technical));
    row.append(element("td", t("status_" + check.status)), name, why);
    $("checks").tBodies[0].append(row);
  }
}

// The portrait of the state ``version`` (null: none), fetched with the token and shown from a blob: URL.
async function showPortrait(version) {
  if (portraitVersion === version) return;
  portraitVersion = version;
  if (version === null) {
    setPortrait(null);
    return;
  }
  const response = await api("/api/portrait").catch(() => null);
  const blob = response && response.ok ? await response.blob() : null;
  if (portraitVersion === version && blob) setPortrait(URL.createObjectURL(blob));
}

function setPortrait(src) {
  const portrait = $("portrait");
  const shown = portrait.getAttribute("src");
  if (shown) URL.revokeObjectURL(shown);
  if (src) portrait.src = src; else portrait.removeAttribute("src");
}

function element(tag, text) {
  const node = document.createElement(tag);
  node.textContent = text;
  return node;
}

function focusFor(previous) {
  if (!state || previous === state.phase) return;
  if (state.phase === "card") (useMrz ? $("mrz") : $("can")).focus();
  else if (state.phase === "done") $("verdict").focus();
}

// Every API call: the token in its header, nothing cached.
function api(path, options = {}) {
  return fetch(path, { ...options, cache: "no-store", headers: { ...options.headers, "X-Counter-Token": TOKEN } })
    .then((response) => {
      if (response.status === 403) lock();
      return response;
    });
}

// Refused by the server (no token, or one from before a restart): say how to open the page, stop asking.
function lock() {
  locked = true;
  render();
}

async function follow() {
  while (!locked) {
    try {
      const since = state ? state.version : "";
      const response = await api("/api/state?since=" + since);
      if (locked) return;
      if (!response.ok) throw new Error("state " + response.status);
      const previous = state ? state.phase : null;
      const noticeBefore = state ? state.notice : null;
      state = await response.json();
      offline = false;
      render();
      focusFor(state.notice && state.notice !== noticeBefore ? null : previous);
    } catch (error) {
      offline = true;
      render();
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

async function post(path, body) {
  const response = await api(path, { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body) });
  return { ok: response.ok, body: await response.json() };
}

async function submitKey(event) {
  event.preventDefault();
  const can = $("can").value.trim();
  const mrz = $("mrz").value.trim();
  $("can").value = "";
  $("mrz").value = "";
  $("key-error").textContent = "";
  if (!useMrz && !/^[0-9]{6}$/.test(can)) {
    $("key-error").textContent = t("bad_can");
    $("can").focus();
    return;
  }
  const answer = await post("/api/read", useMrz ? { mrz } : { can });
  if (!answer.ok) {
    $("key-error").textContent = t(answer.body.error === "busy" ? "busy" : "bad_key");
    (useMrz ? $("mrz") : $("can")).focus();
  }
}

function toggleMrz() {
  useMrz = !useMrz;
  $("key-error").textContent = "";
  render();
  (useMrz ? $("mrz") : $("can")).focus();
}

async function save() {
  const answer = await post("/api/save", {});
  if (!answer.ok) $("saved").textContent = answer.body.message || t("save_off");
}

// Alt+letter shortcuts (listed in the footer), by physical key so a Vietnamese input method does not interfere.
const SHORTCUTS = {
  KeyL: () => $("lang").click(),
  KeyM: () => { if (!$("screen-card").hidden) toggleMrz(); },
  KeyN: () => { if (!$("screen-done").hidden) $("new-check").click(); },
  KeyS: () => { if (!$("screen-done").hidden && !$("save").disabled) $("save").click(); },
  KeyD: () => {
    if ($("screen-done").hidden) return;
    $("details").open = !$("details").open;
    $("details").querySelector("summary").focus();
  },
};

function shortcut(event) {
  const action = event.altKey && !event.ctrlKey && !event.metaKey ? SHORTCUTS[event.code] : undefined;
  if (!action) return;
  event.preventDefault();
  action();
}

document.addEventListener("DOMContentLoaded", () => {
  document.addEventListener("keydown", shortcut);
  $("key-form").addEventListener("submit", submitKey);
  $("mrz").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && event.ctrlKey) submitKey(event);
  });
  $("use-mrz").addEventListener("click", toggleMrz);
  $("lang").addEventListener("click", () => { lang = lang === "vi" ? "en" : "vi"; render(); });
  $("new-check").addEventListener("click", () => post("/api/clear", {}));
  $("save").addEventListener("click", save);
  render();
  follow();
});
