/* Draws the alert pages' figures (the metric, its band and anomalous points) from the
   JSON each `[data-alert-figure]` embeds; see static/js/figures.js. */
(function () {
  "use strict";
  if (window.SextantFigures) { window.SextantFigures.watch("[data-alert-figure]"); }
})();
