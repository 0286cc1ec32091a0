// Bridge (issue 21): an emoji chosen in the picker goes in at the composer's caret. The
// composer is an uncontrolled textarea, so its text and caret live only in the browser.
export function insertAtCaret(id, text) {
  const el = document.getElementById(id);
  if (!el || typeof text !== "string") return;
  const start = el.selectionStart ?? el.value.length;
  el.setRangeText(text, start, el.selectionEnd ?? start, "end");
  el.dispatchEvent(new Event("input", { bubbles: true })); // saved as a draft, like typing
  el.focus();
}
