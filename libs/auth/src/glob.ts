/**
 * Owns repository globs in collector scopes: `acme/*`, `acme/**`, an exact `owner/name`, and
 * stars anywhere (in the owner too, for a name prefix in every organisation). `*` matches within
 * one path segment, `**` (or any longer run of stars) across segments; every other character is
 * literal. Matching ignores case, since repositories are canonical lower-case `owner/name`.
 *
 * The matcher walks the pattern and the value together instead of compiling a regular
 * expression. A pattern is then never code (nothing to escape, nothing to inject), and the cost
 * is bounded by pattern length × value length: a regex such as `[^/]*a[^/]*a[^/]*b` backtracks
 * polynomially on a long value an attacker chooses.
 */

type Token = { kind: 'literal'; char: string } | { kind: 'star' } | { kind: 'globstar' };

function tokenize(pattern: string): Token[] {
  const tokens: Token[] = [];
  for (let i = 0; i < pattern.length;) {
    if (pattern[i] !== '*') {
      tokens.push({ kind: 'literal', char: pattern[i] as string });
      i += 1;
      continue;
    }
    let run = 0;
    while (pattern[i + run] === '*') run += 1;
    tokens.push({ kind: run === 1 ? 'star' : 'globstar' });
    i += run;
  }
  return tokens;
}

/** Whether `value` matches the repository glob `pattern`, ignoring case. */
export function matchesGlob(pattern: string, value: string): boolean {
  const tokens = tokenize(pattern.toLowerCase());
  const text = value.toLowerCase();
  // matched[j]: the tokens seen so far can match the first j characters of the value.
  let matched = new Array<boolean>(text.length + 1).fill(false);
  matched[0] = true;
  for (const token of tokens) {
    const next = new Array<boolean>(text.length + 1).fill(false);
    for (let j = 0; j <= text.length; j += 1) {
      const char = text[j - 1];
      if (token.kind === 'literal') next[j] = j > 0 && matched[j - 1] === true && char === token.char;
      else
        next[j] =
          matched[j] === true ||
          (j > 0 && next[j - 1] === true && (token.kind === 'globstar' || char !== '/'));
    }
    matched = next;
  }
  return matched[text.length] === true;
}
