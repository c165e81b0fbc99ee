/* The small behaviours every page may use, driven by data attributes, so no template needs
   an inline script or an on* attribute (the Content-Security-Policy allows script files from
   our origin only). Delegated from the document, so content htmx swaps in works too.

   form[data-confirm="Question?"]     asks before submitting
   select[data-autosubmit]            submits its form on change
   button[data-copy="element-id"]     copies that element's text to the clipboard
   input[data-select-on-focus]        selects its text when clicked or focused
   input[data-output="element-id"]    writes its value into that <output> as it moves
   [hx-get|hx-post][data-reveal="id"] un-hides element #id when its htmx request starts
   [data-tabs] [data-tab=x] / [data-panel=x]   tabs: a click shows the panel of the same name */
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
    var tab = ev.target.closest && ev.target.closest("[data-tabs] [data-tab]");
    if (tab) {
      var box = tab.closest("[data-tabs]");
      box.querySelectorAll("[data-tab]").forEach(function (t) { t.setAttribute("aria-selected", t === tab); });
      box.querySelectorAll("[data-panel]").forEach(function (p) { p.hidden = p.dataset.panel !== tab.dataset.tab; });
    }
  });

  document.addEventListener("htmx:beforeRequest", function (ev) {
    var el = ev.detail && ev.detail.elt;
    var target = el && el.dataset && el.dataset.reveal && document.getElementById(el.dataset.reveal);
    if (target) { target.hidden = false; }
  });
})();
