// Starts Swagger UI on the API documentation page (/docs) with the schema the page names. A
// script of this site's own rather than the inline one FastAPI writes, which the
// Content-Security-Policy (script-src 'self') does not allow.
window.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("swagger-ui");
  window.SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    deepLinking: true,
    layout: "BaseLayout",
    presets: [window.SwaggerUIBundle.presets.apis],
  });
});
