/* The declaration form, and the notice form's rule hints. Served from our origin (CSP:
   script-src 'self').
   - A recorder, who may declare for several members: choosing the member reloads the page
     with that member's rules and caps (?member=), after asking when items were typed.
   - Each item says what its rule gives (fixed points, or the range to choose from) and
     whether it needs evidence; a fixed rule fills in its points.
   - "Add another item" adds an item (up to the form's maximum); an added item can be
     removed again. The server checks everything again. */
(function () {
  "use strict";

  function format(text, values) {
    return text.replace(/\{(\w+)\}/g, function (all, key) {
      return key in values ? values[key] : all;
    });
  }

  function watchMember() {
    var select = document.querySelector("select[data-declare-for]");
    if (!select || select.getAttribute("data-watched")) {
      return;
    }
    select.setAttribute("data-watched", "1");
    var chosen = select.value;
    select.addEventListener("change", function () {
      // the page reloads with the member's rules: what was typed would be lost
      var form = select.closest("form");
      var typed = form && Array.prototype.some.call(
        form.querySelectorAll("[data-item-list] select, [data-item-list] textarea, [data-item-list] input"),
        function (field) {
          if (field.type === "file") {
            return field.files.length > 0;
          }
          if (field.name.slice(-9) === "-quantity" || field.readOnly) {
            return false;
          }
          return field.value !== "";
        }
      );
      if (typed && !window.confirm(form.getAttribute("data-change-member-text"))) {
        select.value = chosen;
        return;
      }
      var url = new URL(window.location.href);
      url.searchParams.set("member", select.value);
      window.location.assign(url.toString());
    });
  }

  function describeRule(form, item) {
    var select = item.querySelector("select[name$='rule_item']");
    var points = item.querySelector("input[name$='points']");
    if (!select || !points) {
      return;
    }
    var hint = item.querySelector(".pts-rule-hint");
    if (!hint) {
      hint = document.createElement("span");
      hint.className = "pts-rule-hint";
      hint.setAttribute("aria-live", "polite");
      points.parentNode.appendChild(hint);
    }
    var help = points.parentNode.querySelector(".helptext"); // said better by the hint
    var option = select.options[select.selectedIndex];
    var min = option ? option.getAttribute("data-min") : null;
    if (help) {
      help.hidden = Boolean(min);
    }
    if (!min) {
      points.readOnly = false;
      hint.textContent = "";
      return;
    }
    var max = option.getAttribute("data-max");
    var sign = option.getAttribute("data-sign");
    var text;
    if (min === max) {
      points.value = min;
      points.readOnly = true;
      text = format(form.getAttribute("data-fixed-text"), { points: sign + min });
    } else {
      points.readOnly = false;
      points.min = min;
      points.max = max;
      text = format(form.getAttribute("data-range-text"), { min: min, max: max });
    }
    if (option.getAttribute("data-evidence") && form.getAttribute("data-evidence-text")) {
      text += " " + form.getAttribute("data-evidence-text");
    }
    hint.textContent = text;
  }

  function renumber(form) {
    var prefix = form.getAttribute("data-items");
    var pattern = new RegExp("^(id_)?" + prefix + "-(\\d+|__prefix__)-");
    var items = form.querySelectorAll("[data-item-list] [data-item]");
    items.forEach(function (item, index) {
      item.querySelectorAll("[name], [id], label[for], [aria-describedby]").forEach(function (element) {
        ["name", "id", "for", "aria-describedby"].forEach(function (attribute) {
          var value = element.getAttribute(attribute);
          if (value && pattern.test(value)) {
            element.setAttribute(
              attribute,
              value.replace(pattern, function (all, id) {
                return (id || "") + prefix + "-" + index + "-";
              })
            );
          }
        });
      });
      var legend = item.querySelector("legend");
      if (legend) {
        legend.textContent = format(form.getAttribute("data-item-text"), { n: index + 1 });
      }
    });
    form.querySelector("input[name='" + prefix + "-TOTAL_FORMS']").value = items.length;
    var most = parseInt(form.querySelector("input[name='" + prefix + "-MAX_NUM_FORMS']").value, 10);
    form.querySelector("[data-add-item]").hidden = items.length >= most;
  }

  function watchItems() {
    var form = document.querySelector("form[data-items]");
    if (!form || form.getAttribute("data-watched")) {
      return;
    }
    form.setAttribute("data-watched", "1");
    var list = form.querySelector("[data-item-list]");
    var template = form.querySelector("template[data-item-template]");
    form.addEventListener("change", function (event) {
      var item = event.target.closest("[data-item]");
      if (item && event.target.matches("select[name$='rule_item']")) {
        describeRule(form, item);
      }
    });
    form.addEventListener("click", function (event) {
      var remove = event.target.closest("[data-remove-item]");
      if (remove) {
        remove.closest("[data-item]").remove();
        renumber(form);
      } else if (event.target.closest("[data-add-item]")) {
        list.appendChild(template.content.cloneNode(true));
        renumber(form);
        var added = list.lastElementChild;
        describeRule(form, added);
        var first = added.querySelector("select, input");
        if (first) {
          first.focus();
        }
      }
    });
    list.querySelectorAll("[data-item]").forEach(function (item) {
      describeRule(form, item);
    });
    form.querySelectorAll("[data-remove-item]").forEach(function (button) {
      button.hidden = false;
    });
    renumber(form);
  }

  function watchNotice() {
    // the notice form: one rule for all its members, the form its only item
    var form = document.querySelector("form[data-rule-hints]");
    if (!form || form.getAttribute("data-watched")) {
      return;
    }
    form.setAttribute("data-watched", "1");
    form.addEventListener("change", function (event) {
      if (event.target.matches("select[name$='rule_item']")) {
        describeRule(form, form);
      }
    });
    describeRule(form, form);
  }

  function start() {
    watchMember();
    watchItems();
    watchNotice();
  }

  document.addEventListener("DOMContentLoaded", start);
  document.addEventListener("turbo:load", start);
  if (document.readyState !== "loading") {
    start();
  }
})();
