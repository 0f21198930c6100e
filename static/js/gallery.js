// The gallery: count the videos picked for a share link or a zip (a poster plays in
// place on click: studio.js).
(function () {
  "use strict";
  var count = document.querySelector("[data-selected-count]");
  var share = document.querySelector("[data-share-button]");
  var zip = document.querySelector("[data-zip-link]");
  var allVideos = zip ? zip.getAttribute("href") : "";
  function refresh() {
    var boxes = document.querySelectorAll("[data-pick]:checked");
    var picked = boxes.length;
    if (count) { count.textContent = String(picked); }
    if (share) { share.disabled = picked === 0; }
    if (zip) {
      // With a selection the zip holds the selected videos; without, what the filters show.
      var ids = Array.prototype.map.call(boxes, function (box) { return box.value; });
      zip.href = picked ? zip.closest("[data-downloads]").dataset.zipUrl + "?ids=" + ids.join(",") : allVideos;
      zip.textContent = picked ? zip.dataset.pickedLabel : zip.dataset.allLabel;
    }
  }
  document.addEventListener("change", function (event) {
    if (event.target.matches("[data-pick]")) { refresh(); }
  });
  refresh();
})();

// The filters fold away on a phone only: on a wide screen they are always open.
(function () {
  "use strict";
  var fold = document.querySelector("[data-filters-fold]");
  if (fold && window.matchMedia("(min-width: 701px)").matches) { fold.open = true; }
})();
