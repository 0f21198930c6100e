// The gallery: play a video in place when its poster is clicked, and count the
// videos picked for a share link.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-play]");
    if (!button) { return; }
    var video = document.createElement("video");
    video.src = button.dataset.play;
    video.controls = true;
    video.autoplay = true;
    video.playsInline = true;
    video.preload = "auto";
    video.className = "tile-video";
    video.setAttribute("data-testid", "tile-video");
    button.replaceWith(video);
  });

  var count = document.querySelector("[data-selected-count]");
  var share = document.querySelector("[data-share-button]");
  function refresh() {
    var picked = document.querySelectorAll("[data-pick]:checked").length;
    if (count) { count.textContent = String(picked); }
    if (share) { share.disabled = picked === 0; }
  }
  document.addEventListener("change", function (event) {
    if (event.target.matches("[data-pick]")) { refresh(); }
  });
  refresh();
})();
