/*
 * Asana's rich text (`html_notes`, `html_text`) is a `<body>` of a small HTML subset; these convert
 * between it and plain text for the fields the simulator keeps.
 */

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' };
const ENTITIES: Record<string, string> = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#39;': "'" };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ESCAPES[c]);
}

/** Plain text as Asana's rich text: escaped, inside `<body>`. */
export function htmlBody(text: string): string {
  return `<body>${escapeHtml(text)}</body>`;
}

/** The text content of rich text: tags dropped, entities decoded. */
export function textOfHtml(html: string): string {
  return html.replace(/<[^>]*>/g, '').replace(/&(amp|lt|gt|quot|#39);/g, (entity) => ENTITIES[entity]);
}
