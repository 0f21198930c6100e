// A page that waits for work on the server (a chain being joined into one MP4) asks
// again every few seconds: the same address answers with the file once it is ready.
// A script, not <meta http-equiv="refresh">, which screen readers announce as a page
// that moves on by itself (axe: meta-refresh).
(function () {
  "use strict";
  var waiting = document.querySelector("[data-reload-after]");
  if (!waiting) { return; }
  setTimeout(function () { window.location.reload(); }, Number(waiting.dataset.reloadAfter) * 1000);
})();
