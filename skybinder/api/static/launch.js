/* The launch page: follows /build, shows the phases, the log and the elapsed time, opens the
   session when it is ready, explains a failure, and reattaches to the same launch when the
   stream drops instead of starting a second one. */
(function () {
  "use strict";
  var byId = function (id) { return document.getElementById(id); };
  var path = window.location.pathname;
  var at = path.indexOf("/v2/");
  var prefix = path.slice(0, at);
  var spec = path.slice(at + 4).replace(/\/+$/, "");
  var params = new URLSearchParams(window.location.search);
  var tokenTag = document.querySelector('meta[name="skybinder-build-token"]');
  var buildToken = tokenTag ? tokenTag.content : "";
  var saveKey = "skybinder-launch:" + path + window.location.search;
  var STEPS = ["prepare", "build", "launch", "ready"];
  var STEP_OF = { waiting: 0, fetching: 0, building: 1, pushing: 1, built: 2, launching: 2, ready: 3 };
  var SAYS = {
    waiting: "Waiting for the build to start…",
    fetching: "Fetching the repository…",
    building: "Building the environment…",
    pushing: "Saving the environment…",
    built: "The environment is ready. Starting the server…",
    launching: "Starting the server…"
  };
  var BAR = [8, 40, 85, 100];
  var MAX_RETRIES = 8;
  var log = new window.SkybinderLog.LogView(byId("log"), byId("follow"));
  var started = Date.now();
  var state = { source: null, sessionId: "", resume: "", step: -1, stepStarted: [], retries: 0,
                done: "", reattached: 0, replaying: false, timer: null };

  function seconds(ms) {
    var s = Math.max(0, Math.round(ms / 1000));
    return s < 60 ? s + " s" : Math.floor(s / 60) + " min " + ("0" + (s % 60)).slice(-2) + " s";
  }

  function tick() {
    byId("elapsed-time").textContent = seconds(Date.now() - started);
    if (state.step >= 0 && state.step < 3 && !state.done) {
      stepTime(state.step, Date.now() - state.stepStarted[state.step]);
    }
  }

  function stepTime(i, ms) {
    document.querySelectorAll("#steps li")[i].querySelector(".time").textContent = seconds(ms);
  }

  function say(text) { byId("status").textContent = text; }

  function favicon(name) { byId("favicon").href = prefix + "/favicon" + (name ? "_" + name : "") + ".svg"; }

  /* Move the progress indicator to step `i`; earlier steps are done (with their times). */
  function toStep(i, failed) {
    if (i < state.step) { return; }
    var now = Date.now();
    var items = document.querySelectorAll("#steps li");
    for (var k = 0; k < items.length; k++) {
      if (k < i && items[k].dataset.state !== "done") {
        if (state.stepStarted[k] !== undefined) { stepTime(k, now - state.stepStarted[k]); }
        else { items[k].querySelector(".time").textContent = k === 1 ? "not needed" : ""; }
        items[k].dataset.state = "done";
      }
      items[k].removeAttribute("aria-current");
    }
    if (state.stepStarted[i] === undefined) { state.stepStarted[i] = now; }
    items[i].dataset.state = failed ? "failed" : (i === 3 ? "done" : "active");
    items[i].setAttribute("aria-current", "step");
    byId("bar-fill").style.width = BAR[i] + "%";
    state.step = i;
  }

  function remember() {
    try {
      window.sessionStorage.setItem(saveKey, JSON.stringify(
        { id: state.sessionId, resume: state.resume, at: Date.now() }));
    } catch (err) { /* storage may be off; reattaching within this page still works */ }
  }

  function forget() { try { window.sessionStorage.removeItem(saveKey); } catch (err) { /* off */ } }

  function saved() {
    try {
      var found = JSON.parse(window.sessionStorage.getItem(saveKey) || "null");
      return found && found.id && found.resume && Date.now() - found.at < 3600 * 1000 ? found : null;
    } catch (err) { return null; }
  }

  function buildUrl() {
    var url = prefix + "/build/" + spec;
    // An attendee's launch into an event (from /e/<slug>): the event admits it, not a token.
    if (params.get("event")) {
      url += "?event=" + encodeURIComponent(params.get("event"));
      return params.get("code") ? url + "&code=" + encodeURIComponent(params.get("code")) : url;
    }
    return buildToken ? url + "?build_token=" + encodeURIComponent(buildToken) : url;
  }

  function eventsUrl() {
    return prefix + "/api/sessions/" + encodeURIComponent(state.sessionId) +
      "/events?resume=" + encodeURIComponent(state.resume);
  }

  function open(url) {
    var source = new EventSource(url);
    state.source = source;
    source.onmessage = function (message) {
      if (source !== state.source) { return; }
      var data;
      try { data = JSON.parse(message.data); } catch (err) { return; }
      state.retries = 0;
      handle(data);
    };
    source.onerror = function () { if (source === state.source) { dropped(); } };
  }

  function handle(data) {
    var phase = String(data.phase || "").toLowerCase();
    if (state.replaying) {  // a resumed stream replays the log from its start
      state.replaying = false;
      if (phase !== "failed") {
        log.clear();
        log.note("Reconnected to your launch; the log so far follows.");
      }
    }
    if (data.session_id) { state.sessionId = String(data.session_id); }
    if (data.resume) { state.resume = String(data.resume); remember(); }
    if (phase === "ready") { return ready(data); }
    if (phase === "failed") { return window.SkybinderFailure.show(data, finish, log); }
    if (data.message) { log.append(String(data.message)); }
    if (STEP_OF[phase] !== undefined) {
      toStep(STEP_OF[phase]);
      say(SAYS[phase]);
      favicon("building");
    }
  }

  /* The stream dropped before `ready` or `failed`: the launch goes on without us, so follow it
     again; only a launch that never told us its id is requested anew. */
  function dropped() {
    if (state.done) { return; }
    state.source.close();
    state.source = null;
    state.retries += 1;
    if (state.retries > MAX_RETRIES) {
      return window.SkybinderFailure.show({ phase: "failed", status_code: 0,
        message: "The connection to the binder was lost and could not be restored." }, finish, log);
    }
    say("The connection dropped. Reconnecting to your launch…");
    var delay = Math.min(500 * Math.pow(2, state.retries - 1), 10000);
    window.setTimeout(function () {
      if (state.done) { return; }
      if (state.resume) { reattach(); } else { open(buildUrl()); }
    }, delay);
  }

  function reattach() {
    state.reattached += 1;
    document.body.dataset.reattached = String(state.reattached);
    byId("notice").textContent = "The connection dropped; this page reconnected to the same launch.";
    state.replaying = true;
    open(eventsUrl());
  }

  /* A file's path in the session's URL: each segment encoded whole, so ? and # in a name
     stay part of it instead of starting the query or the fragment. */
  function encodePath(path) {
    return path.replace(/^\/+|\/$/g, "").split("/").map(encodeURIComponent).join("/");
  }

  /* Where to go once the server is ready: BinderHub's precedence, labpath then filepath then
     urlpath, relative to the session's URL. */
  function target(data) {
    var urlPath = params.get("urlpath") || "";
    if (params.has("labpath")) {
      urlPath = "doc/tree/" + encodePath(params.get("labpath"));
    } else if (params.has("filepath")) {
      urlPath = "tree/" + encodePath(params.get("filepath"));
    }
    var base = new URL(String(data.url), window.location.href);
    var url = new URL(urlPath.replace(/^\/+/, ""), base);
    // The token must only ever reach the session's own server: a path that leads to another
    // site, or out of the session's prefix, opens the session's start page instead.
    if (url.origin !== base.origin || url.pathname.indexOf(base.pathname) !== 0) { url = base; }
    url.searchParams.append("token", String(data.token));
    return url.href;
  }

  function finish(kind) {
    state.done = kind;
    if (state.source) { state.source.close(); state.source = null; }
    forget();
    window.clearInterval(state.timer);
    tick();
    document.body.dataset.outcome = kind;
    byId("heading-verb").textContent = kind === "ready" ? "Opening" : "Could not start";
    favicon(kind === "ready" ? "success" : "fail");
    byId("bar").dataset.state = kind;
    if (kind === "failed") { toStep(Math.max(state.step, 0), true); }
  }

  function ready(data) {
    toStep(3);
    finish("ready");
    say("Ready! Opening your session…");
    var url = target(data);
    byId("log").dataset.target = url.replace(/([?&]token=)[^&]*/, "$1…");
    window.location.assign(url);
  }

  byId("relaunch").addEventListener("click", function () {
    forget();
    window.location.reload();
  });

  function start() {
    state.timer = window.setInterval(tick, 1000);
    var found = saved();
    if (found) {  // this tab already started this launch: a reload must not start another
      state.sessionId = found.id;
      state.resume = found.resume;
      reattach();
    } else {
      open(buildUrl());
    }
  }

  // A launch into an event names the event, and a failure leads back to its page.
  function showEvent(slug) {
    var back = document.querySelector("#failure .actions a");
    if (back) {
      back.href = prefix + "/e/" + encodeURIComponent(slug);
      back.textContent = "Back to the workshop's page";
    }
    fetch(prefix + "/api/events/" + encodeURIComponent(slug), { cache: "no-store" })
      .then(function (reply) { return reply.ok ? reply.json() : null; })
      .then(function (event) {
        if (!event || !event.title) { return; }
        var repo = document.querySelector("h1 .repo");
        if (repo) { repo.textContent = event.title; }
        document.title = event.title + " · skybinder";
      })
      .catch(function () { /* the repository's name stays: the launch goes on all the same */ });
  }

  window.SkybinderLaunch = { target: target, state: state, log: log };
  if (params.get("event")) { showEvent(params.get("event")); }
  start();
})();
