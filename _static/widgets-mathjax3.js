// The ipywidgets HTML manager typesets widget labels with the MathJax 2 API
// (MathJax.Hub.Queue(["Typeset", MathJax.Hub, element])), but the book serves MathJax 3.
// Forward those calls to MathJax 3, so that labels such as "$\eta$" render and no error is thrown.
// (jupyter-book adds every .js file in _static/ to every page; this one does nothing without MathJax.)
(function () {
  function typeset(element) {
    var mathjax = window.MathJax;
    if (!element || !mathjax || !mathjax.startup || !mathjax.typesetPromise) return;
    // Widget labels write inline math as $...$ (as in Jupyter); the book's MathJax only knows
    // \(...\), and turning on $ for the whole page would mangle prices in printed outputs.
    if (element.childElementCount === 0) {
      element.textContent = element.textContent.replace(/\$([^$]+)\$/g, "\\($1\\)");
    }
    mathjax.startup.promise.then(function () { return mathjax.typesetPromise([element]); });
  }
  // MathJax 3 is loaded with `defer`, so it exists by DOMContentLoaded; the manager renders the
  // widgets later, on window "load".
  document.addEventListener("DOMContentLoaded", function () {
    var mathjax = window.MathJax;
    if (!mathjax || mathjax.Hub) return;
    mathjax.Hub = {
      Queue: function () {
        for (var i = 0; i < arguments.length; i++) {
          var call = arguments[i];
          if (Array.isArray(call) && call[0] === "Typeset") typeset(call[2]);
        }
      },
    };
  });
})();
