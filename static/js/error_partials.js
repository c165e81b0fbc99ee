/* htmx drops 4xx responses; ours at 400 (bad input, with the reasons) and 422 (a query over
   the configured limits) are partials meant to be shown: swap them like a 200. Loaded by
   the builder pages (templates/insights/_builder_head.html) and the pages that host tiles
   (dashboards/dashboard.html, dashboards/insight.html). */
(function () {
  "use strict";
  if (window.SextantErrorPartials) { return; }
  document.addEventListener("htmx:beforeSwap", function (ev) {
    var status = ev.detail.xhr.status;
    if (status === 400 || status === 422) { ev.detail.shouldSwap = true; ev.detail.isError = false; }
  });
  window.SextantErrorPartials = true;
})();
