/* Paths: draws the Sankey embedded as JSON (on the builder, a saved insight's page and
   dashboard tiles), node/link click -> sessions drill-down (htmx). The builder's rows are
   static/js/builder.js. Small and build-free on purpose. */
(function () {
  "use strict";
  if (window.SextantPaths) { window.SextantPaths.scan(document); return; }

  function draw(el) {
    if (!window.Plotly || el.dataset.drawn) { return; }
    var data = el.querySelector('script[type="application/json"]');
    var plot = el.querySelector(".plot");
    if (!data || !plot) { return; }
    var fig = JSON.parse(data.textContent);
    window.Plotly.newPlot(plot, fig.data, fig.layout, { responsive: true, displaylogo: false, displayModeBar: false });
    el.dataset.drawn = "1";
    if (!el.dataset.drillUrl) { return; }
    plot.on("plotly_click", function (ev) {
      var point = ev.points && ev.points[0];
      var cd = point && point.customdata;
      if (!cd) { return; }
      var url = el.dataset.drillUrl + "?q=" + encodeURIComponent(el.dataset.spec) + "&node=" + encodeURIComponent(cd[1]);
      if (cd[0] === "edge") { url += "&target=" + encodeURIComponent(cd[2]); }
      var target = document.getElementById("drilldown");
      if (target) { target.hidden = false; }
      window.htmx.ajax("GET", url, { target: "#drilldown", swap: "innerHTML" });
    });
  }

  function scan(root) {
    root = root || document;
    if (root.matches && root.matches("[data-paths-figure]")) { draw(root); }
    if (root.querySelectorAll) { root.querySelectorAll("[data-paths-figure]").forEach(draw); }
  }

  window.SextantPaths = { scan: scan };
  document.addEventListener("DOMContentLoaded", function () { scan(document); });
  window.addEventListener("load", function () { scan(document); });
  document.addEventListener("htmx:afterSwap", function (ev) { scan(ev.detail.elt); });
  document.addEventListener("htmx:afterSettle", function (ev) { scan(ev.detail.elt); });
})();
