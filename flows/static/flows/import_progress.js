/* The bulk import's progress bar: polls the job's JSON status until it is finished, then
   reloads the page to show the outcome. Served from our origin (CSP: script-src 'self'). */
(function () {
  "use strict";

  function start() {
    var box = document.querySelector("[data-import-status]");
    if (!box || box.getAttribute("data-polling")) {
      return;
    }
    box.setAttribute("data-polling", "1");
    var bar = box.querySelector("progress");
    var label = box.querySelector("[data-import-label]");

    function show(state) {
      bar.max = state.total || 1;
      bar.value = state.done;
      bar.textContent = state.percent + "%";
      label.textContent = state.status_label + " " + state.done + " / " + state.total;
    }

    function poll() {
      fetch(box.getAttribute("data-import-status"), {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
        cache: "no-store",
      })
        .then(function (response) {
          if (!response.ok) {
            throw new Error(String(response.status));
          }
          return response.json();
        })
        .then(function (state) {
          show(state);
          if (state.finished) {
            window.location.reload();
          } else {
            window.setTimeout(poll, 1000);
          }
        })
        .catch(function () {
          window.setTimeout(poll, 5000);
        });
    }

    poll();
  }

  document.addEventListener("DOMContentLoaded", start);
  document.addEventListener("turbo:load", start);
  if (document.readyState !== "loading") {
    start();
  }
})();
