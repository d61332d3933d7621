// Progressive enhancement for the portal. Without JavaScript every expand control is a
// plain form button or link that loads the page with the section opened; with it, the
// section loads in place through htmx and the control's aria-expanded follows.
//
// This file runs again when htmx restores a page (Back), with the new body: the listeners
// on the document are added once only, or every control would act twice.
if (!window.tallyPortalListening) {
  window.tallyPortalListening = true;

  document.addEventListener("click", (event) => {
    const control = event.target.closest("[data-expand]");
    if (!control || !window.htmx) return;
    event.preventDefault();
    const region = document.getElementById(control.getAttribute("aria-controls"));
    if (!region) return;
    const cell = region.querySelector("td") || region;
    if (control.getAttribute("aria-expanded") === "true") {
      control.setAttribute("aria-expanded", "false");
      region.hidden = true;
      return;
    }
    control.setAttribute("aria-busy", "true");
    htmx.ajax("GET", control.dataset.expand, { target: cell, swap: "innerHTML" }).then(() => {
      region.hidden = false;
      control.setAttribute("aria-expanded", "true");
      control.removeAttribute("aria-busy");
    });
  });

  // Space and Enter on link-styled buttons (role="button") act like a button.
  document.addEventListener("keydown", (event) => {
    const control = event.target.closest('a[role="button"][data-expand]');
    if (control && event.key === " ") {
      event.preventDefault();
      control.click();
    }
  });

  // A form the server refused (422: the dispute or message form with its errors) is still
  // shown: htmx does not swap error responses by default, which would leave the user with
  // a button that seems to do nothing.
  document.addEventListener("htmx:beforeSwap", (event) => {
    if (event.detail.xhr.status === 422) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  // After a form's answer is swapped in, focus goes where the user's attention should:
  // the first field the server refused (its error is tied to it by aria-describedby), or
  // the conversation the dispute or message just went to. Otherwise it would be lost with
  // the replaced form.
  document.addEventListener("htmx:afterSwap", (event) => {
    let swapped = event.detail.target;
    // An outerHTML swap replaced the target itself: its successor carries the same id.
    if (swapped && !swapped.isConnected && swapped.id) swapped = document.getElementById(swapped.id);
    if (!swapped) return;
    if (swapped.id === "invoice-table") markCurrentCard();
    scrollToMatch(swapped);
    const target = swapped.querySelector('[aria-invalid="true"]') ||
      swapped.querySelector("[data-focus-after-swap]");
    if (target) target.focus();
  });
}

// An event a search found (highlighted by the server) is scrolled into view, in the page
// as loaded and in what htmx swaps in.
function scrollToMatch(root) {
  const match = root.querySelector("[data-scroll-into-view]");
  if (match) match.scrollIntoView({ block: "center" });
}
scrollToMatch(document);

// The stat card whose invoices the table lists is marked current; the server marks it on
// every page it draws, and the table it swaps in says which card it lists (#table-card).
function markCurrentCard() {
  const listed = document.getElementById("table-card");
  if (!listed) return;
  document.querySelectorAll("#cards a.card[data-card]").forEach((card) => {
    if (card.dataset.card === listed.dataset.card) card.setAttribute("aria-current", "true");
    else card.removeAttribute("aria-current");
  });
}

// On a phone the filters take a whole screen before the first invoice: fold them when
// none is set (the server leaves them open, for browsers without JavaScript), and keep
// the summary's count of set filters true as they change.
(() => {
  const filterPanel = document.querySelector("details.filter-panel");
  if (!filterPanel) return;
  if (filterPanel.hasAttribute("data-fold-on-phone") && window.matchMedia("(max-width: 640px)").matches) {
    filterPanel.open = false;
  }
  const countSet = () => {
    const fields = filterPanel.querySelectorAll(".field input, .field select");
    const set = Array.from(fields).filter((field) => field.value.trim() !== "").length;
    filterPanel.querySelector("[data-active-count]").textContent = set ? `· ${set} active` : "";
  };
  filterPanel.addEventListener("change", countSet);
  // A choice in a select applies at once. Listened for here, on the panel, because the
  // fields themselves are swapped with each answer (they carry its errors).
  filterPanel.addEventListener("change", (event) => {
    if (event.target.tagName === "SELECT") htmx.trigger(filterPanel.closest("form"), "select-changed");
  });
})();
