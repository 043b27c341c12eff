// Starts GOV.UK Frontend's components (the error summary's focus, the menu button of the
// navigation on small screens). Loaded as a module, so that a browser too old for GOV.UK
// Frontend runs none of it; every page works without it. The body classes are set here rather
// than by an inline script, which the Content-Security-Policy (script-src 'self') does not allow.
import { initAll } from "./govuk-frontend.min.js";

document.body.classList.add("js-enabled", "govuk-frontend-supported");
initAll();
