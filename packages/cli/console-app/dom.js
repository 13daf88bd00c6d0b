// DOM helpers shared by the console's views: every value from a store goes in as text.

/** An element with `text` as its text content (never parsed as markup). */
export function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}
