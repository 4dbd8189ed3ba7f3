/* What the launch page says when a launch fails: a plain-language reason, the last lines of the
   log, and what to try, for each kind of failure the /build stream reports. */
(function () {
  "use strict";
  var byId = function (id) { return document.getElementById(id); };
  var SPOT = /(^|:\s*)spot-interruption/;

  /* { title, reason, tips, action } for a failed event. */
  function explain(code, message) {
    if (SPOT.test(message)) {
      return { title: "The cloud took the server back", action: "Relaunch",
        reason: "This session ran on spare (Spot) capacity, which the cloud provider reclaimed. " +
          "Nothing is wrong with the repository.",
        tips: ["Relaunch: a new session usually starts within a minute."] };
    }
    var forEvent = new URLSearchParams(window.location.search).get("event") &&
      explainEvent(code, message);
    if (forEvent) { return forEvent; }
    if (code === 429 && /rate limit/i.test(message)) {
      return { title: "Too many launches from your network", action: "Try again",
        reason: "This binder limits how many launches one network address may start in a while.",
        tips: ["Wait the time the details below mention, then try again.",
               "On a shared network (a class, a conference), ask the organisers for an event link."] };
    }
    if (code === 429) {
      return { title: "This binder is full right now", action: "Try again",
        reason: "As many sessions are running as this binder allows, in total or for this repository.",
        tips: ["Try again in a few minutes, when other sessions have ended."] };
    }
    if (code === 403 && /build token/i.test(message)) {
      return { title: "This launch page has expired", action: "Reload and launch",
        reason: "The page's permission to start a launch is only valid for a few minutes.",
        tips: ["Reload the page to start the launch."] };
    }
    if (code === 403) {
      return { title: "This repository cannot be launched here", action: "",
        reason: "The operator of this binder has disabled launches of this repository.",
        tips: ["Contact the operator of this binder if you think this is a mistake.",
               "Run it on your own machine with skybinder, or on another Binder."] };
    }
    if (code === 404) {
      return { title: "Repository or ref not found", action: "Try again",
        reason: "The repository, or the branch, tag or commit the link names, could not be found.",
        tips: ["Check the spelling of the repository and of the ref in the link.",
               "Only public repositories can be launched: check that it is public.",
               "A branch may have been renamed (master to main): try HEAD as the ref."] };
    }
    if (code === 400) {
      return { title: "The launch link is not valid", action: "",
        reason: "The link does not name a repository in a form this binder understands.",
        tips: ["Make a new link with the form on the home page."] };
    }
    if (/build of this repository failed/i.test(message)) {
      return { title: "The environment could not be built", action: "Try again",
        reason: "Installing what the repository asks for failed. The log shows where.",
        tips: ["Read the last lines of the log: the first error is usually the cause.",
               "Check requirements.txt (or the other environment files) for typos and for " +
                 "versions that do not exist or do not fit together.",
               "Test the repository on your machine with `skybinder launch <path>`, fix it, " +
                 "push, and launch again."] };
    }
    if (code === 0) {
      return { title: "We lost the connection to the binder", action: "Try again",
        reason: "Your launch may still be running, but this page can no longer follow it.",
        tips: ["Check your network connection, then try again."] };
    }
    return { title: "The server could not be started", action: "Try again",
      reason: "Something went wrong while starting your session.",
      tips: ["Try again: a second launch often works.",
             "If it keeps failing, tell the operator of this binder and include the details."] };
  }

  /* An attendee's launch into an event (from /e/<slug>): the event's own refusals, which the
     binder-wide explanations below would misread (a wrong code is no disabled repository). */
  function explainEvent(code, message) {
    if (/rate limit/i.test(message)) { return null; }  // guesses at a code are rate limited
    if (code === 403 && /access code/i.test(message)) {
      return { title: "The access code was not accepted", action: "",
        reason: "This workshop needs the access code its organisers gave out.",
        tips: ["Go back to the workshop's page and enter the code again.",
               "Ask the organisers for the code if you do not have it."] };
    }
    if (code === 403) {
      return { title: "This workshop is not open", action: "",
        reason: "Sessions start only while the workshop is open.",
        tips: ["The details below say when it opens, or that it has ended."] };
    }
    if (code === 429 && /budget limit/i.test(message)) {
      return { title: "This workshop is at its budget limit", action: "Try again",
        reason: "The sessions running now hold what is left of the workshop's budget.",
        tips: ["Try again in a few minutes, when someone's session has ended."] };
    }
    if (code === 429 && /budget/i.test(message)) {
      return { title: "This workshop cannot start more sessions", action: "",
        reason: "The workshop has used the budget it was given for servers.",
        tips: ["Tell the organisers."] };
    }
    if (code === 429) {
      return { title: "This workshop is full right now", action: "Try again",
        reason: "Every seat of the workshop is taken.",
        tips: ["Try again in a few minutes, when someone's session has ended."] };
    }
    if (code === 404 && /event/i.test(message)) {
      return { title: "There is no such workshop", action: "",
        reason: "The workshop this link names does not exist on this binder.",
        tips: ["Check the link with the organisers."] };
    }
    return null;
  }

  function fill(data, log) {
    var code = Number(data.status_code || 0);
    var message = String(data.message || "").trim();
    var what = explain(code, message);
    byId("failure-heading").textContent = what.title;
    byId("failure-reason").textContent = what.reason;
    byId("failure-details").textContent = message || "no details were given";
    var tail = log.tail(12);
    byId("failure-log-box").hidden = !tail.trim();
    byId("failure-log").textContent = tail;
    var tips = byId("failure-tips");
    tips.textContent = "";
    what.tips.forEach(function (tip) {
      var item = document.createElement("li");
      item.textContent = tip;
      tips.appendChild(item);
    });
    var relaunch = byId("relaunch");
    relaunch.hidden = !what.action;
    relaunch.textContent = what.action || "Launch again";
    document.body.dataset.failure = SPOT.test(message) ? "spot" : String(code);
  }

  /* A session that stopped may say why only in its record (a Spot interruption after the
     stream's message was written): ask for it, and update the box if it says more. */
  function checkRecord(data, log) {
    var id = window.SkybinderLaunch && window.SkybinderLaunch.state.sessionId;
    if (!id || SPOT.test(String(data.message || ""))) { return; }
    var prefix = window.location.pathname.slice(0, window.location.pathname.indexOf("/v2/"));
    fetch(prefix + "/api/sessions/" + encodeURIComponent(id)).then(function (reply) {
      return reply.ok ? reply.json() : null;
    }).then(function (record) {
      if (record && SPOT.test(String(record.reason || ""))) {
        fill({ status_code: data.status_code, message: String(record.reason) }, log);
      }
    }).catch(function () { /* the box already says what the stream said */ });
  }

  function show(data, finish, log) {
    finish("failed");
    byId("status").textContent = "The launch failed.";
    fill(data, log);
    var box = byId("failure");
    box.hidden = false;
    box.focus();
    checkRecord(data, log);
  }

  window.SkybinderFailure = { show: show, explain: explain };
})();
