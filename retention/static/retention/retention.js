/* Retention: draws the mean-retention curve embedded as JSON (on the builder, a saved
   insight's page and dashboard tiles; again after every htmx swap). Loaded with defer
   after plotly. The matrix itself is an HTML table and needs no script. */
(function () {
  "use strict";
  if (window.SextantRetention) { window.SextantRetention.scan(document); return; }

  function draw(el) {
    if (!window.Plotly || el.dataset.drawn) { return; }
    var data = el.querySelector('script[type="application/json"]');
    var plot = el.querySelector(".plot");
    if (!data || !plot) { return; }
    var fig = JSON.parse(data.textContent);
    window.Plotly.newPlot(plot, fig.data, fig.layout, { responsive: true, displaylogo: false, displayModeBar: false });
    el.dataset.drawn = "1";
  }

  function scan(root) {
    root = root || document;
    if (root.matches && root.matches("[data-retention-figure]")) { draw(root); }
    if (root.querySelectorAll) { root.querySelectorAll("[data-retention-figure]").forEach(draw); }
  }

  document.addEventListener("htmx:load", function (ev) { scan(ev.detail.elt); });
  document.addEventListener("DOMContentLoaded", function () { scan(document); });
  window.addEventListener("load", function () { scan(document); });
  window.SextantRetention = { draw: draw, scan: scan };
  if (document.readyState !== "loading") { scan(document); }
})();
