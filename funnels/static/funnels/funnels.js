/* Funnels: draws the plotly figures embedded as JSON (on the builder, a saved insight's
   page and dashboard tiles; again after every htmx swap), adds / removes / reorders
   builder rows. Loaded with defer after plotly. Small and build-free on purpose. */
(function () {
  "use strict";
  if (window.SextantFunnels) { window.SextantFunnels.scan(document); return; }
  var scan = window.SextantFigures.watch("[data-funnel-figure]");
  function renumber(form) {
    var rows = form.querySelectorAll("#step-rows .step-row");
    rows.forEach(function (row, i) { row.querySelector(".step-badge").textContent = String(i + 1); });
  }
  function changed(form) { renumber(form); window.htmx.trigger(form, "change"); }
  document.addEventListener("click", function (ev) {
    var form = ev.target.closest && ev.target.closest("#funnel-form");
    if (!form) { return; }
    var add = ev.target.closest("[data-add-row]");
    if (add) {
      var kind = add.dataset.addRow;
      var box = document.getElementById(kind + "-rows");
      if (kind === "step" && box.children.length >= 20) { return; }
      box.appendChild(document.getElementById(kind + "-template").content.cloneNode(true));
      renumber(form);
      var first = box.lastElementChild && box.lastElementChild.querySelector("input[type=text]");
      if (first) { first.focus(); }
      return;
    }
    var move = ev.target.closest("[data-move]");
    if (move) {
      var row = move.closest(".step-row");
      if (move.dataset.move === "up" && row.previousElementSibling) { row.parentNode.insertBefore(row, row.previousElementSibling); }
      else if (move.dataset.move === "down" && row.nextElementSibling) { row.parentNode.insertBefore(row.nextElementSibling, row); }
      else { return; }
      changed(form);
      return;
    }
    var remove = ev.target.closest("[data-remove-row]");
    if (remove) {
      if (remove.closest(".step-row") && form.querySelectorAll(".step-row").length <= 2) { return; }
      remove.closest(".builder-row").remove();
      changed(form);
    }
  });
  document.addEventListener("change", function (ev) {
    if (ev.target.matches && ev.target.matches("[data-date-preset]")) {
      var custom = document.querySelector("[data-custom-dates]");
      if (custom) { custom.hidden = ev.target.value !== "custom"; }
    }
    if (ev.target.matches && ev.target.matches("[data-aggregate-by]")) {
      var prop = document.querySelector("[data-aggregate-property]");
      if (prop) { prop.hidden = ev.target.value !== "property"; }
    }
  });
  document.addEventListener("htmx:beforeSwap", function (ev) {
    var status = ev.detail.xhr.status;
    if (status === 400 || status === 422) { ev.detail.shouldSwap = true; ev.detail.isError = false; }
  });
  window.SextantFunnels = { scan: scan };
})();
