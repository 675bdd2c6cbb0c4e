// The one DOM helper the dashboard's modules share.

// A new element: <tag class="cls">text</tag> (cls and text optional).
export function el(d, tag, cls, text) {
  const e = d.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}
