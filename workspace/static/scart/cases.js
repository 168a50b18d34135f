// The case list: one box ticks or clears every case on the page. No inline scripts (strict CSP).
(function () {
  "use strict";
  var all = document.getElementById("tick-all");
  if (!all) { return; }
  all.addEventListener("change", function () {
    document.querySelectorAll("#cases input.tick").forEach(function (box) { box.checked = all.checked; });
  });
})();
