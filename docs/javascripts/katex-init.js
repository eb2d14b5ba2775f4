// Typeset the formulas of the docs with the KaTeX bundled beside this file (no CDN, so
// they render offline and behind firewalls). pymdownx.arithmatex in generic mode leaves
// each formula as \( ... \) or \[ ... \]; headings carry them into the table of contents
// too, so the whole page is scanned (auto-render skips code, pre and script elements).
function glassnetRenderMath() {
  renderMathInElement(document.body, {
    delimiters: [
      { left: "\\(", right: "\\)", display: false },
      { left: "\\[", right: "\\]", display: true },
    ],
    throwOnError: false,
  });
}

// mkdocs-material announces each page (also after instant navigation) on document$.
if (typeof document$ !== "undefined") {
  document$.subscribe(glassnetRenderMath);
} else {
  document.addEventListener("DOMContentLoaded", glassnetRenderMath);
}
