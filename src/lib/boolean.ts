// One answer to "is this word yes or no?" for every place a user types a
// boolean: driver options (-o retain=yes) and the environment
// (CUSTOM_GLUSTER_TLS=1). Each caller says what a missing value means and
// words its own refusal.

const TRUE_WORDS: readonly string[] = ['true', 'yes', '1', 'on'];
const FALSE_WORDS: readonly string[] = ['false', 'no', '0', 'off'];

/** true/yes/1/on → true, false/no/0/off → false, in any case; anything else → undefined. */
export function parseBooleanWord(text: string): boolean | undefined {
  const word = text.toLowerCase();
  if (TRUE_WORDS.includes(word)) return true;
  if (FALSE_WORDS.includes(word)) return false;
  return undefined;
}
