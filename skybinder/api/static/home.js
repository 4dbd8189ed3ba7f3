/* The home page: turns provider + repository + ref + path into a launch link and badge code.
   Everything the reader types stays in the browser; it is only ever set as text or values. */
(function () {
  "use strict";
  var root = document.body.dataset.root || "";
  var providers = [];
  var byId = function (id) { return document.getElementById(id); };
  var form = byId("build-form");
  var select = byId("provider");

  function current() { return providers[select.selectedIndex] || null; }

  function base() { return window.location.origin + root + "/"; }

  /* (repo, ref) with a pasted web address reduced to what the provider expects. */
  function detect(p, repo, ref) {
    var rule = p.detect && p.detect.regex;
    if (!rule) { return [repo, ref]; }
    var match = null;
    try { match = new RegExp(rule).exec(repo); } catch (err) { match = null; }
    if (!match || !match.groups || !match.groups.repo) { return [repo, ref]; }
    return [match.groups.repo, ref || match.groups.ref || ""];
  }

  function encodeRepo(p, repo) {
    if (p.repo && p.repo.urlEncode) { return encodeURIComponent(repo); }
    return repo.replace(/^\/+|\/+$/g, "").split("/").map(encodeURIComponent).join("/");
  }

  /* The spec ("user/repo/ref"), or an error message for the reader. */
  function spec(p) {
    var raw = byId("repo").value.trim();
    if (!raw) { return { error: "" }; }
    var found = detect(p, raw, byId("ref").value.trim());
    var out = encodeRepo(p, found[0]);
    if (p.ref && p.ref.enabled) {
      var ref = found[1] || (p.ref["default"] || "HEAD");
      out += "/" + encodeURIComponent(ref).replace(/%2F/g, "/");
    }
    var rule = p.spec && p.spec.validateRegex;
    if (rule) {
      var ok = true;
      try { ok = new RegExp("^(?:" + rule + ")$").test(out); } catch (err) { ok = true; }
      if (!ok) {
        return { error: "That does not look like a " + (p.repo && p.repo.label || "repository") + "." };
      }
    }
    return { spec: out };
  }

  function launchUrl(p, s) {
    var url = new URL("v2/" + p.id + "/" + s, base());
    var path = byId("path").value.trim();
    if (path) { url.searchParams.set(byId("path-type").value === "url" ? "urlpath" : "labpath", path); }
    return url.href;
  }

  function escapeHtml(text) {
    return text.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }

  function update() {
    var p = current();
    var result = p ? spec(p) : { error: "" };
    byId("form-error").textContent = result.error || "";
    var url = result.spec ? launchUrl(p, result.spec) : "";
    var badge = base() + "badge_logo.svg";
    byId("out-url").value = url;
    byId("out-markdown").value = url ? "[![Binder](" + badge + ")](" + url + ")" : "";
    byId("out-rst").value = url ? ".. image:: " + badge + "\n   :target: " + url : "";
    byId("out-html").value = url
      ? '<a href="' + escapeHtml(url) + '"><img src="' + escapeHtml(badge) + '" alt="Binder"></a>'
      : "";
    return url;
  }

  function describe() {
    var p = current();
    if (!p) { return; }
    var repo = p.repo || {};
    byId("repo-label").textContent = repo.label || "Repository";
    byId("repo").placeholder = (repo.placeholder || "").replace(/^example:\s*/i, "");
    byId("repo-help").textContent = repo.placeholder || "\u00a0";
    var refOn = !!(p.ref && p.ref.enabled);
    byId("ref-field").hidden = !refOn;
    byId("ref").placeholder = (p.ref && p.ref["default"]) || "HEAD";
  }

  function copy(button) {
    var field = byId(button.dataset.copy);
    var text = field.value;
    if (!text) { return; }
    var done = function () {
      button.textContent = "Copied";
      byId("copy-status").textContent = "Copied to the clipboard.";
      setTimeout(function () { button.textContent = "Copy"; }, 2000);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { field.select(); });
    } else {
      // Pages served over plain http on a network address have no Clipboard API.
      field.select();
      if (document.execCommand("copy")) { done(); }
    }
  }

  function load() {
    fetch(root + "/api/repoproviders").then(function (reply) {
      if (!reply.ok) { throw new Error("HTTP " + reply.status); }
      return reply.json();
    }).then(function (list) {
      providers = list;
      select.textContent = "";
      list.forEach(function (p) {
        var option = document.createElement("option");
        option.value = p.id;
        option.textContent = p.displayName || p.id;
        select.appendChild(option);
      });
      describe();
      update();
      document.body.dataset.ready = "yes";
    }).catch(function () {
      byId("form-error").textContent =
        "Could not load the list of repository hosts. Reload the page to try again.";
    });
  }

  select.addEventListener("change", function () { describe(); update(); });
  form.addEventListener("input", update);
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var url = update();
    if (url) {
      window.location.assign(url);
    } else {
      if (!byId("form-error").textContent) {
        byId("form-error").textContent = "Fill in a repository first.";
      }
      byId("repo").focus();
    }
  });
  document.querySelectorAll("button.copy").forEach(function (button) {
    button.addEventListener("click", function () { copy(button); });
  });
  load();
})();
