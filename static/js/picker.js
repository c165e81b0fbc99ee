/* The property picker (docs/tracking-plan.md, "Pickers"): suggestions for a property name
   input and its value input, from the project's tracking plan and discovered properties,
   as the user's role may see them. Without this script the inputs are plain text fields
   and every operator is offered; nothing depends on it.

   Markup (templates/insights/_picker.html writes the key input's attributes):
     <div data-picker-scope>                                   a filter row, or a breakdown's box
       <select data-picker-type>event|person[|cohort]</select>  optional: set to the picked name's type
       <input data-picker data-names-url=… data-values-url=…   the property name
              [data-picker-groups="event,session"]             only these groups (default: all)
              [data-picker-types="number"]                     only names of these types
              [data-picker-event-field="event"]>               the form field holding the event name
       <select data-picker-op>…</select>                        optional: narrowed to the type's operators
       <input data-picker-value>                                optional: offered the top values
     </div>
   Without a [data-picker-scope] ancestor the scope is the input's form.

   Typing in the name input lists matching names grouped event / person / session, each with
   its type and the plan's description; picking one sets the type select, narrows the
   operators to those the query layer runs for that type, and moves to the value input,
   which lists the property's top values with counts. Arrow keys, Enter and Escape work in
   both lists. Picking a value sends a "change" from the value input, so a builder form
   re-runs its query; a name's own "change" is held back while its value is still empty.

   Cohorts: where the type select has a "cohort" option, the list ends with the project's
   cohorts (name, person count). In a filter row, picking one makes the row a cohort filter:
   type "cohort", the name in the name box, operators "in cohort" / "not in cohort", the
   cohort id in the (hidden) value box. In a breakdown's box with a [data-cohort-breakdown]
   list of checkboxes (templates/insights/_cohort_breakdown.html), picking a cohort sets the
   type to "cohort" and ticks that cohort's box; pick again to add more. */
(function () {
  "use strict";
  if (window.SextantPicker) { return; }

  var menu = null;      // the open list (one at a time), appended to <body>
  var owner = null;     // the input it belongs to
  var active = -1;      // the highlighted option's index
  var timer = null;
  var serial = 0;       // answers of older requests are dropped

  function scopeOf(input) { return input.closest("[data-picker-scope]") || input.form || document.body; }
  function keyInput(scope) { return scope.querySelector("input[data-picker]"); }
  function part(scope, name) { return scope.querySelector("[data-picker-" + name + "]"); }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = text; }
    return e;
  }

  function close() {
    serial++;  // an answer still on its way opens nothing
    if (menu) { menu.remove(); }
    if (owner) { owner.setAttribute("aria-expanded", "false"); owner.removeAttribute("aria-activedescendant"); }
    menu = null; owner = null; active = -1;
  }

  function place(input) {
    var rect = input.getBoundingClientRect();
    var width = Math.min(Math.max(rect.width, 288), document.documentElement.clientWidth - 16);
    var left = Math.min(rect.left, document.documentElement.clientWidth - width - 8);
    menu.style.left = Math.max(8, left) + window.scrollX + "px";
    menu.style.top = rect.bottom + window.scrollY + 2 + "px";
    menu.style.width = width + "px";
  }

  function open(input, build) {
    close();
    owner = input;
    menu = el("div", "picker-menu");
    menu.id = "picker-menu";
    menu.setAttribute("role", "listbox");
    build(menu);
    document.body.appendChild(menu);
    input.setAttribute("aria-expanded", "true");
    input.setAttribute("aria-controls", "picker-menu");
    place(input);
  }

  function options() { return menu ? menu.querySelectorAll("[role=option]") : []; }

  function highlight(index) {
    var opts = options();
    if (!opts.length) { return; }
    active = (index + opts.length) % opts.length;
    opts.forEach(function (o, i) { o.classList.toggle("active", i === active); o.setAttribute("aria-selected", i === active); });
    owner.setAttribute("aria-activedescendant", opts[active].id);
    opts[active].scrollIntoView({ block: "nearest" });
  }

  function fetchJSON(url, done) {
    var mine = ++serial;
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
      .then(function (res) { if (mine === serial) { done(res.ok, res.body); } })
      .catch(function () { if (mine === serial) { done(false, { error: "Suggestions are unavailable." }); } });
  }

  function query(base, params) {
    var url = new URL(base, window.location.href);
    Object.keys(params).forEach(function (k) { if (params[k]) { url.searchParams.set(k, params[k]); } });
    return url.toString();
  }

  function eventOf(input) {
    var name = input.dataset.pickerEventField;
    if (!name) { return ""; }
    var field = scopeOf(input).querySelector('[name="' + name + '"]') || (input.form && input.form.querySelector('[name="' + name + '"]'));
    return field && field.value ? field.value.trim() : "";
  }

  // ------------------------------------------------------------------ names
  function hasOption(select, value) {
    return !!select && Array.prototype.some.call(select.options, function (o) { return o.value === value; });
  }

  function wanted(input, p) {
    var groups = input.dataset.pickerGroups, types = input.dataset.pickerTypes;
    if (groups && groups.split(",").indexOf(p.group) < 0) { return false; }
    if (types && types.split(",").indexOf(p.type) < 0) { return false; }
    var select = part(scopeOf(input), "type");
    if (p.group === "cohort" && !groups && !hasOption(select, "cohort")) { return false; }  // only where a cohort fits
    if (select && !groups) {  // a type select without that type (explorer: events only)
      var values = Array.prototype.map.call(select.options, function (o) { return o.value; });
      if (values.indexOf(p.filter_type) < 0) { return false; }
    }
    return true;
  }

  function showNames(input) {
    var q = input.value.trim();
    var all = input.dataset.pickerAll === "1";  // taken when asked: typing soon after focus filters
    input.dataset.pickerAll = "";
    fetchJSON(query(input.dataset.namesUrl, { q: all ? "" : q, event: eventOf(input) }), function (ok, body) {
      if (document.activeElement !== input) { return; }
      open(input, function (box) {
        if (!ok) { box.appendChild(el("div", "picker-note", body.error || "No suggestions.")); return; }
        var n = 0;
        body.groups.forEach(function (g) {
          var props = g.properties.filter(function (p) { return wanted(input, p); });
          if (!props.length) { return; }
          box.appendChild(el("div", "picker-group", g.label));
          props.forEach(function (p) {
            var item = el("div", "picker-item");
            item.id = "picker-opt-" + n++;
            item.setAttribute("role", "option");
            item.dataset.key = p.key;
            item.dataset.filterType = p.filter_type;
            item.dataset.type = p.type;
            item.dataset.operators = p.operators.join(",");
            item.dataset.masked = p.masked ? "1" : "";
            if (p.cohort_id) { item.dataset.cohortId = String(p.cohort_id); }
            var head = el("div", "picker-head");
            head.appendChild(el("span", "picker-key", p.key));
            if (p.type) { head.appendChild(el("span", "picker-type", p.type)); }
            if (p.masked) { head.appendChild(el("span", "picker-pii", "PII")); }
            var count = p.volume_30d ? p.volume_30d.toLocaleString() + " in 30d" : (p.planned ? "planned" : "");
            if (p.group === "cohort") {
              count = p.count === null || p.count === undefined ? "calculating" : p.count.toLocaleString() + (p.count === 1 ? " person" : " persons");
            }
            head.appendChild(el("span", "picker-count", count));
            item.appendChild(head);
            if (p.description) { item.appendChild(el("div", "picker-desc", p.description)); }
            box.appendChild(item);
          });
        });
        if (!n) { box.appendChild(el("div", "picker-note", q ? "No property matches “" + q + "”; it will be used as typed." : "No properties seen yet.")); }
      });
      if (q && !all) { highlight(0); }
    });
  }

  function applyType(scope, type, operators, masked) {
    var op = part(scope, "op");
    var value = part(scope, "value");
    if (op) {
      var allowed = operators ? operators.split(",") : null;
      var typeSelect = part(scope, "type");
      var cohort = typeSelect && typeSelect.value === "cohort";
      var cohortOps = ["in", "not_in"];
      Array.prototype.forEach.call(op.options, function (o) {
        var isCohortOp = cohortOps.indexOf(o.value) >= 0;
        var fits = cohort ? isCohortOp : !isCohortOp && (!allowed || allowed.indexOf(o.value) >= 0);
        o.hidden = !fits;
        o.disabled = !fits;
      });
      if (op.selectedOptions.length && op.selectedOptions[0].disabled) {
        var first = Array.prototype.find.call(op.options, function (o) { return !o.disabled; });
        if (first) { op.value = first.value; }
      }
    }
    if (value) {
      value.dataset.type = type || "";
      value.inputMode = type === "number" ? "decimal" : "text";
      value.placeholder = type === "boolean" ? "true or false" : type === "number" ? "number" : type === "datetime" ? "e.g. 2026-12 (ISO text)" : "value";
      value.dataset.masked = masked ? "1" : "";
    }
    toggleValue(scope);
  }

  function isCohort(scope) {
    var select = part(scope, "type");
    return !!select && select.value === "cohort";
  }

  function toggleValue(scope) {
    var op = part(scope, "op"), value = part(scope, "value");
    if (op && value) { value.hidden = isCohort(scope) || op.value === "is_set" || op.value === "is_not_set"; }
    var box = scope.querySelector("[data-cohort-breakdown]");
    if (box) {
      box.hidden = !isCohort(scope);
      scope.querySelectorAll("[data-not-cohort]").forEach(function (f) { f.hidden = isCohort(scope); });
    }
  }

  // A cohort picked: a filter row becomes "in cohort" (the id in the hidden value box); a
  // breakdown's box ticks the cohort (the name box is cleared to pick another).
  function pickCohort(input, item) {
    var scope = scopeOf(input);
    var select = part(scope, "type");
    if (select) { select.value = "cohort"; }
    var box = scope.querySelector("[data-cohort-breakdown]");
    close();
    if (box) {
      input.value = "";
      box.hidden = false;
      var check = box.querySelector('input[type=checkbox][value="' + item.dataset.cohortId + '"]');
      if (check && !check.checked) {
        check.checked = true;
        check.dispatchEvent(new Event("change", { bubbles: true }));
      } else if (select) {
        select.dispatchEvent(new Event("change", { bubbles: true }));
      }
      return;
    }
    input.value = item.dataset.key;
    input.title = "Cohort: persons in “" + item.dataset.key + "”";
    input.dataset.filterType = "cohort";
    var value = part(scope, "value");
    if (value) { value.value = item.dataset.cohortId; value.dataset.cohortId = item.dataset.cohortId; }
    applyType(scope, "", "", "");
    var op = part(scope, "op");
    if (op && op.value !== "in" && op.value !== "not_in") { op.value = "in"; }
    input.dispatchEvent(new Event("change", { bubbles: true }));
  }

  function pickName(input, item) {
    if (item.dataset.cohortId) { pickCohort(input, item); return; }
    var scope = scopeOf(input);
    var wasCohort = isCohort(scope);
    input.value = item.dataset.key;
    input.title = item.querySelector(".picker-desc") ? item.querySelector(".picker-desc").textContent : "";
    input.dataset.filterType = item.dataset.filterType;
    var select = part(scope, "type");
    if (select && Array.prototype.some.call(select.options, function (o) { return o.value === item.dataset.filterType; })) {
      select.value = item.dataset.filterType;
    }
    applyType(scope, item.dataset.type, item.dataset.operators, item.dataset.masked);
    close();
    var value = part(scope, "value");
    if (value && wasCohort && !isCohort(scope)) { value.value = ""; }  // not a cohort id any more
    if (value && !value.hidden) {
      value.focus();
    } else {
      input.dispatchEvent(new Event("change", { bubbles: true }));
    }
  }

  // ------------------------------------------------------------------ values
  function showValues(input) {
    var scope = scopeOf(input);
    var key = keyInput(scope);
    if (!key || !key.value.trim()) { return; }
    var select = part(scope, "type");
    var type = select && (select.value === "event" || select.value === "person") ? select.value
      : key.dataset.filterType || (key.dataset.pickerGroups === "person" ? "person" : "event");
    if (select && select.value === "cohort") { return; }
    fetchJSON(query(key.dataset.valuesUrl, { key: key.value.trim(), type: type, event: eventOf(key), q: input.value.trim() }), function (ok, body) {
      if (document.activeElement !== input) { return; }
      open(input, function (box) {
        if (!ok) { box.appendChild(el("div", "picker-note", body.error || "No suggestions.")); return; }
        var values = body.values.slice();
        if (input.dataset.type === "boolean") {
          ["true", "false"].forEach(function (b) {
            if (!values.some(function (v) { return v.value === b; })) { values.push({ value: b, count: 0 }); }
          });
        }
        box.appendChild(el("div", "picker-group", "Top values" + (body.days ? " · last " + body.days + " days" : " · persons")));
        values.forEach(function (v, i) {
          var item = el("div", "picker-item picker-value");
          item.id = "picker-opt-" + i;
          item.setAttribute("role", "option");
          item.dataset.value = v.value;
          var head = el("div", "picker-head");
          head.appendChild(el("span", "picker-key", v.value));
          head.appendChild(el("span", "picker-count", v.count ? v.count.toLocaleString() : ""));
          item.appendChild(head);
          box.appendChild(item);
        });
        if (!values.length) { box.appendChild(el("div", "picker-note", "No values seen" + (input.value.trim() ? " containing “" + input.value.trim() + "”" : "") + ".")); }
        if (body.masked) { box.appendChild(el("div", "picker-note", "Shown as your role sees them (PII masked).")); }
      });
    });
  }

  function pickValue(input, item) {
    var scope = scopeOf(input);
    input.value = item.dataset.value;
    var op = part(scope, "op");
    if (op && (op.value === "is_set" || op.value === "is_not_set")) { op.value = "exact"; }
    close();
    input.dispatchEvent(new Event("change", { bubbles: true }));
  }

  // ------------------------------------------------------------------ wiring
  function role(input) {
    if (!input || !input.matches) { return null; }
    if (input.matches("input[data-picker]")) { return "name"; }
    if (input.matches("input[data-picker-value]")) { return "value"; }
    return null;
  }

  function show(input) {
    if (role(input) === "name") { showNames(input); } else { showValues(input); }
  }

  document.addEventListener("focusin", function (ev) {
    var r = role(ev.target);
    if (!r) { return; }
    ev.target.setAttribute("autocomplete", "off");
    ev.target.setAttribute("role", "combobox");
    ev.target.setAttribute("aria-autocomplete", "list");
    if (r === "name") { ev.target.dataset.pickerAll = "1"; }  // on focus: every name, not only the typed one
    show(ev.target);
  });

  document.addEventListener("input", function (ev) {
    if (!role(ev.target)) { return; }
    var input = ev.target;
    clearTimeout(timer);
    timer = setTimeout(function () { show(input); }, 120);
  });

  document.addEventListener("focusout", function (ev) {
    if (ev.target === owner) { setTimeout(function () { if (owner === ev.target && document.activeElement !== ev.target) { close(); } }, 150); }
  });

  document.addEventListener("keydown", function (ev) {
    if (ev.key === "Escape" && role(ev.target)) { if (menu) { ev.preventDefault(); } close(); return; }
    if (!menu || ev.target !== owner) { return; }
    if (ev.key === "ArrowDown") { ev.preventDefault(); highlight(active + 1); }
    else if (ev.key === "ArrowUp") { ev.preventDefault(); highlight(active - 1); }
    else if (ev.key === "Enter" && active >= 0) {
      ev.preventDefault();
      var item = options()[active];
      if (role(owner) === "name") { pickName(owner, item); } else { pickValue(owner, item); }
    } else if (ev.key === "Tab") { close(); }
  });

  // mousedown, not click: the input keeps its focus until the pick is made
  document.addEventListener("mousedown", function (ev) {
    if (!menu) { return; }
    var item = ev.target.closest && ev.target.closest(".picker-menu [role=option]");
    if (item) {
      ev.preventDefault();
      if (role(owner) === "name") { pickName(owner, item); } else { pickValue(owner, item); }
    } else if (!ev.target.closest(".picker-menu") && ev.target !== owner) {
      close();
    }
  });

  // A name picked or typed while its row's value is still empty is not yet a filter: its
  // "change" does not reach the builder form (which would run the query on `= ""`).
  document.addEventListener("change", function (ev) {
    var t = ev.target;
    if (role(t) !== "name" || !t.value.trim()) { return; }
    var value = part(scopeOf(t), "value");
    if (value && !value.hidden && !value.value.trim()) { ev.stopPropagation(); }
  }, true);

  document.addEventListener("change", function (ev) {
    var t = ev.target;
    if (t.matches && t.matches("[data-picker-op]")) { toggleValue(scopeOf(t)); }
    if (t.matches && t.matches("[data-picker-type]")) {
      var scope = scopeOf(t), value = part(scope, "value");
      // A cohort's id is no property value: leaving "cohort" empties the value box.
      if (value && t.value !== "cohort" && value.dataset.cohortId && value.value === value.dataset.cohortId) { value.value = ""; }
      applyType(scope, "", "", "");  // the operators (and the value box) of the new type
    }
  });

  window.addEventListener("resize", function () { if (menu && owner) { place(owner); } });

  // A name already filled in (a shared link, a saved insight): fit its operators to its type.
  function fit(root) {
    (root.querySelectorAll ? root.querySelectorAll("input[data-picker]") : []).forEach(function (input) {
      var key = input.value.trim();
      var scope = scopeOf(input);
      toggleValue(scope);
      if (isCohort(scope)) {
        var held = part(scope, "value");
        if (held) { held.dataset.cohortId = held.value; }
        applyType(scope, "", "", "");
        return;
      }
      if (!key || !part(scope, "op")) { return; }
      var url = query(input.dataset.namesUrl, { q: key, event: eventOf(input) });
      fetch(url, { credentials: "same-origin" }).then(function (r) { return r.ok ? r.json() : null; }).then(function (body) {
        if (!body) { return; }
        var select = part(scope, "type");
        body.groups.forEach(function (g) {
          g.properties.forEach(function (p) {
            if (p.key === key && (!select || select.value === p.filter_type)) {
              input.dataset.filterType = p.filter_type;
              applyType(scope, p.type, p.operators.join(","), p.masked);
            }
          });
        });
      }).catch(function () {});
    });
  }

  document.addEventListener("DOMContentLoaded", function () { fit(document); });
  document.addEventListener("htmx:load", function (ev) { if (ev.target !== document.body) { fit(ev.target); } });

  window.SextantPicker = { close: close };
})();
