/* Member pickers for long lists (flows/member_search.py): a select with data-search-url
   draws only the chosen members; Tom Select finds the others on the server as the user
   types a name or an employee number. Tom Select escapes the labels it draws. */
(function () {
  "use strict";

  function escapeHtml(text) {
    var div = document.createElement("div");
    div.textContent = text;
    return div.innerHTML;
  }

  function picker(select) {
    var url = new URL(select.getAttribute("data-search-url"), window.location.href);
    var none = select.getAttribute("data-no-results") || "";
    return new window.TomSelect(select, {
      valueField: "value",
      labelField: "text",
      searchField: ["text"],
      maxOptions: 50,
      loadThrottle: 250,
      closeAfterSelect: true,
      hidePlaceholder: !select.multiple, // a list shows how to add one more
      placeholder: select.getAttribute("data-placeholder") || "",
      plugins: select.multiple
        ? { remove_button: { title: select.getAttribute("data-remove") || "" } }
        : [],
      shouldLoad: function (query) {
        return query.trim().length > 0;
      },
      load: function (query, callback) {
        url.searchParams.set("q", query);
        fetch(url.toString(), {
          credentials: "same-origin",
          headers: { Accept: "application/json" },
        })
          .then(function (response) {
            return response.ok ? response.json() : { results: [] };
          })
          .then(function (data) {
            callback(data.results || []);
          })
          .catch(function () {
            callback();
          });
      },
      render: {
        no_results: function () {
          return '<div class="no-results">' + escapeHtml(none) + "</div>";
        },
      },
    });
  }

  function start() {
    if (!window.TomSelect) {
      return;
    }
    var selects = document.querySelectorAll("select[data-search-url]");
    for (var i = 0; i < selects.length; i++) {
      if (!selects[i].tomselect) {
        picker(selects[i]);
      }
    }
  }

  document.addEventListener("DOMContentLoaded", start);
  document.addEventListener("turbo:load", start);
  if (document.readyState !== "loading") {
    start();
  }
})();
