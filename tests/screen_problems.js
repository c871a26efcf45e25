// What is wrong with the screen as it is now (empty: nothing): run by tests in the page.
// The page must not scroll; every visible control must be inside the screen and inside its
// box (dialog, overlay), at least 48 px each way; the status bar must show.
() => {
  const vw = innerWidth, vh = innerHeight, problems = [];
  const root = document.scrollingElement;
  if (root.scrollHeight > vh + 1 || root.scrollWidth > vw + 1)
    problems.push(`page scrolls: ${root.scrollWidth}x${root.scrollHeight}`);
  const name = (el) => `${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""}[${(el.name || el.textContent || "").trim().slice(0, 20)}]`;
  const inside = (r, box) => r.top >= box.top - 1 && r.left >= box.left - 1 && r.bottom <= box.bottom + 1 && r.right <= box.right + 1;
  const screen = { top: 0, left: 0, bottom: vh, right: vw };
  for (const el of document.querySelectorAll("button, input, select, textarea, fieldset.choices label")) {
    if (!el.checkVisibility()) continue;
    if (el.matches("fieldset.choices label > input")) continue;  // the whole label is the target

    const r = el.getBoundingClientRect();
    if (!r.width && !r.height) continue;
    const recent = el.closest("#recent-wrap");
    if (recent && r.top >= recent.getBoundingClientRect().bottom) continue;  // older entries left out
    if (!inside(r, screen)) problems.push(`${name(el)} outside the screen: ${JSON.stringify(r)}`);
    const dialog = el.closest("dialog[open], #hold, #verdict, #recent-wrap");
    if (dialog && !inside(r, dialog.getBoundingClientRect())) problems.push(`${name(el)} cut off by its box`);
    if (r.height < 47.5 || r.width < 47.5) problems.push(`${name(el)} is ${Math.round(r.width)}x${Math.round(r.height)} px`);
  }
  const status = document.querySelector("#status").getBoundingClientRect();
  if (!inside(status, screen) || !status.height) problems.push("status bar not visible");
  return problems;
}
