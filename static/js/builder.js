/* The builder pages' form behaviour (trends, funnels, retention, paths), driven by data
   attributes; loaded by templates/insights/_builder_head.html. Small and build-free on purpose.

   In a <form data-builder> (templates/insights/_builder_form.html):
   - rows: `#<kind>-rows` holds `.builder-row`s; `[data-add-row="<kind>"]` appends a copy of
     `<template id="<kind>-template">` and focuses its first text input. The container's
     `data-min-rows` / `data-max-rows` bound Remove and Add.
   - `[data-remove-row]` removes its row, `[data-move="up|down"]` moves it; both re-run the
     query (a "change" on the form), an added row is empty and does not.
   - after any of these, `[data-row-number]` badges show their row's position, and a
     `select[data-row-options="<kind>"]` lists its first option, then one option per row
     ("A · $pageview" when the rows have `[data-row-letter]` badges and a
     `[data-row-option-text]` input, else "<data-row-option-label> 1", …), keeping its choice
     while that row exists.
   - `select[data-reveals="<selector>"][data-reveals-when="<value>"]` shows the form's
     elements matching the selector only while the select has that value. */
(function () {
  "use strict";
  if (window.SextantBuilder) { return; }

  function rowsOf(box) {
    return Array.prototype.filter.call(box.children, function (el) { return el.classList.contains("builder-row"); });
  }

  function renumber(form) {
    form.querySelectorAll("[data-row-number]").forEach(function (badge) {
      var row = badge.closest(".builder-row");
      badge.textContent = String(rowsOf(row.parentNode).indexOf(row) + 1);
    });
    // `[data-row-letter]` badges: A, B, C, … (the letters a trends formula uses).
    form.querySelectorAll("[data-row-letter]").forEach(function (badge) {
      var row = badge.closest(".builder-row");
      var i = rowsOf(row.parentNode).indexOf(row);
      badge.textContent = "ABCDEFGHIJ".charAt(i) || String(i + 1);
    });
    form.querySelectorAll("select[data-row-options]").forEach(function (select) {
      var box = document.getElementById(select.dataset.rowOptions + "-rows");
      var count = box ? rowsOf(box).length : 0;
      var current = select.value;
      while (select.options.length > 1) { select.remove(1); }
      var rows = box ? rowsOf(box) : [];
      for (var i = 1; i <= count; i++) { select.add(new Option(optionText(select, rows[i - 1], i), String(i))); }
      select.value = Number(current) <= count ? current : select.options[0].value;
    });
  }

  // "A · $pageview": the row's letter badge and its [data-row-option-text] input, else "Series 2".
  function optionText(select, row, i) {
    var badge = row && row.querySelector("[data-row-letter]");
    var name = row && row.querySelector("[data-row-option-text]");
    var head = badge ? ("ABCDEFGHIJ".charAt(i - 1) || String(i)) : select.dataset.rowOptionLabel + " " + i;
    return name && name.value.trim() ? head + " · " + name.value.trim() : head;
  }

  function changed(form) {
    renumber(form);
    window.htmx.trigger(form, "change");
  }

  function reveal(select) {
    var form = select.closest("form") || document;
    form.querySelectorAll(select.dataset.reveals).forEach(function (el) {
      el.hidden = select.value !== select.dataset.revealsWhen;
    });
  }

  document.addEventListener("click", function (ev) {
    var form = ev.target.closest && ev.target.closest("form[data-builder]");
    if (!form) { return; }
    var add = ev.target.closest("[data-add-row]");
    if (add) {
      var kind = add.dataset.addRow;
      var box = document.getElementById(kind + "-rows");
      if (box.dataset.maxRows && rowsOf(box).length >= Number(box.dataset.maxRows)) { return; }
      box.appendChild(document.getElementById(kind + "-template").content.cloneNode(true));
      renumber(form);
      var first = box.lastElementChild && box.lastElementChild.querySelector("input[type=text]");
      if (first) { first.focus(); }
      return;
    }
    var row = ev.target.closest(".builder-row");
    var move = ev.target.closest("[data-move]");
    if (move && row) {
      if (move.dataset.move === "up" && row.previousElementSibling) { row.parentNode.insertBefore(row, row.previousElementSibling); }
      else if (move.dataset.move === "down" && row.nextElementSibling) { row.parentNode.insertBefore(row.nextElementSibling, row); }
      else { return; }
      changed(form);
      return;
    }
    if (ev.target.closest("[data-remove-row]") && row) {
      var min = Number(row.parentNode.dataset.minRows || 0);
      if (rowsOf(row.parentNode).length <= min) { return; }
      row.remove();
      changed(form);
    }
  });

  document.addEventListener("change", function (ev) {
    if (ev.target.matches && ev.target.matches("select[data-reveals]")) { reveal(ev.target); }
    if (ev.target.matches && ev.target.matches("[data-row-option-text]")) {
      var form = ev.target.closest("form[data-builder]");
      if (form) { renumber(form); }
    }
  });

  window.SextantBuilder = { renumber: renumber };
})();
