// Behaviour shared by every page: confirmations, select-on-focus, closing menus, copy
// buttons, tables that read as cards on phones.
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  });
  // Copy buttons: `data-copy="#field"` copies that field's value and says so in place.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) { return; }
    var source = document.querySelector(button.dataset.copy);
    if (!source) { return; }
    var done = function () {
      var label = button.textContent;
      button.textContent = button.dataset.copied || label;
      button.setAttribute("aria-live", "polite");
      setTimeout(function () { button.textContent = label; }, 2000);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(source.value).then(done, function () {
        source.select();
      });
    } else {  // plain http away from localhost: select it, and copy the old way
      source.select();
      if (document.execCommand("copy")) { done(); }
    }
  });
  // A poster with `data-play` (the gallery's tiles, the workspace's feed) becomes its
  // video, playing, when clicked: no video is fetched before someone asks for it.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-play]");
    if (!button) { return; }
    var video = document.createElement("video");
    video.src = button.dataset.play;
    video.controls = true;
    video.autoplay = true;
    video.playsInline = true;
    video.preload = "auto";
    video.className = button.dataset.playClass || "tile-video";
    video.setAttribute("data-testid", button.dataset.playTestid || "tile-video");
    button.replaceWith(video);
    video.focus();
  });
  // On a phone a table's rows are cards: each cell carries its column's name.
  document.querySelectorAll("table").forEach(function (table) {
    var names = Array.prototype.map.call(table.querySelectorAll("thead th"), function (th) {
      return th.textContent.trim();
    });
    if (!names.length) { return; }
    table.querySelectorAll("tbody tr").forEach(function (row) {
      Array.prototype.forEach.call(row.children, function (cell, index) {
        if (!cell.hasAttribute("data-label")) { cell.setAttribute("data-label", names[index] || ""); }
      });
    });
  });
  document.addEventListener("focusin", function (event) {
    if (event.target.matches("[data-select-on-focus]")) {
      event.target.select();
    }
  });
  document.addEventListener("click", function (event) {
    document.querySelectorAll("details.menu[open]").forEach(function (menu) {
      if (!menu.contains(event.target)) {
        menu.removeAttribute("open");
      }
    });
  });
})();
