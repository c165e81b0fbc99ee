/* Trends: draws the plotly figures embedded as JSON through the shared static/js/figures.js
   (on the builder, a saved insight's page and dashboard tiles), point click -> persons
   drill-down (htmx). The builder's rows are static/js/builder.js. */
(function () {
  "use strict";
  if (window.SextantTrends) { window.SextantTrends.scan(document); return; }

  // After a figure is drawn: a point click opens its persons drill-down.
  function drillable(el, plot) {
    if (!el.dataset.drillUrl) { return; }
    plot.on("plotly_click", function (ev) {
      var point = ev.points && ev.points[0];
      if (!point || !point.customdata) { return; }
      var cd = point.customdata;
      var url = el.dataset.drillUrl + "?q=" + encodeURIComponent(el.dataset.spec) +
        "&series=" + encodeURIComponent(cd[0]) + "&date=" + encodeURIComponent(cd[1]) +
        "&breakdown_index=" + encodeURIComponent(cd[2] === null || cd[2] === undefined ? "" : cd[2]) +
        "&period=" + encodeURIComponent(cd[3]);
      var target = document.getElementById("drilldown");
      if (target) { target.hidden = false; }
      window.htmx.ajax("GET", url, { target: "#drilldown", swap: "innerHTML" });
    });
  }
  window.SextantTrends = { scan: window.SextantFigures.watch("[data-trends-figure]", drillable) };
})();
