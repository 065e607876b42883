// The admin page's only script, served from /admin/assets/admin.js (same origin, no inline script,
// so the CSP needs no 'unsafe-inline'). Progressive enhancement: every page works without it;
// it adds "Copy" buttons next to elements marked data-copy, and asks before a form marked
// data-confirm (a delete) is sent.
export const CLIENT_JS = `"use strict";
document.querySelectorAll("[data-copy]").forEach(function (el) {
  if (!navigator.clipboard) return;
  var b = document.createElement("button");
  b.type = "button";
  b.className = "copy secondary";
  b.textContent = "Copy";
  b.addEventListener("click", function () {
    navigator.clipboard.writeText(el.textContent || "").then(function () { b.textContent = "Copied"; });
  });
  el.insertAdjacentElement("afterend", b);
});
document.querySelectorAll("form[data-confirm]").forEach(function (f) {
  f.addEventListener("submit", function (e) {
    if (!window.confirm(f.getAttribute("data-confirm") || "Are you sure?")) e.preventDefault();
  });
});
`;
