/* The declaration form of a recorder, who may declare for several members: choosing the
   member reloads the page with that member's rules and caps (?member=). Served from our
   origin (CSP: script-src 'self'). */
(function () {
  "use strict";

  function start() {
    var select = document.querySelector("select[data-declare-for]");
    if (!select || select.getAttribute("data-watched")) {
      return;
    }
    select.setAttribute("data-watched", "1");
    select.addEventListener("change", function () {
      var url = new URL(window.location.href);
      url.searchParams.set("member", select.value);
      window.location.assign(url.toString());
    });
  }

  document.addEventListener("DOMContentLoaded", start);
  document.addEventListener("turbo:load", start);
  if (document.readyState !== "loading") {
    start();
  }
})();
