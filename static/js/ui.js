/* The small behaviours every page may use, driven by data attributes, so no template needs
   an inline script or an on* attribute (the Content-Security-Policy allows script files from
   our origin only). Delegated from the document, so content htmx swaps in works too.

   form[data-confirm="Question?"]     asks before submitting
   select[data-autosubmit]            submits its form on change
   button[data-copy="element-id"]     copies that element's text to the clipboard
   input[data-select-on-focus]        selects its text when clicked or focused
   input[data-output="element-id"]    writes its value into that <output> as it moves
   [hx-get|hx-post][data-reveal="id"] un-hides element #id when its htmx request starts
   [data-tabs] [data-tab=x] / [data-panel=x]   tabs: a click shows the panel of the same name
   table[data-sortable] th button[data-sort]   sorts the rows by that column (again: reversed);
                                      a cell's data-sort-value, when a number, sorts numerically */
(function () {
  "use strict";
  if (window.SextantUI) { return; }
  window.SextantUI = true;

  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      ev.preventDefault();
      ev.stopImmediatePropagation();
    }
  }, true);

  document.addEventListener("change", function (ev) {
    var el = ev.target;
    if (el.matches && el.matches("select[data-autosubmit]") && el.form) { el.form.submit(); }
  });

  document.addEventListener("input", function (ev) {
    var el = ev.target;
    var out = el.dataset && el.dataset.output && document.getElementById(el.dataset.output);
    if (out) { out.value = el.value; }
  });

  document.addEventListener("click", function (ev) {
    var copy = ev.target.closest && ev.target.closest("[data-copy]");
    if (copy) {
      var source = document.getElementById(copy.dataset.copy);
      if (source && navigator.clipboard) { navigator.clipboard.writeText(source.textContent.trim()); }
      return;
    }
    var select = ev.target.closest && ev.target.closest("input[data-select-on-focus]");
    if (select) { select.select(); return; }
    var head = ev.target.closest && ev.target.closest("table[data-sortable] th button[data-sort]");
    if (head) { sortBy(head); return; }
    var tab = ev.target.closest && ev.target.closest("[data-tabs] [data-tab]");
    if (tab) {
      var box = tab.closest("[data-tabs]");
      box.querySelectorAll("[data-tab]").forEach(function (t) { t.setAttribute("aria-selected", t === tab); });
      box.querySelectorAll("[data-panel]").forEach(function (p) { p.hidden = p.dataset.panel !== tab.dataset.tab; });
    }
  });

  function sortBy(button) {
    var th = button.closest("th");
    var table = th.closest("table");
    var column = Array.prototype.indexOf.call(th.parentNode.children, th);
    var ascending = th.getAttribute("aria-sort") !== "ascending";
    table.querySelectorAll("thead th").forEach(function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    function key(row) {
      var cell = row.cells[column];
      var raw = cell ? cell.dataset.sortValue : undefined;
      var n = raw !== undefined && raw !== "" ? Number(raw) : NaN;
      return isNaN(n) ? { text: (cell ? cell.textContent : "").trim().toLowerCase() } : { num: n };
    }
    rows.sort(function (a, b) {
      var x = key(a), y = key(b), order;
      if (x.num !== undefined && y.num !== undefined) { order = x.num - y.num; }
      else if (x.num !== undefined) { order = -1; }
      else if (y.num !== undefined) { order = 1; }
      else { order = x.text < y.text ? -1 : x.text > y.text ? 1 : 0; }
      return ascending ? order : -order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }

  document.addEventListener("htmx:beforeRequest", function (ev) {
    var el = ev.detail && ev.detail.elt;
    var target = el && el.dataset && el.dataset.reveal && document.getElementById(el.dataset.reveal);
    if (target) { target.hidden = false; }
  });
})();
