// Inside an <iframe> (the embeddable campaign page): tell the page around it how tall this page is, whenever that
// changes, so static/js/embed.js can size the frame and nothing scrolls twice. The height is all it says.
(function () {
  "use strict";
  if (window.parent === window) return;
  var last = -1;
  function report() {
    var height = Math.ceil(document.documentElement.getBoundingClientRect().height);
    if (height === last) return;
    last = height;
    window.parent.postMessage({ type: "outcry:height", height: height }, "*");
  }
  if (window.ResizeObserver) new ResizeObserver(report).observe(document.documentElement);
  window.addEventListener("load", report);
  report();
})();
