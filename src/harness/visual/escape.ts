/**
 * User data (keys, values, messages) reaches every output format. It is first made plain
 * (no ANSI escapes or control characters, bounded length), then escaped for its format.
 */

/** Characters kept of one piece of user data in any picture. */
export const MAX_TEXT_CHARS = 400;

// CSI/OSC escape sequences first, then any remaining C0/C1 control character (keeping \n and \t).
const ANSI_SEQUENCE = /\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)|\u001b[@-_]/g;
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;
// Lone surrogates are not valid in XML or JSON consumers that validate UTF-16.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Plain text: escape sequences and control characters removed, at most `maxChars` kept. */
export function plainText(text: string, maxChars: number = MAX_TEXT_CHARS): string {
  const cleaned = text.replace(ANSI_SEQUENCE, '').replace(CONTROL, '').replace(LONE_SURROGATE, '\ufffd');
  if (cleaned.length <= maxChars) return cleaned;
  return `${cleaned.slice(0, maxChars)}… (${cleaned.length - maxChars} more characters)`;
}

/** One line of plain text: newlines and tabs become visible marks. */
export function plainLine(text: string, maxChars: number = MAX_TEXT_CHARS): string {
  return plainText(text.replace(/\r\n|\r|\n/g, ' ⏎ ').replace(/\t/g, ' '), maxChars);
}

/** Text content and attribute values in HTML and XML. */
export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/**
 * Mermaid message and note text. Mermaid reads `;`, `#`, `%%`, `<`, `>`, quotes, braces and
 * line breaks as syntax, and its entity codes (`#59;`) are not decoded everywhere (notes in
 * Mermaid 11 show them raw), so those characters become look-alike full-width characters:
 * the text stays readable and can never end or open a statement.
 */
export function escapeMermaid(text: string): string {
  return plainLine(text).replace(/[#;<>"%{}\\]/g, (c) => MERMAID_LOOK_ALIKES[c]!);
}

const MERMAID_LOOK_ALIKES: Readonly<Record<string, string>> = {
  '#': '＃', ';': '；', '<': '‹', '>': '›', '"': '＂', '%': '％', '{': '｛', '}': '｝', '\\': '＼',
};

/** JSON embedded in an HTML <script>: no `</script>` or comment openers can close it early. */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}
