// The key form: the access key ID (AK) belongs to Volcengine keys only; Ark and gateway
// keys are one Bearer secret, so the AK field is hidden for them.
(function () {
  "use strict";
  var form = document.querySelector("[data-key-form]");
  if (!form) { return; }
  var ak = form.elements.namedItem("access_key");
  if (!ak) { return; }
  var box = ak.closest(".field");
  function kind() {
    var chosen = form.querySelector('input[name="kind"]:checked');
    return chosen ? chosen.value : (form.dataset.kind || "");
  }
  function apply() {
    var volcengine = kind() === "volcengine";
    box.hidden = !volcengine;
    ak.disabled = !volcengine;
  }
  form.addEventListener("change", function (event) {
    if (event.target.name === "kind") { apply(); }
  });
  apply();
})();
