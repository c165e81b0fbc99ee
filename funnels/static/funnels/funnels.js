/* Funnels: draws the plotly figures embedded as JSON (on the builder, a saved insight's
   page and dashboard tiles; again after every htmx swap) through the shared
   static/js/figures.js. The builder's rows are static/js/builder.js. */
(function () {
  "use strict";
  if (window.SextantFunnels) { window.SextantFunnels.scan(document); return; }
  window.SextantFunnels = { scan: window.SextantFigures.watch("[data-funnel-figure]") };
})();
