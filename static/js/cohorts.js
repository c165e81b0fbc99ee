/* The cohort builder (templates/cohorts/cohorts.html): each criterion row shows only the
   fields its type uses (the selected option's data-fields: "event", "count", "property",
   "cohort"), and the form shows the behavioral builder or the CSV upload by kind. The
   server renders the same visibility, so this only keeps it in step with the selects;
   without JS every field is shown (a <noscript> style). */
(function () {
  "use strict";

  function showCriterion(select) {
    var row = select.closest("[data-criterion-row]");
    if (!row) { return; }
    var option = select.selectedOptions[0];
    var fields = option && option.dataset.fields ? option.dataset.fields.split(" ") : [];
    row.querySelectorAll("[data-criterion-fields]").forEach(function (box) {
      box.hidden = fields.indexOf(box.dataset.criterionFields) < 0;
    });
  }

  function showKind(select) {
    var form = select.form || document;
    form.querySelectorAll("[data-kind-section]").forEach(function (section) {
      section.hidden = section.dataset.kindSection !== select.value;
    });
  }

  document.addEventListener("change", function (ev) {
    var t = ev.target;
    if (!t.matches) { return; }
    if (t.matches("[data-criterion-type]")) { showCriterion(t); }
    if (t.matches("[data-cohort-kind]")) { showKind(t); }
  });

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-criterion-type]").forEach(showCriterion);
    document.querySelectorAll("[data-cohort-kind]").forEach(showKind);
  });
})();
