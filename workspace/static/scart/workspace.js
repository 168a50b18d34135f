// Keyboard-first assessment. No inline scripts anywhere (the CSP forbids them): this file wires
// the buttons and keys of the case page and the queue.
(function () {
  "use strict";
  var form = document.getElementById("assess");
  // A case page that answers a verdict (the next case, shown without a redirect) names its own
  // address: put it in the address bar, so that reloading or sharing it opens this case again.
  var here = document.querySelector("section.case[data-location]");
  if (here && window.history.replaceState) { window.history.replaceState(null, "", here.dataset.location); }
  var typing = function (el) {
    return el && (el.tagName === "TEXTAREA" || (el.tagName === "INPUT" && el.type !== "checkbox") || el.tagName === "SELECT");
  };

  // Copy buttons: the URL is copied as text, never opened.
  document.querySelectorAll("button.copy").forEach(function (button) {
    button.addEventListener("click", function () {
      var text = document.getElementById(button.dataset.copy).textContent;
      if (navigator.clipboard) { navigator.clipboard.writeText(text); }
      button.textContent = "Copied";
    });
  });

  if (!form) {
    var start = document.getElementById("start");
    if (start) {
      document.addEventListener("keydown", function (event) {
        if (event.key === "Enter" && !typing(document.activeElement)) { window.location = start.href; }
      });
    }
    return;
  }

  // Legal basis, media type and AI flag stay as the analyst last set them.
  form.querySelectorAll("[data-sticky]").forEach(function (field) {
    var saved = window.localStorage.getItem("scart.sticky." + field.dataset.sticky);
    if (saved) { field.value = saved; }
    field.addEventListener("change", function () {
      window.localStorage.setItem("scart.sticky." + field.dataset.sticky, field.value);
    });
  });

  var submit = function (verdict) {
    document.getElementById("verdict").value = verdict;
    // Ask for the next case's page in the answer itself (no redirect): this script then fixes the address.
    var show = document.getElementById("show");
    if (show && window.history.replaceState) { show.value = "next"; }
    form.submit();
  };
  form.querySelectorAll("button[data-verdict]").forEach(function (button) {
    button.addEventListener("click", function (event) {
      event.preventDefault();
      submit(button.dataset.verdict);
    });
  });

  // A suggestion fills the form with its fields (the sticky ones stay where it says nothing),
  // names itself so the server can record where the verdict came from, and submits.
  var accept = function (button) {
    var fields = JSON.parse(button.dataset.fields);
    Object.keys(fields).forEach(function (name) {
      var field = document.getElementById(name);
      if (!field || name === "verdict") { return; }
      if (field.type === "checkbox") { field.checked = fields[name] === true; } else { field.value = fields[name]; }
    });
    document.getElementById("suggestion").value = button.dataset.ref;
    submit(fields.verdict);
  };
  document.querySelectorAll("button.accept").forEach(function (button) {
    button.addEventListener("click", function () { accept(button); });
  });

  var categories = { "1": "A1", "2": "A2", "3": "B1", "4": "B2" };
  var reasons = { q: "adult", w: "nudity", e: "child_non_sexual", r: "virtual_legal", t: "other" };
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    if (event.key === "Escape") { window.location = form.dataset.back || "/"; return; }
    if (typing(document.activeElement)) { return; }
    var key = event.key.toLowerCase();
    if (categories[key]) {
      document.getElementById("category").value = categories[key];
      submit("illegal");
    } else if (reasons[key]) {
      document.getElementById("not_illegal_reason").value = reasons[key];
      submit("not_illegal");
    } else if (key === "i") {
      submit("illegal");
    } else if (key === "n") {
      submit("not_illegal");
    } else if (key === "g") {
      submit("gone");
    } else if (key === "x") {
      submit("cannot_assess");
    } else if (key === "y" && document.querySelector("button.accept")) {
      accept(document.querySelector("button.accept"));
    } else if (key === "a" && document.getElementById("agree")) {
      document.getElementById("agree").click();
    } else if (key === "c") {
      var copy = document.querySelector("button.copy");
      if (copy) { copy.click(); }
    } else {
      return;
    }
    event.preventDefault();
  });
}());
