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
