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
  // the select's value (a body by its code, a partnership by its slug: obligations/holders.py)
  // or refuses with the filter's own error message. (The library leaves its last choice in the
  // select when the box is emptied.)
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

// Past a few hundred bodies and partnerships a holder filter writes no options: it is a box
// that takes a name or a code (compliance/obligations/holders.py), and here it suggests the
// holders the server finds as the user types. What is sent is the box's text, which the page
// looks up: a suggestion's words name one holder by its code.
const SUGGEST_FROM = 2; // characters typed before the server is asked

function suggestFrom(input) {
  const address = input.dataset.suggest;
  // The GOV.UK hint and error message the box was described by, said before the library's own.
  const described = (input.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
  const said = described.map((id) => document.getElementById(id)?.textContent.trim()).join(". ");
  const holder = document.createElement("div");
  input.replaceWith(holder);
  let asked = 0; // only the answer to the latest question is shown
  window.accessibleAutocomplete({
    element: holder,
    id: input.id,
    name: input.name,
    defaultValue: input.value,
    minLength: SUGGEST_FROM,
    showNoOptionsFound: false, // as typeAhead: a code typed in full matches no suggestion
    inputClasses: input.classList.contains("govuk-input--error") ? "govuk-input--error" : null,
    tAssistiveHint: () =>
      `${said}. When suggestions are available use up and down arrows to review and enter to select.`,
    source(query, populate) {
      const mine = ++asked;
      fetch(`${address}&q=${encodeURIComponent(query)}`, { headers: { Accept: "application/json" } })
        .then((response) => (response.ok ? response.json() : []))
        .catch(() => [])
        .then((found) => {
          if (mine === asked) {
            populate(found);
          }
        });
    },
  });
}

if (window.accessibleAutocomplete) {
  for (const select of document.querySelectorAll("select[data-type-ahead]")) {
    if (select.options.length > TYPE_AHEAD_FROM) {
      typeAhead(select);
    }
  }
  for (const input of document.querySelectorAll("input[data-suggest]")) {
    suggestFrom(input);
  }
}
