/* Trends: draws the plotly figures embedded as JSON through the shared static/js/figures.js
   (on the builder, a saved insight's page and dashboard tiles), point click -> persons
   drill-down (htmx) and the annotation form's date filled with the point's date. Builder
   fields marked `data-display-only="<display>"` show only with that display. The builder's
   rows are static/js/builder.js. */
(function () {
  "use strict";
  if (window.SextantTrends) { window.SextantTrends.scan(document); return; }

  // "2026-05-01T00:00:00+02:00" -> "2026-05-01" (day and longer) or "2026-05-01T14:00" (hour).
  function localDate(iso, hourly) {
    var text = String(iso || "");
    return hourly ? text.slice(0, 16) : text.slice(0, 10);
  }

  function annotateAt(el, iso) {
    var box = document.getElementById("annotations");
    var form = box && box.querySelector("[data-annotation-form]");
    if (!form) { return; }
    box.open = true;
    form.querySelector('input[name="date"]').value = localDate(iso, el.dataset.interval === "hour");
    var text = form.querySelector('input[name="content"]');
    text.focus({ preventScroll: true });
    box.scrollIntoView({ block: "nearest" });
  }

  // After a figure is drawn: a point click opens its persons drill-down and offers an annotation.
  function drillable(el, plot) {
    if (!el.dataset.drillUrl) { return; }
    plot.on("plotly_click", function (ev) {
      var point = ev.points && ev.points[0];
      if (!point || !point.customdata || point.customdata[0] === "annotation") { return; }
      var cd = point.customdata;
      annotateAt(el, cd[1]);
      if (cd[0] < 0) { return; }  // a formula's point: no persons behind it
      var url = el.dataset.drillUrl + "?q=" + encodeURIComponent(el.dataset.spec) +
        "&series=" + encodeURIComponent(cd[0]) + "&date=" + encodeURIComponent(cd[1]) +
        "&breakdown_index=" + encodeURIComponent(cd[2] === null || cd[2] === undefined ? "" : cd[2]) +
        "&period=" + encodeURIComponent(cd[3]);
      var target = document.getElementById("drilldown");
      if (target) { target.hidden = false; }
      window.htmx.ajax("GET", url, { target: "#drilldown", swap: "innerHTML" });
    });
  }

  function displayOnly() {
    document.querySelectorAll("select[data-display-select]").forEach(function (select) {
      var form = select.form;
      if (!form) { return; }
      form.querySelectorAll("[data-display-only]").forEach(function (field) {
        field.hidden = field.dataset.displayOnly !== select.value;
      });
    });
  }
  document.addEventListener("change", function (ev) {
    if (ev.target.matches && ev.target.matches("select[data-display-select]")) { displayOnly(); }
  });
  document.addEventListener("DOMContentLoaded", displayOnly);
  document.addEventListener("htmx:load", displayOnly);
  displayOnly();

  window.SextantTrends = { scan: window.SextantFigures.watch("[data-trends-figure]", drillable) };
})();
