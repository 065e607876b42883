// The admin page's only script, served from /admin/assets/admin.js (same origin, no inline script,
// so the CSP needs no 'unsafe-inline'). Progressive enhancement: every page works without it;
// it only adds "Copy" buttons next to elements marked data-copy.
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
`;
