// ticketlens pages: a little JavaScript over the JSON API. Every value from the server is
// inserted as text (never as HTML).
"use strict";

const TOKEN_KEY = "ticketlens-agent-token";

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

async function api(method, path, body) {
  const headers = { "Accept": "application/json" };
  const token = localStorage.getItem(TOKEN_KEY);
  if (token) headers["Authorization"] = "Bearer " + token;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const message = (data.error && data.error.message) || response.statusText;
    const code = data.error && data.error.code;
    throw Object.assign(new Error(message), { status: response.status, code });
  }
  return data;
}

// ---- Before you file -------------------------------------------------------------------

function beforeFiling() {
  const question = document.getElementById("question");
  const answers = document.getElementById("answers");
  const status = document.getElementById("status");
  let timer = null;
  let asked = 0;
  // The token of this person's last answer: a rewording replaces it in the figures. Only the
  // person who asked holds it.
  let previous = null;
  question.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const text = question.value.trim();
      if (text.length < 8) { answers.replaceChildren(); status.textContent = ""; return; }
      const mine = ++asked;
      try {
        const answer = await api("POST", "/v1/suggest", { text, refines: previous });
        previous = answer.answer;
        if (mine !== asked) return; // a later question is on its way
        document.getElementById("known-issues").replaceChildren(...(answer.known_issues || []).map(knownIssue));
        const link = a => `/articles/${a.id}?answer=${encodeURIComponent(answer.answer)}`;
        answers.replaceChildren(...answer.articles.map(a => el("li", {},
          el("a", { class: "article", href: link(a) }, a.title),
          a.passage ? el("p", { class: "passage" }, a.passage) : null)));
        status.textContent = answer.articles.length
          ? "These articles may help:" : "No article matches yet.";
      } catch (e) {
        if (e.code === "empty_text") {
          answers.replaceChildren(); document.getElementById("known-issues").replaceChildren();
          status.textContent = ""; return;
        }
        status.textContent = e.status === 429 ? "Slow down a little, please." : e.message;
      }
    }, 350);
  });
}

// "09:12" today, "2026-03-01 09:12" before: when the first report came, in the reader's time.
function reportedSince(stamp) {
  const at = new Date(stamp);
  if (Number.isNaN(at.getTime())) return "";
  const pad = n => String(n).padStart(2, "0");
  const time = `${pad(at.getHours())}:${pad(at.getMinutes())}`;
  const day = `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())}`;
  return at.toDateString() === new Date().toDateString() ? time : `${day} ${time}`;
}

// An announced problem the question is about: what the problem manager wrote for end users.
function knownIssue(k) {
  const times = k.reported === 1 ? "once" : `${k.reported} times`;
  return el("div", { class: "known-issue", role: "status" },
    el("h2", {}, "Known issue: ", el("span", { class: "known-title" }, k.title)),
    k.workaround ? el("p", { class: "workaround" }, "Meanwhile: " + k.workaround) : null,
    el("p", { class: "muted reported" }, `Reported ${times} since ${reportedSince(k.since)}; the team is on it.`));
}

function articleFeedback() {
  const box = document.getElementById("feedback");
  for (const button of box.querySelectorAll("button")) {
    button.addEventListener("click", async () => {
      const answer = box.dataset.answer;
      try {
        await api("POST", "/v1/suggest/feedback", { answer, helped: button.dataset.helped === "true" });
        box.hidden = true;
        document.getElementById("thanks").hidden = false;
      } catch (e) {
        box.append(el("p", { class: "error" }, e.message));
      }
    });
  }
}

// ---- Agent pages -----------------------------------------------------------------------

function tokenForm(load) {
  const form = document.getElementById("token-form");
  const input = document.getElementById("token");
  const state = document.getElementById("token-state");
  const show = () => { state.textContent = localStorage.getItem(TOKEN_KEY) ? "token set" : "no token"; };
  form.addEventListener("submit", event => {
    event.preventDefault();
    localStorage.setItem(TOKEN_KEY, input.value.trim());
    input.value = "";
    show();
    load();
  });
  show();
}

function showError(e) {
  const box = document.getElementById("error");
  box.textContent = e.status === 401 ? "Enter the agent token to see this page." : e.message;
  box.hidden = false;
}

function clearError() { document.getElementById("error").hidden = true; }

const SVG = "http://www.w3.org/2000/svg";

// The date `i` days after `start` ("YYYY-MM-DD"), as UTC: the server counts days in UTC.
function dayAfter(start, i) {
  const day = new Date(`${start}T00:00:00Z`);
  day.setUTCDate(day.getUTCDate() + i);
  return day;
}

// Under the bars: each day's weekday initial, and the first and last dates at the ends, so
// that "Monday again" and "since the 1st" read off the chart.
function dayLabels(start, count, bar, top) {
  const text = (x, y, anchor, words, cls) => {
    const t = document.createElementNS(SVG, "text");
    t.setAttribute("x", x);
    t.setAttribute("y", y);
    t.setAttribute("text-anchor", anchor);
    t.setAttribute("class", cls);
    t.textContent = words;
    return t;
  };
  const initials = Array.from({ length: count }, (_, i) => {
    const day = dayAfter(start, i);
    const initial = "SMTWTFS"[day.getUTCDay()];
    return text(i * bar + bar / 2, top + 10, "middle", initial, day.getUTCDay() % 6 ? "day" : "day weekend");
  });
  const date = d => d.toLocaleDateString("en-GB", { day: "numeric", month: "short", timeZone: "UTC" });
  return [...initials,
    text(0, top + 22, "start", date(dayAfter(start, 0)), "date"),
    text(count * bar, top + 22, "end", date(dayAfter(start, count - 1)), "date")];
}

// Incidents per day as bars: the shape of a problem at a glance, with its days beneath.
function activityChart(activity) {
  const counts = (activity && activity.per_day) || [];
  const height = 32, gap = 1, bar = 18, width = Math.max(160, counts.length * bar);
  const labelled = activity && counts.length;
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", "activity");
  svg.setAttribute("width", width);
  svg.setAttribute("height", labelled ? height + 26 : height);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `incidents per day since ${activity ? activity.start : "-"}: ${counts.join(", ")}`);
  const top = Math.max(1, ...counts);
  counts.forEach((count, i) => {
    const h = count ? Math.max(2, (count / top) * height) : 0;
    const rect = document.createElementNS(SVG, "rect");
    rect.setAttribute("x", i * bar);
    rect.setAttribute("y", height - h);
    rect.setAttribute("width", Math.max(1, bar - gap));
    rect.setAttribute("height", h);
    const day = activity ? dayAfter(activity.start, i).toISOString().slice(0, 10) : "";
    rect.append(Object.assign(document.createElementNS(SVG, "title"), { textContent: `${day}: ${count}` }));
    svg.append(rect);
  });
  if (labelled) svg.append(...dayLabels(activity.start, counts.length, bar, height));
  return svg;
}

// The server words the trend (the CLI prints the same words).
function trendText(p) {
  return el("span", { class: p.trend_words.startsWith("rising") ? "trend rising" : "trend" }, p.trend_words);
}

// "Looks like #N": open problems the server found alike (close centres, a shared keyword),
// with the merge one click away. The smaller goes into the larger (on a tie the later into
// the earlier), as the CLI suggests, so the merged problem keeps the better-known id.
function looksLike(p, all, act, reload) {
  const alike = (p.similar_to || []).map(id => all.find(o => o.id === id)).filter(Boolean);
  if (!alike.length) return null;
  const intoOther = o => p.size < o.size || (p.size === o.size && p.id > o.id);
  const merge = async o => {
    if (intoOther(o)) { await act("merge")({ into: o.id }); return; }
    try { await api("POST", `/v1/problems/${o.id}/merge`, { into: p.id }); await reload(); }
    catch (e) { showError(e); }
  };
  return el("div", { class: "looks-like" }, alike.map(o => el("span", { class: "hint", "data-like": o.id },
    `looks like #${o.id} ${o.title} `,
    el("button", { type: "button", class: "merge-like", onclick: () => merge(o) },
      intoOther(o) ? `Merge into #${o.id}` : `Merge #${o.id} into this`))));
}

async function problemsPage() {
  const content = document.getElementById("content");
  const load = async () => {
    try {
      const problems = await api("GET", "/v1/problems");
      clearError();
      content.replaceChildren(...(problems.length ? problems.map(p => problemCard(p, problems, load))
        : [el("p", { class: "muted" }, "No candidate problems yet.")]));
    } catch (e) { content.replaceChildren(); showError(e); }
  };
  tokenForm(load);
  await load();
}

function problemCard(p, all, reload) {
  const act = verb => async body => {
    try { await api("POST", `/v1/problems/${p.id}/${verb}`, body); await reload(); }
    catch (e) { showError(e); }
  };
  const others = all.filter(o => o.id !== p.id && o.status !== "merged");
  const target = el("select", { "aria-label": "merge into" },
    others.map(o => el("option", { value: o.id }, `#${o.id} ${o.title}`)));
  const members = el("ul", {});
  const details = el("details", {
    ontoggle: async () => {
      if (!details.open || members.childElementCount) return;
      try {
        const detail = await api("GET", `/v1/problems/${p.id}`);
        members.replaceChildren(...detail.members.map(m =>
          el("li", {}, `#${m.ticket_id} (${m.similarity.toFixed(2)}) ${m.created_at.slice(0, 10)} ${m.subject}`)));
      } catch (e) { showError(e); }
    },
  }, el("summary", {}, `${p.size} incidents`), members);
  const decided = p.status !== "candidate";
  const announce = p.status === "rejected" ? { buttons: null, form: null } : announcing(p, act);
  return el("div", { class: "card problem", "data-id": p.id },
    el("h2", {}, `#${p.id} ${p.title} `, el("span", { class: `badge status ${p.status}` }, p.status),
      p.announcement ? [" ", el("span", { class: "badge announced" }, "announced")] : null),
    p.announcement ? el("div", { class: "announcement" }, `Announced as “${p.announcement.title}”`
      + (p.announcement.workaround ? ` — workaround: ${p.announcement.workaround}` : "")) : null,
    el("div", {}, `${p.size} incidents from ${p.requesters} people, ${p.first_seen.slice(0, 10)} to ${p.last_seen.slice(0, 10)} · `,
      trendText(p)),
    activityChart(p.activity),
    el("div", { class: "muted" }, "keywords: " + p.keywords.join(", ")),
    looksLike(p, all, act, reload),
    details,
    el("div", { class: "actions" },
      el("button", { type: "button", class: "accept", onclick: () => act("accept")(), ...(decided ? { disabled: "" } : {}) }, "Accept"),
      el("button", { type: "button", class: "reject", onclick: () => act("reject")(), ...(p.status === "rejected" ? { disabled: "" } : {}) }, "Reject"),
      others.length ? [el("button", { type: "button", class: "merge",
        onclick: () => act("merge")({ into: Number(target.value) }) }, "Merge into"), target] : null,
      announce.buttons),
    announce.form);
}

// Announce opens a small form for what end users are told; Withdraw takes it back at once.
function announcing(p, act) {
  const title = el("input", { type: "text", class: "announce-title", maxlength: "200",
    "aria-label": "public title", placeholder: "What end users are told, e.g. VPN disconnects after the update" });
  const workaround = el("textarea", { class: "announce-workaround", rows: "2", maxlength: "2000",
    "aria-label": "workaround", placeholder: "Workaround (optional)" });
  const form = el("form", { class: "announce-form", hidden: "",
    onsubmit: event => {
      event.preventDefault();
      act("announce")({ title: title.value, workaround: workaround.value.trim() || null });
    } }, title, workaround, el("button", { type: "submit", class: "announce-send" }, "Announce to end users"));
  if (p.announcement) {
    title.value = p.announcement.title;
    workaround.value = p.announcement.workaround || "";
  }
  const buttons = [
    el("button", { type: "button", class: "announce",
      onclick: () => { form.hidden = !form.hidden; if (!form.hidden) title.focus(); } },
      p.announcement ? "Edit announcement" : "Announce"),
    p.announcement ? el("button", { type: "button", class: "withdraw", onclick: () => act("withdraw")() }, "Withdraw") : null,
  ];
  return { buttons, form };
}

// A field as triage left it, with the reason against the class's threshold and record (from
// the verdict kept as evidence; rows written before reasons were kept have none). A field left
// to a person can be set here: the value stands as any agent's edit would.
function prediction(t, name, reload) {
  const field = t[name];
  const predicted = (t.evidence || {})[name];
  const reason = predicted && predicted.reason;
  const open = field.status === "needs_review" || field.status === "shadow";
  const input = el("input", { type: "text", name, value: field.label || "", "aria-label": `${name} for #${t.ticket_id}` });
  const set = async () => {
    try { await api("POST", `/v1/tickets/${t.ticket_id}/fields`, { [name]: input.value }); await reload(); }
    catch (e) { showError(e); }
  };
  const form = open ? el("span", { class: "set-field" }, input, el("button", { type: "button", class: "set", onclick: set }, "Set")) : null;
  if (!field.label) return el("td", { class: "muted" }, "no prediction", form);
  const confidence = field.confidence === null ? "" : ` ${(field.confidence * 100).toFixed(0)}%`;
  return el("td", {}, `${field.label}${confidence}`, el("small", {}, field.status.replace("_", " ")),
    reason ? el("small", { class: "reason" }, reason) : null, form);
}

async function reviewPage() {
  const content = document.getElementById("content");
  const load = async () => {
    try {
      const queue = await api("GET", "/v1/review");
      clearError();
      if (!queue.length) { content.replaceChildren(el("p", { class: "muted" }, "Nothing waits for review.")); return; }
      content.replaceChildren(el("table", { id: "queue" },
        el("thead", {}, el("tr", {}, ["Ticket", "Category", "Urgency", "Because of", "Similar past tickets"].map(h => el("th", {}, h)))),
        el("tbody", {}, queue.map(t => reviewRow(t, load)))));
    } catch (e) { content.replaceChildren(); showError(e); }
  };
  tokenForm(load);
  await load();
}

function reviewRow(t, reload) {
  const verdict = t.evidence || {};
  const terms = ["category", "urgency"].flatMap(f => ((verdict[f] && verdict[f].terms) || []).map(x => x.term));
  const neighbours = (verdict.evidence || []).slice(0, 3).map(n =>
    el("small", {}, `#${n.ticket_id} ${n.subject} [${n.category || "-"} / ${n.urgency || "-"}] ${n.similarity.toFixed(2)}`));
  return el("tr", { "data-ticket": t.ticket_id },
    el("td", {}, `#${t.ticket_id} ${t.subject}`, el("small", {}, t.created_at.slice(0, 16).replace("T", " ")),
      t.major_incident ? el("small", { class: "rising" }, `possibly a major incident (problem #${t.problem_id})`) : null),
    prediction(t, "category", reload), prediction(t, "urgency", reload),
    el("td", {}, [...new Set(terms)].slice(0, 6).join(", ")),
    el("td", {}, neighbours));
}

document.addEventListener("DOMContentLoaded", () => {
  const page = document.body.dataset.page;
  if (page === "file") beforeFiling();
  if (page === "article") articleFeedback();
  if (page === "problems") problemsPage();
  if (page === "review") reviewPage();
});
