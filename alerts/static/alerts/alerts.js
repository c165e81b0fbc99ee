/* Alert pages: draw the figures (the metric, its band and anomalous points) from the JSON
   each `[data-alert-figure]` embeds (static/js/figures.js); on the rule form, show only
   the selected detector's parameters (without JS every fieldset stays visible). */
(function () {
  "use strict";
  if (window.SextantFigures) { window.SextantFigures.watch("[data-alert-figure]"); }

  function syncDetector() {
    var select = document.querySelector(".alert-form select[name=detector]");
    if (!select) { return; }
    document.querySelectorAll(".alert-form [data-detector]").forEach(function (fs) {
      fs.hidden = fs.getAttribute("data-detector") !== select.value;
    });
  }
  document.addEventListener("change", function (ev) {
    if (ev.target && ev.target.matches && ev.target.matches(".alert-form select[name=detector]")) { syncDetector(); }
  });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", syncDetector);
  } else {
    syncDetector();
  }
})();
