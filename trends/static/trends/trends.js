/* Trends builder: draws plotly figures embedded as JSON, point click -> persons
   drill-down (htmx), add/remove builder rows. Small and build-free on purpose. */
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
  var scan = window.SextantFigures.watch("[data-trends-figure]", drillable);

  function renumber(form) {
    var rows = form.querySelectorAll("#series-rows .series-row");
    rows.forEach(function (row, i) { row.querySelector(".series-badge").textContent = String(i + 1); });
    form.querySelectorAll('select[name="filter_scope"]').forEach(function (select) {
      var current = select.value;
      while (select.options.length > 1) { select.remove(1); }
      for (var i = 1; i <= rows.length; i++) { select.add(new Option("Series " + i, String(i))); }
      select.value = Number(current) <= rows.length ? current : "all";
    });
  }

  document.addEventListener("click", function (ev) {
    var form = ev.target.closest && ev.target.closest("#trends-form");
    if (!form) { return; }
    var add = ev.target.closest("[data-add-row]");
    if (add) {
      var kind = add.dataset.addRow;
      var tpl = document.getElementById(kind + "-template");
      var box = document.getElementById(kind === "series" ? "series-rows" : "filter-rows");
      box.appendChild(tpl.content.cloneNode(true));
      renumber(form);
      var first = box.lastElementChild && box.lastElementChild.querySelector("input[type=text]");
      if (first) { first.focus(); }
      return;
    }
    var remove = ev.target.closest("[data-remove-row]");
    if (remove) {
      var isSeries = remove.closest(".series-row");
      if (isSeries && form.querySelectorAll(".series-row").length <= 1) { return; }
      remove.closest(".builder-row").remove();
      renumber(form);
      window.htmx.trigger(form, "change");
    }
  });

  document.addEventListener("change", function (ev) {
    if (ev.target.matches && ev.target.matches("[data-date-preset]")) {
      var custom = document.querySelector("[data-custom-dates]");
      if (custom) { custom.hidden = ev.target.value !== "custom"; }
    }
  });

  // Show form errors (400) and limits (422) in the result area instead of dropping them.
  document.addEventListener("htmx:beforeSwap", function (ev) {
    var status = ev.detail.xhr.status;
    if (status === 400 || status === 422) { ev.detail.shouldSwap = true; ev.detail.isError = false; }
  });
  window.SextantTrends = { scan: scan };
})();
