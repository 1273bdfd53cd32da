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
        const link = a => `/articles/${a.id}?answer=${encodeURIComponent(answer.answer)}`;
        answers.replaceChildren(...answer.articles.map(a => el("li", {},
          el("a", { class: "article", href: link(a) }, a.title))));
        status.textContent = answer.articles.length
          ? "These articles may help:" : "No article matches yet.";
      } catch (e) {
        if (e.code === "empty_text") { answers.replaceChildren(); status.textContent = ""; return; }
        status.textContent = e.status === 429 ? "Slow down a little, please." : e.message;
      }
    }, 350);
  });
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

// Incidents per day as bars: the shape of a problem at a glance.
function activityChart(activity) {
  const counts = (activity && activity.per_day) || [];
  const width = 160, height = 32, gap = 1;
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", "activity");
  svg.setAttribute("width", width);
  svg.setAttribute("height", height);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `incidents per day since ${activity ? activity.start : "-"}: ${counts.join(", ")}`);
  const top = Math.max(1, ...counts);
  const bar = counts.length ? width / counts.length : width;
  counts.forEach((count, i) => {
    const h = count ? Math.max(2, (count / top) * height) : 0;
    const rect = document.createElementNS(SVG, "rect");
    rect.setAttribute("x", i * bar);
    rect.setAttribute("y", height - h);
    rect.setAttribute("width", Math.max(1, bar - gap));
    rect.setAttribute("height", h);
    rect.append(Object.assign(document.createElementNS(SVG, "title"), { textContent: `${count}` }));
    svg.append(rect);
  });
  return svg;
}

function trendText(trend) {
  if (trend >= 1.5) return el("span", { class: "rising" }, `rising ×${trend.toFixed(1)}`);
  if (trend <= 0.67) return el("span", {}, `falling ×${trend.toFixed(1)}`);
  return el("span", {}, "steady");
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
  return el("div", { class: "card problem", "data-id": p.id },
    el("h2", {}, `#${p.id} ${p.title} `, el("span", { class: `badge status ${p.status}` }, p.status)),
    el("div", {}, `${p.size} incidents from ${p.requesters} people, ${p.first_seen.slice(0, 10)} to ${p.last_seen.slice(0, 10)} · `,
      trendText(p.trend)),
    activityChart(p.activity),
    el("div", { class: "muted" }, "keywords: " + p.keywords.join(", ")),
    details,
    el("div", { class: "actions" },
      el("button", { type: "button", class: "accept", onclick: () => act("accept")(), ...(decided ? { disabled: "" } : {}) }, "Accept"),
      el("button", { type: "button", class: "reject", onclick: () => act("reject")(), ...(p.status === "rejected" ? { disabled: "" } : {}) }, "Reject"),
      others.length ? [el("button", { type: "button", class: "merge",
        onclick: () => act("merge")({ into: Number(target.value) }) }, "Merge into"), target] : null));
}

function prediction(field) {
  if (!field.label) return el("td", { class: "muted" }, "no prediction");
  const confidence = field.confidence === null ? "" : ` ${(field.confidence * 100).toFixed(0)}%`;
  return el("td", {}, `${field.label}${confidence}`, el("small", {}, field.status.replace("_", " ")));
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
        el("tbody", {}, queue.map(reviewRow))));
    } catch (e) { content.replaceChildren(); showError(e); }
  };
  tokenForm(load);
  await load();
}

function reviewRow(t) {
  const verdict = t.evidence || {};
  const terms = ["category", "urgency"].flatMap(f => ((verdict[f] && verdict[f].terms) || []).map(x => x.term));
  const neighbours = (verdict.evidence || []).slice(0, 3).map(n =>
    el("small", {}, `#${n.ticket_id} ${n.subject} [${n.category || "-"} / ${n.urgency || "-"}] ${n.similarity.toFixed(2)}`));
  return el("tr", { "data-ticket": t.ticket_id },
    el("td", {}, `#${t.ticket_id} ${t.subject}`, el("small", {}, t.created_at.slice(0, 16).replace("T", " ")),
      t.major_incident ? el("small", { class: "rising" }, `possibly a major incident (problem #${t.problem_id})`) : null),
    prediction(t.category), prediction(t.urgency),
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
