// Starts Swagger UI on /schema/swagger. A file, not an inline script, so the page's
// Content-Security-Policy allows scripts from Attune alone; the schema's address comes from
// the page itself.
window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.spec,
    dom_id: "#swagger-ui",
    deepLinking: true,
    // The default sends the schema's address to validator.swagger.io for a badge: a
    // request to another host, which a locked-down network refuses and nobody needs.
    validatorUrl: null,
  });
});
