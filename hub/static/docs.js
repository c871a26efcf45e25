// Swagger UI over the hub's own OpenAPI document (an external file: the CSP allows no inline script).
"use strict";
window.ui = SwaggerUIBundle({ url: "/api/v1/openapi.json", dom_id: "#swagger-ui" });
