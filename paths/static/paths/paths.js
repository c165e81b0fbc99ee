/* Paths builder: draws the Sankey embedded as JSON, node/link click -> sessions
   drill-down (htmx), add/remove builder rows. Small and build-free on purpose. */
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

  document.addEventListener("click", function (ev) {
    var form = ev.target.closest && ev.target.closest("#paths-form");
    if (!form) { return; }
    var add = ev.target.closest("[data-add-rule], [data-add-filter]");
    if (add) {
      var rule = add.hasAttribute("data-add-rule");
      var tpl = document.getElementById(rule ? "rule-template" : "filter-template");
      var box = document.getElementById(rule ? "rule-rows" : "filter-rows");
      box.appendChild(tpl.content.cloneNode(true));
      var first = box.lastElementChild && box.lastElementChild.querySelector("input[type=text]");
      if (first) { first.focus(); }
      return;
    }
    var remove = ev.target.closest("[data-remove-row]");
    if (remove) {
      remove.closest(".builder-row").remove();
      form.dispatchEvent(new Event("change", { bubbles: true }));
    }
  });

  window.SextantPaths = { scan: scan };
  document.addEventListener("DOMContentLoaded", function () { scan(document); });
  window.addEventListener("load", function () { scan(document); });
  document.addEventListener("htmx:afterSwap", function (ev) { scan(ev.detail.elt); });
  document.addEventListener("htmx:afterSettle", function (ev) { scan(ev.detail.elt); });
})();
