// Live job status without reloading: poll a small JSON endpoint for the jobs on the
// page that are still running, and tick their elapsed time every second.
(function () {
  "use strict";
  var container = document.querySelector("[data-jobs]");
  if (!container) { return; }
  var statusUrl = container.dataset.statusUrl;
  var POLL_MS = 2000;

  function cards() { return Array.prototype.slice.call(document.querySelectorAll("[data-job]")); }

  function formatElapsed(seconds) {
    seconds = Math.max(0, Math.round(seconds));
    var minutes = Math.floor(seconds / 60);
    return (minutes ? minutes + "m " : "") + (seconds % 60) + "s";
  }

  // "usually ready in about N s", counted from the submit, from what such jobs take.
  function eta(card, now) {
    var expected = Number(card.dataset.expected);
    if (card.dataset.terminal || !expected) { return ""; }
    var submitted = Date.parse(card.dataset.submitted || "");
    if (isNaN(submitted)) {
      return (container.dataset.etaUnsent || "").replace("%s", formatElapsed(expected));
    }
    var running = (now - submitted) / 1000;
    var left = expected - running;
    // "Longer than usual" only when it is: past what nine in ten such jobs took. Between
    // the median and that, or with nothing learned yet, the elapsed time says enough.
    var late = Number(card.dataset.late);
    if (late && running > late) { return container.dataset.etaLate || ""; }
    if (left < 1) { return ""; }
    return (container.dataset.etaText || "").replace("%s", formatElapsed(left));
  }

  function tick() {
    var now = Date.now();
    cards().forEach(function (card) {
      var created = Date.parse(card.dataset.created);
      var finished = card.dataset.finished ? Date.parse(card.dataset.finished) : now;
      var el = card.querySelector("[data-elapsed]");
      if (el && !isNaN(created)) { el.textContent = formatElapsed((finished - created) / 1000); }
      var etaEl = card.querySelector("[data-eta]");
      if (etaEl) { etaEl.textContent = eta(card, now); }
    });
  }

  function paintSteps(card, status, step) {
    card.querySelectorAll("[data-step]").forEach(function (li) {
      var index = Number(li.dataset.step);
      li.classList.toggle("done", status !== "failed" && status !== "cancelled" && index < step);
      li.classList.toggle("current", index === step);
      li.classList.toggle("failed", (status === "failed" || status === "cancelled") && index === step);
    });
  }

  function stepOf(status) {
    return { queued: 0, submitting: 1, checking: 1, submitted: 1, generating: 2, downloading: 3, ready: 4 }[status];
  }

  function apply(job) {
    var card = document.querySelector('[data-job="' + job.id + '"]');
    if (!card) { return; }
    var wasReady = card.dataset.status === "ready";
    card.dataset.status = job.status;
    card.dataset.terminal = job.terminal ? "1" : "";
    if (job.finished_at) { card.dataset.finished = job.finished_at; }
    card.dataset.expected = job.expected_seconds || "";
    card.dataset.late = job.late_seconds || "";
    card.dataset.submitted = job.submitted_at || "";
    var upstream = card.querySelector("[data-upstream]");
    if (upstream) { upstream.textContent = job.upstream_note || ""; }
    var label = card.querySelector("[data-status-label]");
    label.textContent = job.status_label;
    label.className = "badge status-" + job.status;
    paintSteps(card, job.status, job.step >= 0 ? job.step : stepOf(card.dataset.status));
    var failure = card.querySelector("[data-failure]");
    if (failure) { failure.textContent = job.failure || ""; }
    if (job.terminal) {
      // "Job #N queued." has said what it had to say once the job is over.
      document.querySelectorAll(".message.job-" + job.id).forEach(function (el) { el.remove(); });
    }
    var cancel = card.querySelector("[data-cancel]");
    if (cancel) { cancel.hidden = !job.can_cancel; }
    // In the workspace an ended job's card comes back whole: the player and its actions.
    // Each card is its own request's source: htmx drops a request from an element that
    // already has one in flight, and takes the page's body when no source is given (three
    // takes ending in one poll then swapped one card of three).
    if (job.terminal && card.dataset.cardUrl && window.htmx) {
      var retry = function () { if (card.isConnected) { card.dataset.terminal = ""; } };
      window.htmx.ajax("GET", card.dataset.cardUrl, { source: card, target: card, swap: "outerHTML" })
        .then(retry, retry);  // not swapped (a dropped request, an error): the next poll asks again
      return;
    }
    if (job.status === "ready" && !wasReady && job.poster_url) {
      var slot = card.querySelector("[data-poster-slot]");
      if (slot) {
        var img = document.createElement("img");
        img.src = job.poster_url;
        img.alt = "";
        img.setAttribute("data-poster", "");
        slot.replaceWith(img);
      }
    }
  }

  // The bell in the top bar counts what the member has not read yet.
  function bell(unread) {
    var count = document.querySelector("[data-bell-count]");
    if (!count || typeof unread !== "number") { return; }
    count.textContent = String(unread);
    count.hidden = unread === 0;
  }

  function poll() {
    var active = cards().filter(function (card) { return !card.dataset.terminal; });
    // Nothing running: look again later (a submit in place adds cards without a reload).
    if (!active.length) { setTimeout(poll, POLL_MS); return; }
    var ids = active.map(function (card) { return card.dataset.job; }).join(",");
    fetch(statusUrl + "?ids=" + ids, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : { jobs: [] }; })
      .then(function (data) { data.jobs.forEach(apply); bell(data.unread); })
      .catch(function () { /* try again next round */ })
      .then(function () { setTimeout(poll, POLL_MS); });
  }

  function paintAll() {
    cards().forEach(function (card) { paintSteps(card, card.dataset.status, stepOf(card.dataset.status)); });
  }
  paintAll();
  document.addEventListener("htmx:load", paintAll);  // cards that joined the feed
  tick();
  setInterval(tick, 1000);
  setTimeout(poll, POLL_MS);
})();
