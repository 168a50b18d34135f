// Keyboard-first assessment. No inline scripts anywhere (the CSP forbids them): this file wires
// the buttons and keys of the case page and the queue.
(function () {
  "use strict";
  var typing = function (el) {
    return el && (el.tagName === "TEXTAREA" || (el.tagName === "INPUT" && el.type !== "checkbox") || el.tagName === "SELECT");
  };
  var form = function () { return document.getElementById("assess"); };

  var submit = function (verdict) {
    var assess = form();
    document.getElementById("verdict").value = verdict;
    if (assess.dataset.next === "swap" && window.fetch && window.DOMParser && window.history.pushState) {
      swap(assess);
    } else {
      assess.submit();
    }
  };

  // The case page's verdicts: the answer is the next case's page (show=next), which replaces this
  // one's body in place, and the address it names for itself goes into the history, as a page
  // load would put it; without a new document to build (styles, script, layout from scratch) the
  // next case is on the screen sooner. Without fetch, or when it fails, the form posts as it is.
  var sending = false;
  var swap = function (assess) {
    if (sending) { return; }
    sending = true;
    var body = new FormData(assess);
    body.set("show", "next");
    window.fetch(assess.action, { method: "POST", body: body, credentials: "same-origin" }).then(function (response) {
      return response.text().then(function (html) {
        var page = new DOMParser().parseFromString(html, "text/html");
        var next = page.querySelector("section.case");
        if (!next && response.redirected) {
          window.location.assign(response.url);  // the queue when none is left, or the login page
          return;
        }
        document.title = page.title;
        document.body.replaceWith(document.adoptNode(page.body));
        window.scrollTo(0, 0);
        if (next && next.dataset.location) { window.history.pushState({ swapped: true }, "", next.dataset.location); }
        wire();
        // Where a page load would start reading (a screen reader announces the new case).
        var heading = document.querySelector("main h1");
        if (heading) { heading.setAttribute("tabindex", "-1"); heading.focus({ preventScroll: true }); }
        if (window.performance && window.performance.mark) { window.performance.mark("scart:case-shown"); }
        sending = false;
      });
    }).catch(function () {
      // No answer (the network or the server is down): the form as it is, as without this script.
      sending = false;
      assess.submit();
    });
  };
  // Back and forward to a case shown in place: load its page.
  window.addEventListener("popstate", function () { window.location.reload(); });

  // The parts of a page that need wiring, again after each swap.
  var wire = function () {
    // Copy buttons: the URL is copied as text, never opened.
    document.querySelectorAll("button.copy").forEach(function (button) {
      button.addEventListener("click", function () {
        var text = document.getElementById(button.dataset.copy).textContent;
        if (navigator.clipboard) { navigator.clipboard.writeText(text); }
        button.textContent = button.dataset.copied || "Copied";
      });
    });
    var assess = form();
    if (!assess) { return; }
    // Legal basis, media type and AI flag stay as the analyst last set them.
    assess.querySelectorAll("[data-sticky]").forEach(function (field) {
      var saved = window.localStorage.getItem("scart.sticky." + field.dataset.sticky);
      if (saved) { field.value = saved; }
      field.addEventListener("change", function () {
        window.localStorage.setItem("scart.sticky." + field.dataset.sticky, field.value);
      });
    });
    assess.querySelectorAll("button[data-verdict]").forEach(function (button) {
      button.addEventListener("click", function (event) {
        event.preventDefault();
        submit(button.dataset.verdict);
      });
    });
    document.querySelectorAll("button.accept").forEach(function (button) {
      button.addEventListener("click", function () { accept(button); });
    });
  };

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

  wire();
  if (!form()) {
    var start = document.getElementById("start");
    if (start) {
      document.addEventListener("keydown", function (event) {
        if (event.key === "Enter" && !typing(document.activeElement)) { window.location = start.href; }
      });
    }
    return;
  }

  var categories = { "1": "A1", "2": "A2", "3": "B1", "4": "B2" };
  var reasons = { q: "adult", w: "nudity", e: "child_non_sexual", r: "virtual_legal", t: "other" };
  document.addEventListener("keydown", function (event) {
    var assess = form();
    if (!assess || event.ctrlKey || event.metaKey || event.altKey) { return; }
    if (event.key === "Escape") { window.location = assess.dataset.back || "/"; return; }
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
