/* Retention: draws the mean-retention curve embedded as JSON (on the builder, a saved
   insight's page and dashboard tiles; again after every htmx swap) through the shared
   static/js/figures.js. The matrix itself is an HTML table and needs no script. */
(function () {
  "use strict";
  if (window.SextantRetention) { window.SextantRetention.scan(document); return; }
  window.SextantRetention = { scan: window.SextantFigures.watch("[data-retention-figure]") };
})();
