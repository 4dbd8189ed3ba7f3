/* An event's page (/e/<slug>): shows its time window in the viewer's own time zone, keeps the
   seats left up to date, and reloads when the event opens or ends so the launch form appears
   or goes away. Launching itself is the /v2 launch page, reached by the page's form. */
(function () {
  "use strict";
  var byId = function (id) { return document.getElementById(id); };
  var body = document.body;
  var REFRESH_MS = 20000;

  function local(iso) {
    var when = new Date(iso);
    if (isNaN(when.getTime())) { return ""; }
    return when.toLocaleString(undefined, {
      weekday: "short", year: "numeric", month: "short", day: "numeric",
      hour: "2-digit", minute: "2-digit"
    });
  }

  function showLocalWindow() {
    var starts = byId("starts-at").getAttribute("datetime");
    var ends = byId("ends-at").getAttribute("datetime");
    var zone = "";
    try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (err) { zone = ""; }
    var from = local(starts);
    var to = local(ends);
    if (from && to) {
      byId("window-local").textContent =
        "Your time" + (zone ? " (" + zone + ")" : "") + ": " + from + " to " + to;
    }
  }

  function refresh() {
    var url = (body.dataset.root || "") + "/api/events/" + encodeURIComponent(body.dataset.slug);
    window.fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (reply) { return reply.ok ? reply.json() : null; })
      .then(function (event) {
        if (!event) { return; }
        byId("seats-left").textContent = String(event.seats_left);
        // The form is drawn by the server for the event's phase: a new phase needs a new page.
        if (event.phase !== body.dataset.phase) { window.location.reload(); }
      })
      .catch(function () { /* offline for a moment: the next refresh tries again */ });
  }

  showLocalWindow();
  if (body.dataset.phase === "scheduled" || body.dataset.phase === "open") {
    window.setInterval(refresh, REFRESH_MS);
  }
})();
