// Every string a user (or a tool, or another host) gave that a message
// repeats goes through quoted(): the reader sees exactly where it starts and
// ends, and nothing in it can move the cursor, reorder the line or hide.

// JSON.stringify escapes C0 controls and lone surrogates but passes DEL, C1
// controls, format characters (bidi overrides) and line separators through.
const UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;

/** A user's string as a double-quoted literal with every control or invisible character escaped. */
export function quoted(text: string): string {
  return JSON.stringify(text).replace(UNPRINTABLE, escapeUnits);
}

/** `\uXXXX` for each UTF-16 unit: a character above U+FFFF (a tag character) becomes its whole surrogate pair. */
function escapeUnits(character: string): string {
  let escaped = '';
  for (let i = 0; i < character.length; i++) escaped += `\\u${character.charCodeAt(i).toString(16).padStart(4, '0')}`;
  return escaped;
}
