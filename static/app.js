// Starts GOV.UK Frontend's components (the error summary's focus, the menu button of the
// navigation on small screens). Loaded as a module, so that a browser too old for GOV.UK
// Frontend runs none of it; every page works without it. The body classes are set here rather
// than by an inline script, which the Content-Security-Policy (script-src 'self') does not allow.
import { initAll } from "./govuk-frontend.min.js";

document.body.classList.add("js-enabled", "govuk-frontend-supported");
initAll();

// A filter choosing one of many bodies or partnerships (thousands in a national registry) is
// a type-ahead search: GOV.UK's accessible-autocomplete, which the pages that have one load
// before this module. Without JavaScript it stays the select it is written as.
const TYPE_AHEAD_FROM = 10; // options, beyond which a select is searched rather than scrolled

function typeAhead(select) {
  const id = select.id;
  window.accessibleAutocomplete.enhanceSelectElement({
    selectElement: select,
    defaultValue: "",
    showAllValues: false,
    // No "No results found" menu over the button below: a code typed in full matches no name.
    showNoOptionsFound: false,
  });
  // On sending, the select says what the search box says: an option named exactly, nothing
  // (any) when the box is empty, else the text as typed, which the page looks up as it would
  // the select's value (the obligations list finds a body by its code, or a partnership by its
  // slug) or refuses with the filter's own error message. (The library leaves its last choice
  // in the select when the box is emptied.)
  select.form.addEventListener("submit", () => {
    const typed = document.getElementById(id).value.trim();
    const named = [...select.options].find((option) => option.text === typed);
    if (named || !typed) {
      select.value = named ? named.value : "";
      return;
    }
    select.add(new Option(typed, typed, true, true));
  });
}

if (window.accessibleAutocomplete) {
  for (const select of document.querySelectorAll("select[data-type-ahead]")) {
    if (select.options.length > TYPE_AHEAD_FROM) {
      typeAhead(select);
    }
  }
}
