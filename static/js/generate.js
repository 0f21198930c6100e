// The generate form: show the fields the chosen mode uses, count the prompt, preview
// frames and their aspect ratio, and keep the cost estimate and quota up to date.
//
// The form posts in place (htmx, views/fragments.py): the new jobs join the feed and the
// form keeps what it holds; a refused form comes back with its reasons, and starts here
// again.
(function () {
  "use strict";
  function start(form) {
    var table = document.getElementById("mode-table");
    if (!form || !table) { return; }
    var modes = JSON.parse(table.textContent);
    // The limits and messages the server applies after Generate (views/studio._form_rules).
    var rules = JSON.parse(document.getElementById("form-rules").textContent);
    var field = function (name) { return form.elements.namedItem(name); };
    var modeSelect = field("mode");
    var prompt = field("prompt");
    var duration = field("duration");
    var ratio = field("aspect_ratio");
    var resolution = field("resolution");
    var audio = field("generate_audio");
    var draft = field("draft");
    var counter = form.querySelector("[data-counter]");
    var submit = form.querySelector("[data-submit]");
    var ratioWarning = form.querySelector("[data-ratio-warning]");
    var RATIOS = { "16:9": 16 / 9, "4:3": 4 / 3, "1:1": 1, "3:4": 3 / 4, "9:16": 9 / 16, "21:9": 21 / 9, "9:21": 9 / 21 };
    var frameRatios = { first: null, last: null };
    var frameSizes = { first: null, last: null };
    var imageRatioWarning = form.querySelector("[data-image-ratio-warning]");
    var estimateTimer = null;
    var lastEstimate = null;
    var fileProblems = { first: null, last: null };
    var blockedBox = form.querySelector("[data-blocked]");
    var limitsBox = form.querySelector("[data-image-limits]");

    // Python's "%(name)s" placeholders, as the server's messages have them.
    function fill(text, values) {
      return text.replace(/%\((\w+)\)s/g, function (whole, key) {
        return key in values ? String(values[key]) : whole;
      });
    }

    // The IPv4 networks no outside service can reach (as the server's is_public says).
    var PRIVATE_V4 = ["0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
      "172.16.0.0/12", "192.168.0.0/16"];
    function ipv4Number(text) {
      return text.split(".").reduce(function (sum, part) { return sum * 256 + Number(part); }, 0);
    }
    function isPrivateHost(host) {
      host = host.replace(/^\[|\]$/g, "").toLowerCase();
      if (host === "localhost" || /\.localhost$/.test(host)) { return true; }
      if (host.indexOf(":") >= 0) {  // IPv6: loopback, unique local, link-local
        return host === "::1" || host === "::" || /^f[cd]/.test(host) || /^fe[89ab]/.test(host);
      }
      var parts = host.split(".");
      if (parts.length !== 4 || !parts.every(function (p) { return /^\d{1,3}$/.test(p); })) { return false; }
      var value = ipv4Number(host);
      return PRIVATE_V4.some(function (network) {
        var base = ipv4Number(network.split("/")[0]);
        var size = Math.pow(2, 32 - Number(network.split("/")[1]));
        return value >= base && value < base + size;
      });
    }

    function urlProblem(name) {
      var input = field(name);
      var text = input ? input.value.trim() : "";
      if (!text) { return null; }
      if (rules.trusted.some(function (prefix) { return text.indexOf(prefix) === 0; })) { return null; }
      var url;
      try { url = new URL(text); } catch (error) { return rules.messages.url_scheme; }
      if (url.protocol !== "http:" && url.protocol !== "https:") { return rules.messages.url_scheme; }
      return isPrivateHost(url.hostname) ? rules.messages.private_url : null;
    }

    function hasFrame(frame) {
      var file = field(frame + "_image");
      var url = field(frame + "_image_url");
      var kept = ["reuse_images_from", "extend_from", "held_frames"].some(function (name) {
        return field(name) && field(name).value;
      });
      return kept || (file && file.files && file.files.length > 0) || (url && url.value.trim() !== "");
    }

    // Everything the server would refuse that the page can know now, in its words.
    // Each with `missing`: something not filled in yet (said calmly), not something wrong.
    function problems() {
      var m = mode();
      var found = [];
      if (!m) { return found; }
      var length = Array.from(prompt.value.trim()).length;
      var limit = Math.min(m.prompt_limit, rules.prompt_max);
      if (length > limit) {
        found.push({ text: fill(rules.messages.prompt_too_long, { length: length, mode: m.label, limit: limit }) });
      }
      if (m.prompt_required && length === 0) {
        found.push({ text: fill(rules.messages.prompt_required, { mode: m.label }), missing: true });
      }
      if (m.min_images > 0 && !hasFrame("first")) {
        found.push({
          text: fill(rules.messages.images_missing, { mode: m.label, count: m.min_images }),
          missing: true
        });
      }
      ["first", "last"].forEach(function (frame) {
        if (frame === "last" && m.max_images < 2) { return; }
        if (m.max_images > 0 && fileProblems[frame]) { found.push({ text: fileProblems[frame] }); }
        var problem = m.max_images > 0 ? urlProblem(frame + "_image_url") : null;
        if (problem) { found.push({ text: problem }); }
      });
      return found;
    }

    function mode() { return modes[modeSelect.value] || null; }

    function show(name, visible) {
      form.querySelectorAll('[data-show="' + name + '"]').forEach(function (el) { el.hidden = !visible; });
    }

    function setOptions(select, values, labelFor) {
      var current = select.value;
      select.innerHTML = "";
      values.forEach(function (value) {
        var option = document.createElement("option");
        option.value = String(value);
        option.textContent = labelFor(value);
        select.appendChild(option);
      });
      if (values.map(String).indexOf(current) >= 0) { select.value = current; }
    }

    function nearestRatio(width, height, choices) {
      var actual = Math.log(width / height);
      var best = null;
      choices.forEach(function (name) {
        var distance = Math.abs(Math.log(RATIOS[name]) - actual);
        if (best === null || distance < best.distance) { best = { name: name, distance: distance }; }
      });
      return best ? best.name : null;
    }

    function ratioChoices(m) {
      return m.ratio_source === "image_sent" ? m.ratios.filter(function (r) { return RATIOS[r]; })
        : ["16:9", "4:3", "1:1", "3:4", "9:16", "21:9"];
    }

    function updateCounter() {
      var m = mode();
      if (!m || !counter) { return; }
      var length = Array.from(prompt.value).length;
      counter.textContent = length + " / " + m.prompt_limit;
      counter.classList.toggle("over", length > m.prompt_limit);
      refreshSubmit();
    }

    function checkFrames() {
      var m = mode();
      var mismatch = m && m.min_images === 2 && frameRatios.first && frameRatios.last &&
        frameRatios.first !== frameRatios.last;
      ratioWarning.hidden = !mismatch;
      // The upstream's limits on an image's shape (Ark: width/height within 0.4–2.5).
      var outside = null;
      ["first", "last"].forEach(function (frame) {
        var size = frameSizes[frame];
        if (!m || !size || outside || (frame === "last" && m.max_images < 2)) { return; }
        var shape = size[0] / size[1];
        if (shape < m.image_ratio[0] || shape > m.image_ratio[1]) { outside = size; }
      });
      imageRatioWarning.hidden = !outside;
      if (outside) {
        var round = function (n) { return String(Math.round(n * 100) / 100); };
        imageRatioWarning.textContent = imageRatioWarning.dataset.text
          .replace("%(size)s", outside[0] + "×" + outside[1]).replace("%(mode)s", m.label)
          .replace("%(low)s", round(m.image_ratio[0])).replace("%(high)s", round(m.image_ratio[1]));
      }
      var detected = form.querySelector("[data-detected]");
      if (detected && frameRatios.first) { detected.textContent = frameRatios.first; }
      refreshSubmit();
    }

    function refreshSubmit() {
      var found = problems();
      var blocked = found.length > 0 || !ratioWarning.hidden || !imageRatioWarning.hidden ||
        (lastEstimate && lastEstimate.fits === false);
      submit.disabled = Boolean(blocked);
      blockedBox.hidden = found.length === 0;
      // Only things still to fill in: a quiet note. Anything the server would refuse: a warning.
      var calm = found.every(function (problem) { return problem.missing; });
      blockedBox.classList.toggle("warning", !calm);
      blockedBox.classList.toggle("info", calm);
      blockedBox.querySelector("[data-blocked-title]").textContent =
        calm ? rules.messages.to_generate : rules.messages.blocked;
      var list = blockedBox.querySelector("ul");
      list.innerHTML = "";
      found.forEach(function (problem) {
        var item = document.createElement("li");
        item.textContent = problem.text;
        list.appendChild(item);
      });
    }

    function applyDraft() {
      var m = mode();
      var drafting = Boolean(m && m.draft && draft.checked);
      // A draft is always made at one resolution: show it, and let nothing else be chosen.
      if (drafting && resolution.querySelector('option[value="' + rules.draft_resolution + '"]')) {
        resolution.value = rules.draft_resolution;
      }
      Array.from(resolution.options).forEach(function (option) {
        option.disabled = drafting && option.value !== rules.draft_resolution;
      });
    }

    function showLimits() {
      var m = mode();
      if (!limitsBox || !m) { return; }
      var round = function (n) { return String(Math.round(n * 100) / 100); };
      limitsBox.textContent = fill(rules.messages.limits, {
        limit: Math.round(rules.max_upload_bytes / 1048576),
        low: round(m.image_ratio[0]),
        high: round(m.image_ratio[1])
      });
    }

    function applyMode() {
      var m = mode();
      if (!m) { return; }
      var labels = {};
      m.durations.forEach(function (pair) { labels[pair[0]] = pair[1]; });
      setOptions(duration, m.durations.map(function (pair) { return pair[0]; }), function (s) { return labels[s]; });
      var ratioOptions = m.ratios.slice();
      setOptions(ratio, ratioOptions, function (r) { return r === "adaptive" ? ratio.dataset.adaptiveLabel || r : r; });
      var followsImage = m.ratio_source === "image";
      show("ratio", !followsImage);
      show("detected", followsImage);
      show("resolution", m.resolutions.length > 0);
      if (m.resolutions.length && m.resolutions.indexOf(resolution.value) < 0) {
        resolution.value = m.default_resolution || "";
      }
      show("seed", m.seed);
      show("ark", m.ark);
      show("audio", m.audio);
      show("draft", m.draft);
      show("references", m.references > 0);
      show("camera", m.camera);
      show("images", m.max_images > 0);
      show("tail", m.max_images >= 2);
      form.querySelector("[data-mode-note]").textContent = m.note;

      applyDraft();
      showLimits();
      updateCounter();
      checkFrames();
      scheduleEstimate();
    }

    function preview(frame) {
      var box = form.querySelector('[data-frame="' + frame + '"]');
      var input = box.querySelector('input[type="file"]');
      var img = box.querySelector("[data-preview]");
      var caption = box.querySelector("[data-ratio]");
      input.addEventListener("change", function () {
        var file = input.files && input.files[0];
        frameRatios[frame] = null;
        frameSizes[frame] = null;
        fileProblems[frame] = null;
        if (!file) { img.hidden = true; caption.textContent = ""; checkFrames(); return; }
        // Refused before any upload: too big, or not an image the server takes.
        if (file.size > rules.max_upload_bytes) {
          fileProblems[frame] = rules.messages.too_large;
        } else if (file.type && rules.image_types.indexOf(file.type) < 0) {
          fileProblems[frame] = rules.messages.not_image;
        }
        if (fileProblems[frame]) {
          img.hidden = true;
          caption.textContent = fileProblems[frame];
          checkFrames();
          return;
        }
        var url = URL.createObjectURL(file);
        img.onload = function () {
          var m = mode();
          var name = nearestRatio(img.naturalWidth, img.naturalHeight, ratioChoices(m || { ratio_source: "" }));
          frameRatios[frame] = name;
          frameSizes[frame] = [img.naturalWidth, img.naturalHeight];
          caption.textContent = img.naturalWidth + "×" + img.naturalHeight + " → " + name;
          img.hidden = false;
          checkFrames();
        };
        img.onerror = function () {
          // Named like an image but not one (a text file called .jpg): the server says so too.
          fileProblems[frame] = rules.messages.not_image;
          caption.textContent = rules.messages.not_image;
          img.hidden = true;
          checkFrames();
        };
        img.src = url;
      });
    }

    function scheduleEstimate() {
      clearTimeout(estimateTimer);
      estimateTimer = setTimeout(fetchEstimate, 150);
    }

    function fetchEstimate() {
      var m = mode();
      if (!m) { return; }
      var box = form.querySelector("[data-estimate]");
      var params = new URLSearchParams({ mode: modeSelect.value, duration: duration.value });
      if (m.resolutions.length && resolution.value) { params.set("resolution", resolution.value); }
      if (ratio.value) { params.set("aspect_ratio", ratio.value); }
      if (m.audio && audio.checked) { params.set("audio", "1"); }
      if (m.draft && draft.checked) { params.set("draft", "1"); }
      // Variants: the estimate and the quota check cover every video of the submit.
      var count = form.querySelector("#id_variants");
      var vary = form.querySelector("#id_vary");
      if (count && Number(count.value) > 1) {
        params.set("variants", count.value);
        params.set("vary", vary.value);
      }
      var varyBox = form.querySelector("[data-variants-vary]");
      if (varyBox) { varyBox.hidden = !(count && Number(count.value) > 1); }
      var url = form.dataset.estimateUrl + "?" + params.toString();
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (data) {
          if (!data) { return; }
          lastEstimate = data;
          box.querySelector("[data-cost]").textContent = data.cost_cny + " ¥";
          box.querySelector("[data-price]").textContent = data.tokens === null
            ? "(" + data.price_cny_per_second + " ¥/s × " + duration.value + " s)"
            : "(" + data.tokens.toLocaleString() + " tokens × " + data.price_cny_per_million_tokens + " ¥/M)";
          if (data.videos > 1) {
            box.querySelector("[data-price]").textContent = "(" + box.dataset.videosLabel.replace("%s", data.videos) + ")";
          }
          box.querySelector("[data-estimate-badge]").hidden = !data.is_estimate;
          var left = data.left_cny === null ? box.dataset.unlimited : data.left_cny + " ¥";
          if (data.left_seconds !== null) { left += " · " + data.left_seconds + " s"; }
          box.querySelector("[data-left]").textContent = left;
          // The member's own budget, when an admin set one; the refusal in the server's words.
          var budget = box.querySelector("[data-budget]");
          budget.hidden = data.budget_cny === null;
          if (data.budget_cny !== null) {
            budget.querySelector("[data-budget-left]").textContent = data.budget_left_cny + " ¥";
          }
          var noRoom = box.querySelector("[data-no-room]");
          noRoom.textContent = data.blocked || "";
          noRoom.hidden = data.fits;
          refreshSubmit();
        })
        .catch(function () { /* the estimate is a convenience; the server checks again */ });
    }

    modeSelect.addEventListener("change", applyMode);
    draft.addEventListener("change", function () { applyDraft(); refreshSubmit(); });
    ["first_image_url", "last_image_url"].forEach(function (name) {
      if (field(name)) { field(name).addEventListener("input", refreshSubmit); }
    });
    duration.addEventListener("change", scheduleEstimate);
    [resolution, ratio, audio, draft, form.querySelector("#id_variants"), form.querySelector("#id_vary")]
      .forEach(function (input) {
        if (input) { input.addEventListener("change", scheduleEstimate); }
      });
    prompt.addEventListener("input", updateCounter);
    // A recent prompt or a team template fills the prompt (and a template its mode). On the
    // form, not each list: saving a template brings the team's list back, new.
    // A template saved for another mode says so, with both prices, before it changes
    // the mode (and so the price): switch and use it, or take its prompt alone.
    var switchBox = form.querySelector("[data-template-switch]");
    var pending = null;
    function usePrompt(text) {
      prompt.value = text;
      updateCounter();
      refreshSubmit();
    }
    form.addEventListener("change", function (event) {
      var source = event.target.closest("[data-prompt-source]");
      if (!source || !source.value) { return; }
      var option = source.selectedOptions[0];
      var wanted = option.dataset.mode;
      var text = source.value;
      source.value = "";
      if (wanted && wanted !== modeSelect.value && modes[wanted] && switchBox) {
        pending = { mode: wanted, prompt: text };
        var now = mode();
        switchBox.querySelector("[data-template-switch-text]").textContent = fill(switchBox.dataset.text, {
          name: option.textContent, mode: modes[wanted].label, price: modes[wanted].price,
          current: now ? now.label : "", current_price: now ? now.price : ""
        });
        switchBox.hidden = false;
        return;
      }
      usePrompt(text);
    });
    if (switchBox) {
      switchBox.querySelector("[data-template-switch-yes]").addEventListener("click", function () {
        if (!pending) { return; }
        modeSelect.value = pending.mode;
        applyMode();
        usePrompt(pending.prompt);
        pending = null;
        switchBox.hidden = true;
      });
      switchBox.querySelector("[data-template-switch-no]").addEventListener("click", function () {
        if (pending) { usePrompt(pending.prompt); }
        pending = null;
        switchBox.hidden = true;
      });
    }
    // After a submit in place: the quota left is less, and the new job is brought into view
    // (beside the form on a desktop, below it on a phone) without moving more than that.
    form.addEventListener("htmx:afterRequest", function (event) {
      if (!event.detail.successful) { return; }
      if (event.detail.elt === form) {
        fetchEstimate();
        var newest = document.querySelector("#feed [data-job]");
        if (newest && newest.dataset.job && form.isConnected) { newest.scrollIntoView({ block: "nearest" }); }
      } else if (event.detail.elt.matches("[data-testid=save-template]")) {
        var name = document.getElementById("template-name");
        if (name && !document.querySelector(".message.error")) { name.value = ""; }
      }
    });
    preview("first");
    preview("last");
    // Frames kept from an earlier job: shown, and removable (then new ones are needed).
    var forget = form.querySelector("[data-forget-reused]");
    if (forget) {
      forget.addEventListener("click", function () {
        field("reuse_images_from").value = "";
        form.querySelector("[data-reused-frames]").remove();
        refreshSubmit();
      });
    }
    applyMode();
    // Just submitted (the form came back with `keep`): on a phone the recent jobs are far
    // below the form, so the new job is brought into view.
    if (/[?&]keep=1\b/.test(window.location.search) && window.matchMedia("(max-width: 700px)").matches) {
      var newest = document.querySelector("[data-job]");
      if (newest) { newest.scrollIntoView({ block: "center" }); }
    }
  }

  start(document.getElementById("generate-form"));
  document.addEventListener("htmx:load", function (event) {
    if (event.detail.elt.id === "generate-form") { start(event.detail.elt); }
  });
})();
