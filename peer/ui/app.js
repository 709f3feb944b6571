// The peer web UI: one ES module, no build step, no dependencies.
//
// Sections: DOM helpers (text goes in through text nodes only, never as HTML), the API client,
// formatting, live downloads (server-sent events with a polling fallback), the shell (sidebar and
// routing on location.hash), then one render function per screen: sign in, groups, one group's
// files, downloads, sharing, cluster. Every error shows the API's own message next to what failed.

"use strict";

// ---------------------------------------------------------------- DOM helpers

/** Builds an element. `props`: class, dataset, on<event>, or attributes; children: nodes or text. */
function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "value") el.value = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, ...children);
  return el;
}

/** Appends nodes or text (nested arrays allowed) to `el`. */
function append(el, ...children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Replaces every child of `el`. */
function replace(el, ...children) {
  el.replaceChildren();
  return append(el, ...children);
}

const ICONS = {
  groups: "M16 19v-1.5a3.5 3.5 0 0 0-3.5-3.5h-5A3.5 3.5 0 0 0 4 17.5V19M10 10.5a3.25 3.25 0 1 0 0-6.5 3.25 3.25 0 0 0 0 6.5M20 19v-1.5a3.5 3.5 0 0 0-2.5-3.35M15 4.2a3.25 3.25 0 0 1 0 6.1",
  download: "M12 4v11m0 0-4.5-4.5M12 15l4.5-4.5M5 19h14",
  cluster: "M5 5h14v5H5zM5 14h14v5H5zM8.5 7.5h.01M8.5 16.5h.01",
  logout: "M15 4h3a2 2 0 0 1 2 2v12a2 2 0 0 1-2 2h-3M10 16l-4-4 4-4M6 12h10",
  file: "M14 3H7a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h10a2 2 0 0 0 2-2V8zM14 3v5h5",
  plus: "M12 5v14M5 12h14",
  x: "M6 6l12 12M18 6 6 18",
  share: "M12 16V4m0 0L7.5 8.5M12 4l4.5 4.5M5 14v4a2 2 0 0 0 2 2h10a2 2 0 0 0 2-2v-4",
  check: "M5 12.5l4.5 4.5L19 7",
  lock: "M7 11V8a5 5 0 0 1 10 0v3M6 11h12v9H6z",
};

function icon(name) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("fill", "none");
  svg.setAttribute("stroke", "currentColor");
  svg.setAttribute("stroke-width", "1.8");
  svg.setAttribute("stroke-linecap", "round");
  svg.setAttribute("stroke-linejoin", "round");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", ICONS[name]);
  svg.append(path);
  return svg;
}

/** A small message that fades after a few seconds. */
function toast(text, bad = false) {
  const t = h("div", { class: bad ? "toast bad" : "toast" }, text);
  document.getElementById("toasts").append(t);
  setTimeout(() => t.remove(), bad ? 7000 : 3500);
}

// ---------------------------------------------------------------- API client

/** An error the API answered with: its status, `code` and one-line `message`. */
class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Calls `/api/v1` + `path`; resolves to the JSON body (null for 204), rejects with ApiError. */
async function api(method, path, body) {
  const init = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch("/api/v1" + path, init);
  } catch (e) {
    throw new ApiError(0, "offline", "the daemon does not answer; is `peer daemon` still running?");
  }
  if (res.status === 204) return null;
  let data = null;
  try {
    data = await res.json();
  } catch (e) {
    if (res.ok) return null;
  }
  if (!res.ok) {
    const err = (data && data.error) || {};
    const e = new ApiError(res.status, err.code || "internal", err.message || `HTTP ${res.status}`);
    if (e.code === "not_logged_in") onSignedOut();
    if (e.code === "unauthorized") onTokenRejected();
    throw e;
  }
  return data;
}

const enc = encodeURIComponent;

// ---------------------------------------------------------------- formatting

function fmtBytes(n) {
  if (n === null || n === undefined) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return (i === 0 ? String(v) : v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)) + " " + units[i];
}

function fmtSpeed(n) {
  return n ? fmtBytes(Math.round(n)) + "/s" : "–";
}

function fmtEta(secs) {
  if (secs === null || secs === undefined) return "–";
  const s = Math.max(0, Math.round(secs));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

function fmtPercent(d) {
  const p = typeof d.percent === "number" ? d.percent : d.size_bytes ? (100 * d.bytes_done) / d.size_bytes : 0;
  return Math.max(0, Math.min(100, p));
}

function fmtAgo(secs) {
  if (secs === null || secs === undefined) return "–";
  return fmtEta(Date.now() / 1000 - secs) + " ago";
}

function plural(n, one, many) {
  return `${n} ${n === 1 ? one : many || one + "s"}`;
}

// ---------------------------------------------------------------- state

const state = {
  session: null, // {logged_in, user, trackers}
  account: null, // GET /account: {user, display_name, created_at_ms, last_login_ms}
  owners: {}, // group name -> owner, as the last group list said
  downloads: [], // as GET /downloads gives them
  live: "off", // "sse" | "poll" | "off"
  screen: null, // the current screen's live hooks: {onDownloads}
  nav: 0, // bumped on every navigation, so late answers of an old screen are dropped
};

// ---------------------------------------------------------------- live downloads

let source = null;
let pollTimer = null;
let sseRetry = null;

function startLive() {
  stopLive();
  if (typeof EventSource === "function") {
    source = new EventSource("/api/v1/events");
    source.addEventListener("downloads", (ev) => {
      setLive("sse");
      try {
        const data = JSON.parse(ev.data);
        setDownloads(Array.isArray(data) ? data : data.downloads || []);
      } catch (e) {
        // A malformed event: the next one (or the poll) corrects the view.
      }
    });
    source.addEventListener("error", () => {
      // The stream broke: poll until it can be opened again.
      if (source) source.close();
      source = null;
      startPolling();
      clearTimeout(sseRetry);
      sseRetry = setTimeout(() => state.session && state.session.logged_in && startLive(), 15000);
    });
  } else {
    startPolling();
  }
  refreshDownloads();
}

function stopLive() {
  if (source) source.close();
  source = null;
  clearInterval(pollTimer);
  pollTimer = null;
  clearTimeout(sseRetry);
  setLive("off");
}

function startPolling() {
  setLive("poll");
  if (pollTimer) return;
  pollTimer = setInterval(refreshDownloads, 2000);
}

async function refreshDownloads() {
  try {
    const data = await api("GET", "/downloads");
    setDownloads(data.downloads || []);
  } catch (e) {
    // Shown where the user acts; the next poll tries again.
  }
}

function setLive(mode) {
  if (mode === "sse" && pollTimer) {
    clearInterval(pollTimer);
    pollTimer = null;
  }
  state.live = mode;
  for (const el of document.querySelectorAll("[data-live]")) {
    el.className = mode === "off" ? "live" : "live on";
    el.textContent = mode === "sse" ? "Live" : mode === "poll" ? "Polling" : "Offline";
  }
}

function setDownloads(list) {
  state.downloads = list;
  const running = list.filter((d) => d.state === "running").length;
  const badge = document.getElementById("nav-running");
  if (badge) {
    badge.textContent = String(running);
    badge.hidden = running === 0;
  }
  if (state.screen && state.screen.onDownloads) state.screen.onDownloads(list);
}

/** The newest download of `name` from `group`, if any. */
function downloadOf(group, name) {
  let found = null;
  for (const d of state.downloads) if (d.group === group && d.name === name) found = d;
  return found;
}

// ---------------------------------------------------------------- shell and routing

const app = () => document.getElementById("app");

function onSignedOut() {
  if (state.session && state.session.logged_in) {
    state.session.logged_in = false;
    stopLive();
    render();
  }
}

function onTokenRejected() {
  stopLive();
  state.session = null;
  replace(
    app(),
    h("div", { class: "auth-wrap" },
      h("div", { class: "auth-card" },
        brand(),
        h("h2", {}, "This link has expired"),
        h("p", {}, "The daemon did not accept this browser's access token. Run ", h("code", {}, "peer ui"),
          " and open the link it prints."))),
  );
}

function brand() {
  return h("div", { class: "brand" },
    h("img", { src: "/assets/icon.svg", alt: "" }),
    h("div", {}, h("strong", {}, "peer"), h("span", {}, "group file sharing")));
}

function route() {
  const decode = (x) => {
    try {
      return decodeURIComponent(x);
    } catch (e) {
      return x;
    }
  };
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decode);
  if (parts[0] === "groups" && parts[1]) return { name: "group", group: parts[1] };
  if (parts[0] === "downloads") return { name: "downloads" };
  if (parts[0] === "sharing") return { name: "sharing" };
  if (parts[0] === "cluster") return { name: "cluster" };
  return { name: "groups" };
}

function navItem(href, iconName, label, active, extra) {
  return h("a", { href, class: active ? "nav-item active" : "nav-item", "aria-current": active ? "page" : null },
    icon(iconName), label, extra);
}

async function render() {
  const nav = ++state.nav;
  state.screen = null;
  if (!state.session) {
    let session;
    try {
      session = await api("GET", "/session");
    } catch (e) {
      if (e.code !== "unauthorized" && current(nav)) showFatal(e);
      return;
    }
    // A later render (a click, a hash change) took over while this one waited.
    if (!current(nav)) return;
    state.session = session;
    state.account = null;
    if (session.logged_in) {
      // The display name for the header; the page works without it.
      try {
        state.account = await api("GET", "/account");
      } catch (_e) {
        state.account = null;
      }
      if (!current(nav)) return;
    }
  }
  if (!state.session.logged_in) {
    stopLive();
    return renderSignIn();
  }
  if (state.live === "off") startLive();
  const r = route();
  const running = state.downloads.filter((d) => d.state === "running").length;
  const main = h("main", { class: "main" });
  const user = state.session.user || "";
  const shown = (state.account && state.account.display_name) || user;
  replace(
    app(),
    h("div", { class: "shell" },
      h("nav", { class: "sidebar", "aria-label": "Main" },
        brand(),
        navItem("#/groups", "groups", "Groups", r.name === "groups" || r.name === "group"),
        navItem("#/downloads", "download", "Downloads", r.name === "downloads",
          h("span", { id: "nav-running", class: "badge count", hidden: running === 0 }, String(running))),
        navItem("#/sharing", "share", "Sharing", r.name === "sharing"),
        navItem("#/cluster", "cluster", "Cluster", r.name === "cluster"),
        h("div", { class: "sidebar-foot" },
          h("div", { class: "avatar", "aria-hidden": "true" }, shown.slice(0, 1)),
          h("div", { class: "who" }, h("strong", { id: "whoami", title: user }, shown),
            h("span", {}, shown === user ? "signed in" : `signed in as ${user}`)),
          h("button", { class: "btn ghost small", title: "Sign out", "aria-label": "Sign out", id: "sign-out", onclick: signOut },
            icon("logout")))),
      main),
  );
  const screens = {
    groups: renderGroups, group: renderGroup, downloads: renderDownloads, sharing: renderSharing, cluster: renderCluster,
  };
  screens[r.name](main, r, nav);
}

function showFatal(e) {
  replace(app(), h("div", { class: "auth-wrap" },
    h("div", { class: "auth-card" }, brand(), h("div", { class: "error" }, e.message),
      h("button", { class: "btn wide", onclick: () => render() }, "Try again"))));
}

async function signOut() {
  try {
    await api("POST", "/session/logout");
  } catch (e) {
    toast(e.message, true);
    return;
  }
  state.session = null;
  stopLive();
  go("#/groups");
}

/** Shows the screen of `hash`: through the hashchange event if it changes, else at once. */
function go(hash) {
  if (location.hash === hash) render();
  else location.hash = hash;
}

/** Whether the screen that started at navigation `nav` is still the one shown. */
const current = (nav) => nav === state.nav;

function pageHead(title, sub, ...right) {
  return h("div", { class: "page-head" },
    h("div", {}, title instanceof Node ? title : h("h1", {}, title), sub ? h("div", { class: "sub" }, sub) : null),
    h("div", { class: "spacer" }), right);
}

function emptyState(title, text) {
  return h("div", { class: "empty" }, h("strong", {}, title), text);
}

/** Runs `fn` with `button` disabled; shows a failure in `errEl` (or a toast). */
async function busy(button, errEl, fn) {
  if (button) button.disabled = true;
  if (errEl) errEl.textContent = "";
  try {
    await fn();
  } catch (e) {
    if (errEl) errEl.textContent = e.message;
    else toast(e.message, true);
  } finally {
    if (button && button.isConnected) button.disabled = false;
  }
}

// ---------------------------------------------------------------- sign in

function renderSignIn(mode = "login") {
  const user = h("input", { type: "text", id: "login-user", name: "user", autocomplete: "username", required: true });
  const pass = h("input", {
    type: "password", id: "login-password", name: "password", required: true,
    autocomplete: mode === "login" ? "current-password" : "new-password",
  });
  const display = h("input", { type: "text", id: "login-display-name", name: "display_name", maxlength: 64, autocomplete: "name" });
  const err = h("div", { class: "error", id: "login-error", role: "alert" });
  const submit = h("button", { class: "btn primary wide", type: "submit", id: "login-submit" },
    mode === "login" ? "Sign in" : "Create account");
  const form = h("form", {
    onsubmit: (ev) => {
      ev.preventDefault();
      busy(submit, err, async () => {
        const body = { user: user.value.trim(), password: pass.value };
        if (mode === "create") {
          const named = display.value.trim() ? { ...body, display_name: display.value.trim() } : body;
          await api("POST", "/users", named);
        }
        await api("POST", "/session/login", body);
        state.session = null;
        render();
      });
    },
  },
    h("label", { class: "field" }, h("span", {}, "Username"), user),
    h("label", { class: "field" }, h("span", {}, "Password"), pass,
      mode === "create" ? h("small", {}, "Stored only as a hash on the trackers.") : null),
    mode === "create"
      ? h("label", { class: "field" }, h("span", {}, "Display name (optional)"), display,
        h("small", {}, "Shown beside your username, up to 64 bytes."))
      : null,
    submit, err);
  const tab = (m, label) => h("button", {
    type: "button", class: m === mode ? "tab active" : "tab", id: "tab-" + m,
    onclick: () => renderSignIn(m),
  }, label);
  const trackers = (state.session && state.session.trackers) || [];
  replace(app(), h("div", { class: "auth-wrap" },
    h("div", { class: "auth-card" },
      brand(),
      h("div", { class: "tabs", role: "tablist" }, tab("login", "Sign in"), tab("create", "Create account")),
      form,
      trackers.length ? h("div", { class: "auth-foot" }, "Trackers: ", h("span", { class: "mono" }, trackers.join(", "))) : null)));
  user.focus();
}

// ---------------------------------------------------------------- groups

async function renderGroups(main, _r, nav) {
  const createErr = h("div", { class: "error", role: "alert" });
  const nameInput = h("input", { type: "text", id: "new-group", placeholder: "New group name", "aria-label": "New group name" });
  const openBox = h("input", { type: "checkbox", id: "new-group-open" });
  const openLabel = h("label", { class: "check", for: "new-group-open", title: "Anyone may join without your acceptance" }, openBox, " Open group");
  const createBtn = h("button", { class: "btn primary", type: "submit" }, icon("plus"), "Create group");
  const body = h("div", {}, h("div", { class: "boot" }, "Loading groups…"));
  replace(main,
    pageHead("Groups", "Share files with the people in a group; join one to see its files."),
    h("div", { class: "panel" },
      h("div", { class: "panel-body" },
        h("form", {
          class: "inline-form",
          onsubmit: (ev) => {
            ev.preventDefault();
            busy(createBtn, createErr, async () => {
              const name = nameInput.value.trim();
              await api("POST", "/groups", { name, open: openBox.checked });
              toast(`Created ${openBox.checked ? "open " : ""}group ${name}`);
              go("#/groups/" + enc(name));
            });
          },
        }, nameInput, openLabel, createBtn),
        createErr)),
    linkAndFindPanel(),
    body);

  let groups;
  try {
    groups = (await api("GET", "/groups")).groups || [];
  } catch (e) {
    if (current(nav)) replace(body, h("div", { class: "error" }, e.message));
    return;
  }
  const owned = groups.filter((g) => g.role === "owner");
  const requests = await Promise.all(owned.map((g) =>
    api("GET", `/groups/${enc(g.name)}/requests`).then((r) => r.requests || [], () => [])));
  if (!current(nav)) return;

  const mine = groups.filter((g) => g.role === "owner" || g.role === "member");
  const pending = groups.filter((g) => g.role === "pending");
  const others = groups.filter((g) => g.role === "none" || !g.role);
  const reqRows = [];
  owned.forEach((g, i) => {
    for (const r of requests[i]) reqRows.push(requestRow(g.name, r.user));
  });
  const reqCount = new Map(owned.map((g, i) => [g.name, requests[i].length]));

  replace(body,
    reqRows.length
      ? section("Join requests", reqRows.length, h("div", { id: "requests" }, reqRows))
      : null,
    section("Your groups", mine.length,
      mine.length
        ? h("div", { class: "group-list" }, mine.map((g) => groupCard(g, reqCount.get(g.name) || 0)))
        : emptyState("You are not in any group yet", "Create one above, or ask to join one below.")),
    pending.length ? section("Waiting for approval", pending.length, h("div", { class: "group-list" }, pending.map((g) => groupCard(g)))) : null,
    section("Other groups", others.length,
      others.length
        ? h("div", { class: "group-list" }, others.map((g) => groupCard(g)))
        : emptyState("No other groups", "Every group on these trackers is listed above.")));
}

function section(title, count, content) {
  return h("section", { class: "panel" },
    h("div", { class: "panel-head" }, h("h2", {}, title), count !== null ? h("span", { class: "count" }, String(count)) : null),
    content);
}

function roleBadge(role) {
  const text = { owner: "owner", member: "member", pending: "pending", none: "not a member" }[role] || role;
  return h("span", { class: "badge " + role }, text);
}

/** How many members a group has (the API gives `member_count`, or a `members` list). */
function memberCount(g) {
  return typeof g.member_count === "number" ? g.member_count : (g.members || []).length;
}

/** The "open" badge of a group anyone may join without acceptance (null for a closed one). */
function openBadge(g) {
  return g.open ? h("span", { class: "badge open", title: "Anyone may join without acceptance" }, "open") : null;
}

function groupCard(g, requestCount = 0) {
  const members = memberCount(g);
  const meta = h("div", { class: "meta" }, `owned by ${g.owner} · ${plural(members, "member")}`);
  if (g.role === "owner" || g.role === "member") {
    return h("a", { class: "group-card", href: "#/groups/" + enc(g.name), dataset: { group: g.name } },
      h("div", { class: "title" }, g.name),
      meta,
      h("div", { class: "row" }, roleBadge(g.role), openBadge(g),
        requestCount ? h("span", { class: "badge pending" }, plural(requestCount, "request")) : null));
  }
  const err = h("div", { class: "error", role: "alert" });
  let action;
  if (g.role === "pending") {
    action = h("button", {
      class: "btn small", dataset: { action: "withdraw", group: g.name },
      onclick: (ev) => busy(ev.currentTarget, err, async () => {
        await api("POST", `/groups/${enc(g.name)}/leave`);
        toast(`Withdrew the request to join ${g.name}`);
        render();
      }),
    }, "Withdraw request");
  } else {
    action = h("button", {
      class: "btn primary small", dataset: { action: "join", group: g.name },
      onclick: (ev) => busy(ev.currentTarget, err, async () => {
        const r = await api("POST", `/groups/${enc(g.name)}/join`);
        toast(r && r.state === "member" ? `You joined ${g.name}` : `Asked ${g.owner} to let you into ${g.name}`);
        render();
      }),
    }, g.open ? "Join" : "Request to join");
  }
  return h("div", { class: "group-card", dataset: { group: g.name } },
    h("div", { class: "title" }, g.name), meta, h("div", { class: "row" }, roleBadge(g.role || "none"), openBadge(g), h("span", { class: "spacer" }), action), err);
}

function requestRow(group, user) {
  const err = h("div", { class: "error", role: "alert" });
  const act = (what, label, cls) => h("button", {
    class: "btn small " + cls, dataset: { action: what, group, user },
    onclick: (ev) => busy(ev.currentTarget, err, async () => {
      await api("POST", `/groups/${enc(group)}/requests/${enc(user)}/${what}`);
      toast(what === "accept" ? `${user} is now in ${group}` : `Turned down ${user}`);
      render();
    }),
  }, label);
  return h("div", { class: "request-row" },
    h("div", { class: "avatar", "aria-hidden": "true" }, user.slice(0, 1)),
    h("div", { class: "who" }, h("strong", {}, user), h("span", {}, " wants to join "), h("strong", {}, group), err),
    act("accept", "Accept", "primary"), act("reject", "Reject", "danger"));
}

// ---------------------------------------------------------------- one group

async function renderGroup(main, r, nav) {
  const name = r.group;
  const head = h("div", {});
  const body = h("div", {}, h("div", { class: "boot" }, "Loading files…"));
  replace(main, head, body);
  replace(head, pageHead(
    h("div", {}, h("div", { class: "crumbs" }, h("a", { href: "#/groups" }, "Groups"), " / "), h("h1", {}, name)), null));

  let groups;
  try {
    groups = (await api("GET", "/groups")).groups || [];
  } catch (e) {
    if (current(nav)) replace(body, h("div", { class: "error" }, e.message));
    return;
  }
  if (!current(nav)) return;
  const g = groups.find((x) => x.name === name);
  if (g) state.owners[name] = g.owner;
  if (!g) {
    replace(body, section("Not found", null, emptyState(`There is no group named ${name}`, "It may have been removed. Pick one from Groups.")));
    return;
  }
  const members = g.members || null;
  const leaveBtn = g.role === "member"
    ? h("button", {
      class: "btn danger", dataset: { action: "leave", group: name },
      onclick: (ev) => busy(ev.currentTarget, null, async () => {
        await api("POST", `/groups/${enc(name)}/leave`);
        toast(`You left ${name}`);
        go("#/groups");
      }),
    }, "Leave group")
    : null;
  replace(head, pageHead(
    h("div", {}, h("div", { class: "crumbs" }, h("a", { href: "#/groups" }, "Groups"), " / "), h("h1", {}, name)),
    `owned by ${g.owner} · ${plural(memberCount(g), "member")}`, roleBadge(g.role), leaveBtn));

  if (g.role !== "owner" && g.role !== "member") {
    const err = h("div", { class: "error", role: "alert" });
    replace(body, h("div", { class: "panel" }, h("div", { class: "panel-body" },
      h("p", {}, g.role === "pending"
        ? `Your request to join is waiting for ${g.owner}. The files appear here once they accept it.`
        : "Only members see this group's files."),
      g.role === "pending" ? null : h("button", {
        class: "btn primary", dataset: { action: "join", group: name },
        onclick: (ev) => busy(ev.currentTarget, err, async () => {
          await api("POST", `/groups/${enc(name)}/join`);
          render();
        }),
      }, "Request to join"),
      err)));
    return;
  }

  const filesPanel = h("section", { class: "panel", id: "files" });
  const peersPanel = h("section", { class: "panel", id: "peers" });
  replace(body, filesPanel, sharePanel(name, () => loadFiles(filesPanel, name, nav)),
    members ? section("Members", members.length, h("div", { class: "panel-body chips" },
      members.map((m) => h("span", { class: "chip" }, m, m === g.owner ? " · owner" : "")))) : null,
    peersPanel);
  await loadFiles(filesPanel, name, nav);
  await loadPeers(peersPanel, name, nav);
}

// The online peers of the group's members (as `peer peers`).
async function loadPeers(panel, group, nav) {
  let peers;
  try {
    peers = (await api("GET", `/groups/${enc(group)}/peers`)).peers || [];
  } catch (e) {
    if (current(nav)) replace(panel, h("div", { class: "panel-body" }, h("div", { class: "error" }, e.message)));
    return;
  }
  if (!current(nav)) return;
  const head = h("div", { class: "panel-head" }, h("h2", {}, "Online peers"), h("span", { class: "count" }, String(peers.length)),
    h("span", { class: "spacer" }),
    h("button", { class: "btn ghost small", onclick: () => loadPeers(panel, group, nav) }, "Refresh"));
  if (!peers.length) {
    replace(panel, head, emptyState("No member's daemon is online", "Peers show here while their daemons run."));
    return;
  }
  replace(panel, head, h("table", {},
    h("thead", {}, h("tr", {},
      h("th", {}, "User"), h("th", { class: "hide-sm" }, "Address"), h("th", { class: "num" }, "Files seeded"),
      h("th", { class: "num" }, "Last seen"))),
    h("tbody", {}, peers.map((p) => h("tr", { dataset: { peer: p.peer_id, user: p.username } },
      h("td", {}, p.username, h("div", { class: "sub-line mono" }, "peer " + p.peer_id)),
      h("td", { class: "mono hide-sm" }, p.addr),
      h("td", { class: "num" }, String(p.files_seeded)),
      h("td", { class: "num" }, fmtAgo(p.last_seen_secs)))))));
}

// Every peer holding a file, online or not (as `peer sources`), in a row under the file's.
async function toggleSources(tr, group, name, err) {
  const next = tr.nextElementSibling;
  if (next && next.dataset.sourcesOf === name) {
    next.remove();
    return;
  }
  const r = await api("GET", `/groups/${enc(group)}/files/${enc(name)}/sources`);
  const list = r.sources || [];
  const rows = list.map((s) => h("tr", { dataset: { source: s.peer_id, user: s.username } },
    h("td", {}, s.username, h("div", { class: "sub-line mono" }, s.addr)),
    h("td", { class: "num" }, `${s.chunks_held}/${s.chunk_count}`),
    h("td", {}, h("span", { class: "badge " + (s.online ? "member" : "pending") }, s.online ? "online" : "offline")),
    h("td", { class: "num" }, fmtAgo(s.last_seen_secs))));
  const inner = list.length
    ? h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "Holder"), h("th", { class: "num" }, "Chunks"),
      h("th", {}, "State"), h("th", { class: "num" }, "Last seen"))), h("tbody", {}, rows))
    : h("div", { class: "sub-line" }, "Nobody holds it right now.");
  err.textContent = "";
  tr.after(h("tr", { class: "sources", dataset: { sourcesOf: name } }, h("td", { colspan: "5" }, inner)));
}

async function loadFiles(panel, group, nav) {
  let files;
  try {
    files = (await api("GET", `/groups/${enc(group)}/files`)).files || [];
  } catch (e) {
    if (current(nav)) replace(panel, h("div", { class: "panel-body" }, h("div", { class: "error" }, e.message)));
    return;
  }
  if (!current(nav)) return;
  const head = h("div", { class: "panel-head" }, h("h2", {}, "Files"), h("span", { class: "count" }, String(files.length)),
    h("span", { class: "spacer" }),
    h("button", { class: "btn ghost small", onclick: () => loadFiles(panel, group, nav) }, "Refresh"));
  if (!files.length) {
    replace(panel, head, emptyState("No files shared here yet", "Share one below: give the path of a file on this machine."));
    return;
  }
  const rows = files.map((f) => fileRow(group, f, () => loadFiles(panel, group, nav)));
  replace(panel, head, h("table", {},
    h("thead", {}, h("tr", {},
      h("th", {}, "Name"), h("th", { class: "num" }, "Size"), h("th", { class: "num hide-sm" }, "Chunks"),
      h("th", { class: "num" }, "Seeders"), h("th", { class: "actions" }, ""))),
    h("tbody", {}, rows.map((x) => x.tr))));
  state.screen = {
    onDownloads: () => rows.forEach((x) => x.update()),
  };
}

function fileRow(group, f, reload) {
  const err = h("div", { class: "error", role: "alert" });
  const cell = h("td", { class: "actions" });
  const seeders = h("td", { class: "num" }, String(f.seeders));
  const tr = h("tr", { dataset: { file: f.name } },
    h("td", {}, h("div", { class: "file-name" }, icon("file"),
      h("div", {}, f.name, h("div", { class: "sub-line mono" }, "sha1 " + (f.sha1 || "").slice(0, 12)), err))),
    h("td", { class: "num" }, fmtBytes(f.size_bytes)),
    h("td", { class: "num hide-sm" }, String(f.chunks)),
    seeders,
    cell);
  if (f.partial_peers) append(seeders, h("div", { class: "sub-line" }, `+${f.partial_peers} partial`));

  const download = () => h("button", {
    class: "btn primary small", dataset: { action: "download", file: f.name },
    onclick: (ev) => busy(ev.currentTarget, err, async () => {
      await api("POST", "/downloads", { group, name: f.name });
      toast(`Downloading ${f.name}`);
      await refreshDownloads();
    }),
  }, icon("download"), "Download");
  const stop = () => h("button", {
    class: "btn small danger", dataset: { action: "stop-share", file: f.name },
    onclick: (ev) => busy(ev.currentTarget, err, async () => {
      await api("DELETE", `/groups/${enc(group)}/files/${enc(f.name)}`);
      toast(`Stopped sharing ${f.name}`);
      reload();
    }),
  }, "Stop sharing");
  const me = state.session && state.session.user;
  const mayUnpublish = me && (f.uploader === me || state.owners[group] === me);
  const unpublish = () => h("button", {
    class: "btn small danger", dataset: { action: "unpublish", file: f.name },
    title: "Remove the file from the group for everyone",
    onclick: (ev) => {
      if (!window.confirm(`Unpublish ${f.name} from ${group}? It leaves the group for everyone, and running downloads of it stop.`)) return;
      busy(ev.currentTarget, err, async () => {
        await api("POST", `/groups/${enc(group)}/files/${enc(f.name)}/unpublish`);
        toast(`Unpublished ${f.name}`);
        reload();
      });
    },
  }, "Unpublish");

  const sources = () => h("button", {
    class: "btn ghost small", dataset: { action: "sources", file: f.name },
    onclick: (ev) => busy(ev.currentTarget, err, () => toggleSources(tr, group, f.name, err)),
  }, "Sources");

  let shown = null;
  const update = () => {
    const d = downloadOf(group, f.name);
    const key = d ? `${d.id}:${d.state}` : "none";
    if (d && d.state === "running") {
      if (shown !== key) {
        replace(cell, h("div", { class: "mini" }, h("div", { class: "bar" }, h("i", {})), h("span", {}, "")));
        shown = key;
      }
      const p = fmtPercent(d);
      cell.querySelector(".bar > i").style.width = p.toFixed(1) + "%";
      cell.querySelector(".mini span").textContent = Math.floor(p) + "%";
      return;
    }
    if (shown === key) return;
    shown = key;
    const parts = [];
    if (d && d.state === "complete") parts.push(h("span", { class: "badge complete" }, icon("check"), "downloaded"), " ");
    if (f.shared_by_me) parts.push(h("span", { class: "badge member" }, "seeding"), " ", stop());
    else if (!d || d.state !== "complete") parts.push(download());
    parts.push(" ", sources(), " ", copyLinkButton(group, f.name, err));
    if (mayUnpublish) parts.push(" ", unpublish());
    replace(cell, parts);
  };
  update();
  return { tr, update };
}

// ---------------------------------------------------------------- links and finding by SHA-1

/** Puts `text` on the clipboard; where the page may not (no permission, an insecure origin),
 *  shows it in a prompt() to copy by hand. */
async function copyText(text, what) {
  try {
    if (!navigator.clipboard) throw new Error("no clipboard");
    await navigator.clipboard.writeText(text);
    toast(`Copied ${what}`);
  } catch (e) {
    window.prompt(`Copy ${what}:`, text);
  }
}

/** A file row's "Copy link" button: the link `peer link` prints, which "Download from link"
 *  and `peer download LINK` take. */
function copyLinkButton(group, name, err) {
  return h("button", {
    class: "btn ghost small", dataset: { action: "copy-link", file: name },
    title: "Copy a link to this file (group, name, size, SHA-1, trackers)",
    onclick: (ev) => busy(ev.currentTarget, err, async () => {
      const r = await api("GET", `/groups/${enc(group)}/files/${enc(name)}/link`);
      await copyText(r.link, `the link to ${name}`);
    }),
  }, "Copy link");
}

/** The Groups page's panel: download a file from a link, and find files by whole-file SHA-1. */
function linkAndFindPanel() {
  const link = h("input", { type: "text", class: "grow mono", id: "link-input", placeholder: "p2p:?g=… (a file's link)", "aria-label": "File link" });
  const dest = h("input", { type: "text", class: "mono", id: "link-dest", placeholder: "Destination (default: download folder)", "aria-label": "Destination path" });
  const linkErr = h("div", { class: "error", role: "alert", id: "link-error" });
  const linkBtn = h("button", { class: "btn primary", type: "submit", id: "link-download" }, icon("download"), "Download from link");
  const sha1 = h("input", { type: "text", class: "grow mono", id: "find-sha1", placeholder: "SHA-1 (40 hexadecimal digits)", "aria-label": "SHA-1 to find" });
  const findErr = h("div", { class: "error", role: "alert" });
  const findBtn = h("button", { class: "btn", type: "submit", id: "find-button" }, "Find by SHA-1");
  const results = h("div", { id: "find-results" });
  return h("section", { class: "panel" },
    h("div", { class: "panel-head" }, h("h2", {}, "Links and content"),
      h("span", { class: "sub-line" }, "Download a file from its link, or find which of your groups have a file's content.")),
    h("div", { class: "panel-body" },
      h("form", {
        class: "inline-form",
        onsubmit: (ev) => {
          ev.preventDefault();
          busy(linkBtn, linkErr, async () => {
            const body = { link: link.value.trim() };
            if (dest.value.trim()) body.dest = dest.value.trim();
            await api("POST", "/downloads", body);
            toast("Downloading from the link");
            link.value = "";
            dest.value = "";
            await refreshDownloads();
          });
        },
      }, link, dest, linkBtn),
      linkErr,
      h("form", {
        class: "inline-form spaced",
        onsubmit: (ev) => {
          ev.preventDefault();
          busy(findBtn, findErr, async () => {
            const hex = sha1.value.trim();
            const r = await api("GET", `/find/${enc(hex)}`);
            replace(results, foundTable(r.files || []));
          });
        },
      }, sha1, findBtn),
      findErr),
    results);
}

/** The files found by SHA-1, each linking to its group. */
function foundTable(files) {
  if (!files.length) return emptyState("Not found", "No file with that content in your groups.");
  return h("table", {},
    h("thead", {}, h("tr", {},
      h("th", {}, "Group"), h("th", {}, "Name"), h("th", { class: "num" }, "Size"),
      h("th", { class: "num" }, "Seeders"), h("th", { class: "num hide-sm" }, "Partial"))),
    h("tbody", {}, files.map((f) => h("tr", { dataset: { group: f.group, file: f.name } },
      h("td", {}, h("a", { href: "#/groups/" + enc(f.group) }, f.group)),
      h("td", {}, f.name),
      h("td", { class: "num" }, fmtBytes(f.size_bytes)),
      h("td", { class: "num" }, String(f.seeders)),
      h("td", { class: "num hide-sm" }, String(f.partial))))));
}

function sharePanel(group, reload) {
  const path = h("input", { type: "text", class: "grow mono", id: "share-path", placeholder: "/path/to/file on this machine", "aria-label": "File path" });
  const name = h("input", { type: "text", id: "share-name", placeholder: "Name (default: file name)", "aria-label": "Name in the group" });
  const err = h("div", { class: "error", role: "alert" });
  const btn = h("button", { class: "btn primary", type: "submit" }, icon("share"), "Share");
  return h("section", { class: "panel" },
    h("div", { class: "panel-head" }, h("h2", {}, "Share a file"),
      h("span", { class: "sub-line" }, "The file stays where it is; this daemon seeds it from there.")),
    h("div", { class: "panel-body" },
      h("form", {
        class: "inline-form",
        onsubmit: (ev) => {
          ev.preventDefault();
          busy(btn, err, async () => {
            const body = { path: path.value.trim() };
            if (name.value.trim()) body.name = name.value.trim();
            const r = await api("POST", `/groups/${enc(group)}/files`, body);
            toast(r.existing
              ? `Same content as ${r.name} in this group: seeding ${r.name} from this path`
              : `Sharing ${r.name} (${fmtBytes(r.size_bytes)})`);
            path.value = "";
            name.value = "";
            reload();
          });
        },
      }, path, name, btn),
      err));
}

// ---------------------------------------------------------------- downloads

function renderDownloads(main) {
  const list = h("div", { id: "downloads" });
  const rows = new Map();
  replace(main,
    pageHead("Downloads", "Every download of this daemon; it resumes them after a restart.",
      h("span", { class: "live", dataset: { live: "" } }, "")),
    h("section", { class: "panel" }, list));
  setLive(state.live);

  const draw = (downloads) => {
    if (!downloads.length) {
      rows.clear();
      replace(list, emptyState("No downloads yet", "Open a group and press Download on one of its files."));
      return;
    }
    if (!rows.size) list.replaceChildren();
    const seen = new Set();
    // In the daemon's order (by group, then name), so rows never jump between updates.
    downloads.forEach((d, i) => {
      seen.add(String(d.id));
      let row = rows.get(String(d.id));
      if (!row) {
        row = downloadRow(d);
        rows.set(String(d.id), row);
      }
      if (list.children[i] !== row.el) list.insertBefore(row.el, list.children[i] || null);
      row.update(d);
    });
    for (const [id, row] of rows) {
      if (!seen.has(id)) {
        row.el.remove();
        rows.delete(id);
      }
    }
  };
  draw(state.downloads);
  state.screen = { onDownloads: draw };
}

/** "N sources, fastest X/s" of a running download's connected sources (as `peer downloads`). */
function sourcesLine(d) {
  const live = (d.sources || []).filter((s) => s.connected);
  if (!live.length) return plural(d.peers || 0, "peer");
  const fastest = Math.max(...live.map((s) => s.bytes_per_sec || 0));
  return `${plural(live.length, "source")}, fastest ${fmtSpeed(fastest)}`;
}

function downloadRow(d0) {
  const badge = h("span", { class: "badge" });
  const fill = h("i", {});
  const bar = h("div", { class: "bar" }, fill);
  const pct = h("b", {});
  const bytes = h("span", {});
  const speed = h("span", {});
  const eta = h("span", {});
  const peers = h("span", {});
  const errLine = h("div", { class: "err-line", role: "alert" });
  const cancelErr = h("div", { class: "error", role: "alert" });
  const cancel = h("button", {
    class: "btn small danger", dataset: { action: "cancel" },
    onclick: (ev) => busy(ev.currentTarget, cancelErr, async () => {
      await api("DELETE", `/downloads/${enc(d0.id)}`);
      toast(`Cancelled ${d0.name}`);
      await refreshDownloads();
    }),
  }, icon("x"), "Cancel");
  const ops = h("div", { class: "ops" }, badge, cancel);
  const el = h("div", { class: "dl", dataset: { download: d0.id, name: d0.name, group: d0.group } },
    h("div", { class: "head" },
      h("div", { class: "file-name" }, icon("file"), h("div", {}, d0.name,
        h("div", { class: "sub-line" }, "from ", h("a", { href: "#/groups/" + enc(d0.group) }, d0.group), " → ",
          h("span", { class: "mono" }, d0.dest || ""))))),
    ops,
    bar,
    h("div", { class: "stats" }, h("span", {}, pct), bytes, speed, eta, peers),
    errLine, cancelErr);

  const update = (d) => {
    const p = fmtPercent(d);
    el.dataset.state = d.state;
    badge.className = "badge " + d.state;
    badge.textContent = d.state;
    bar.className = "bar " + d.state;
    fill.style.width = p.toFixed(1) + "%";
    pct.textContent = p.toFixed(1) + "%";
    bytes.textContent = `${fmtBytes(d.bytes_done)} of ${fmtBytes(d.size_bytes)}`;
    const running = d.state === "running";
    speed.textContent = running ? "↓ " + fmtSpeed(d.speed_bytes_per_sec) : "";
    eta.textContent = running ? "ETA " + fmtEta(d.eta_secs) : "";
    peers.textContent = running ? sourcesLine(d) : "";
    errLine.textContent = d.error || "";
    cancel.hidden = !running;
  };
  update(d0);
  return { el, update };
}

// ---------------------------------------------------------------- sharing

async function renderSharing(main, _r, nav) {
  const stats = h("div", { class: "stats-row" });
  const panel = h("section", { class: "panel", id: "shares" }, h("div", { class: "boot" }, "Loading…"));
  replace(main, pageHead("Sharing", "What this daemon seeds, from where it lies on this machine."), stats, panel);
  let info;
  let shares;
  try {
    [info, shares] = await Promise.all([api("GET", "/daemon"), api("GET", "/shares")]);
  } catch (e) {
    if (current(nav)) replace(panel, h("div", { class: "panel-body" }, h("div", { class: "error" }, e.message)));
    return;
  }
  if (!current(nav)) return;
  const stat = (label, value, id) => h("div", { class: "stat" }, h("span", {}, label), h("b", { id }, value));
  replace(stats,
    stat("Uploaded", fmtBytes(info.uploaded_bytes || 0), "uploaded"),
    stat("Downloaded", fmtBytes(info.downloaded_bytes || 0), "downloaded"),
    stat("Chunks served", String(info.chunks_served || 0), "chunks-served"),
    // Not the peer id: a u64 above 2^53 loses digits as a JSON number in JavaScript.
    stat("Files shared", String((shares.shares || []).length), "shares-count"));
  const list = shares.shares || [];
  const head = h("div", { class: "panel-head" }, h("h2", {}, "Shared files"), h("span", { class: "count" }, String(list.length)),
    h("span", { class: "spacer" }),
    info.advertise_addr ? h("span", { class: "sub-line" }, "peers reach this daemon at ", h("span", { class: "mono" }, info.advertise_addr)) : null);
  if (!list.length) {
    replace(panel, head, emptyState("Nothing shared yet", "Open a group and share a file by its path; downloaded files are shared too."));
    return;
  }
  replace(panel, head, h("table", {},
    h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", {}, "Group"), h("th", { class: "num" }, "Size"), h("th", { class: "actions" }, ""))),
    h("tbody", {}, list.map((f) => {
      const err = h("div", { class: "error", role: "alert" });
      return h("tr", { dataset: { share: f.name, group: f.group } },
        h("td", {}, h("div", { class: "file-name" }, icon("file"),
          h("div", {}, f.name, h("div", { class: "sub-line mono" }, f.path), err))),
        h("td", {}, h("a", { href: "#/groups/" + enc(f.group) }, f.group)),
        h("td", { class: "num" }, fmtBytes(f.size_bytes)),
        h("td", { class: "actions" }, h("button", {
          class: "btn small danger", dataset: { action: "stop-share" },
          onclick: (ev) => busy(ev.currentTarget, err, async () => {
            await api("DELETE", `/groups/${enc(f.group)}/files/${enc(f.name)}`);
            toast(`Stopped sharing ${f.name}`);
            render();
          }),
        }, "Stop sharing")));
    }))));
}

// ---------------------------------------------------------------- cluster

function renderCluster(main, _r, nav) {
  const body = h("div", {}, h("div", { class: "boot" }, "Asking the trackers…"));
  replace(main, pageHead("Cluster", "The tracker nodes as they report themselves; refreshed every few seconds."), body);
  const load = async () => {
    if (!current(nav)) return;
    let c;
    try {
      c = await api("GET", "/cluster");
    } catch (e) {
      if (current(nav)) replace(body, h("div", { class: "error" }, e.message));
      setTimeout(load, 5000);
      return;
    }
    if (!current(nav)) return;
    const nodes = c.nodes || [];
    const term = nodes.reduce((m, n) => Math.max(m, n.term || 0), 0);
    const trackers = (state.session && state.session.trackers) || [];
    replace(body,
      h("div", { class: "stats-row" },
        h("div", { class: "stat" }, h("span", {}, "Leader"), h("b", { id: "leader" }, c.leader === null || c.leader === undefined ? "none" : `node ${c.leader}`)),
        h("div", { class: "stat" }, h("span", {}, "Reachable"), h("b", {}, `${c.reachable ?? nodes.length} / ${Math.max(nodes.length, trackers.length)}`)),
        h("div", { class: "stat" }, h("span", {}, "Term"), h("b", {}, String(term)))),
      section("Nodes", nodes.length, nodes.length
        ? h("table", {},
          h("thead", {}, h("tr", {}, h("th", {}, "Node"), h("th", {}, "Address"), h("th", {}, "Role"),
            h("th", { class: "num" }, "Term"), h("th", { class: "num hide-sm" }, "Last log"), h("th", { class: "num" }, "Applied"))),
          h("tbody", {}, nodes.map((n) => h("tr", { dataset: { node: n.id ?? "" } },
            h("td", {}, h("span", { class: "role-dot " + nodeRole(n) }), n.id === null || n.id === undefined ? "–" : `node ${n.id}`),
            h("td", { class: "mono" }, n.api_addr || ""),
            h("td", {}, n.reachable === false
              ? [h("span", { class: "badge failed" }, "unreachable"), n.error ? h("div", { class: "sub-line" }, n.error) : null]
              : nodeRole(n)),
            h("td", { class: "num" }, String(n.term ?? "")),
            h("td", { class: "num hide-sm" }, String(n.last_log_index ?? "")),
            h("td", { class: "num" }, String(n.applied ?? ""))))))
        : emptyState("No tracker answered", "Check that the cluster is up: `cluster status`.")));
    setTimeout(load, 3000);
  };
  load();
}

/** A node's Raft role in lower case ("leader", "follower", "candidate", "learner"). */
function nodeRole(n) {
  return n.reachable === false ? "down" : String(n.role || "").toLowerCase();
}

// ---------------------------------------------------------------- start

window.addEventListener("hashchange", () => render());
render();
