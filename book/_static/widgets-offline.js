// Two fixes for the saved widgets of the static book, loaded right before html-manager's
// embed-amd.js on the pages that have widgets (see nb_ipywidgets_js in _config.yml).
(function () {
  // 1. The bundle finds its Font Awesome files next to its AMD module
  //    "@jupyter-widgets/html-manager/dist/libembed-amd", which RequireJS would place under the
  //    page's folder, where nothing is: map that module path to the vendored copy beside this file.
  window.requirejs.config({
    paths: {
      "@jupyter-widgets/html-manager/dist":
        new URL("vendor/html-manager", document.currentScript.src).href,
    },
  });

  // 2. ipywidgets 8 typesets widget labels with the MathJax 2 call
  //    MathJax.Hub.Queue(["Typeset", MathJax.Hub, element]); the book loads MathJax 3, which has
  //    no Hub ("Cannot read properties of undefined (reading 'Queue')" for every label). Map the
  //    call onto MathJax 3 once it has replaced its config object, on DOMContentLoaded: this
  //    listener is registered before the one of embed-amd.js that renders the widgets.
  document.addEventListener("DOMContentLoaded", function () {
    var mj = window.MathJax;
    if (!mj || mj.Hub || !mj.startup) {
      return;
    }
    mj.Hub = {
      Queue: function (command) {
        var element = command && command[2];
        mj.startup.promise
          .then(function () { return mj.typesetPromise(element ? [element] : undefined); })
          .catch(function (err) { console.warn("MathJax typeset of a widget label failed", err); });
      },
    };
  });
})();
