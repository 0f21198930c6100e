// Play the parts of a chain one after the other, as one video.
(function () {
  "use strict";
  var player = document.querySelector("[data-chain-player]");
  var parts = Array.prototype.slice.call(document.querySelectorAll("[data-chain-part]"));
  if (!player || parts.length < 2) { return; }
  var index = 0;

  function show(next, play) {
    index = next;
    parts.forEach(function (part, i) { part.classList.toggle("playing", i === index); });
    // Setting a source resets the player: only when it changes, so that the first
    // part (already in the page) keeps playing if it was started before this ran.
    if (player.getAttribute("src") !== parts[index].dataset.src) {
      player.poster = parts[index].dataset.poster;
      player.src = parts[index].dataset.src;
    }
    if (play) { player.play().catch(function () { /* the browser may want a click first */ }); }
  }

  player.addEventListener("ended", function () {
    if (index + 1 < parts.length) { show(index + 1, true); }
  });
  parts.forEach(function (part, i) {
    part.addEventListener("click", function (event) {
      if (event.target.tagName === "A") { return; }
      show(i, true);
    });
  });
  show(0, false);
  player.dataset.chainReady = "1";
})();
