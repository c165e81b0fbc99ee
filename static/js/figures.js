/* Draws the plotly figures a page embeds as JSON (`<div data-…-figure><script
   type="application/json">…</script><div class="plot"></div></div>`) on load and after
   every htmx swap; shared by the trends, funnels and retention scripts (builders, saved
   insights, dashboard tiles). Loaded with defer after plotly, before those scripts. */
(function () {
  "use strict";
  if (window.SextantFigures) { return; }

  // Draw one figure once; returns its plot element (null when not drawn now).
  function draw(el) {
    if (!window.Plotly || el.dataset.drawn) { return null; }
    var data = el.querySelector('script[type="application/json"]');
    var plot = el.querySelector(".plot");
    if (!data || !plot) { return null; }
    var fig = JSON.parse(data.textContent);
    window.Plotly.newPlot(plot, fig.data, fig.layout, { responsive: true, displaylogo: false, displayModeBar: false });
    el.dataset.drawn = "1";
    return plot;
  }

  // Draw every `selector` figure now and whenever one appears; `drawn(el, plot)` runs after each.
  function watch(selector, drawn) {
    function one(el) {
      var plot = draw(el);
      if (plot && drawn) { drawn(el, plot); }
    }
    function scan(root) {
      root = root || document;
      if (root.matches && root.matches(selector)) { one(root); }
      if (root.querySelectorAll) { root.querySelectorAll(selector).forEach(one); }
    }
    document.addEventListener("htmx:load", function (ev) { scan(ev.detail.elt); });
    document.addEventListener("DOMContentLoaded", function () { scan(document); });
    window.addEventListener("load", function () { scan(document); });
    if (document.readyState !== "loading") { scan(document); }
    return scan;
  }

  window.SextantFigures = { draw: draw, watch: watch };
})();
