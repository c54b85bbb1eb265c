/**
 * Owns the arithmetic that turns a pattern match into a finding: the Luhn check for card numbers,
 * the ISO 13616 mod-97 check for IBANs, and the Shannon entropy and character-class measures
 * the high-entropy detector uses. Pure functions of a string, shared by detectors and tests.
 */

/** True when the digits of `value` (separators ignored) pass the Luhn check. */
export function luhnValid(value: string): boolean {
  const digits = value.replace(/\D/g, '');
  if (digits.length === 0) return false;
  let sum = 0;
  for (let i = 0; i < digits.length; i += 1) {
    // Double every second digit counting from the right (the check digit is not doubled).
    let digit = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return sum % 10 === 0;
}

/** True when `value` (spaces ignored) is an IBAN whose mod-97 check holds (ISO 13616). */
export function ibanValid(value: string): boolean {
  const compact = value.replace(/ /g, '').toUpperCase();
  if (!/^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$/.test(compact)) return false;
  // Move the country code and check digits to the end, read letters as 10..35, then reduce
  // piecewise so no intermediate number exceeds what a double holds exactly.
  const rearranged = compact.slice(4) + compact.slice(0, 4);
  let remainder = 0;
  for (const char of rearranged) {
    const code = char.charCodeAt(0);
    const digits = code >= 65 ? String(code - 55) : char;
    for (const digit of digits) remainder = (remainder * 10 + (digit.charCodeAt(0) - 48)) % 97;
  }
  return remainder === 1;
}

/** Shannon entropy of `value` in bits per character, from its own character frequencies. */
export function shannonEntropy(value: string): number {
  if (value.length === 0) return 0;
  const frequencies = new Map<string, number>();
  for (const char of value) frequencies.set(char, (frequencies.get(char) ?? 0) + 1);
  let entropy = 0;
  for (const count of frequencies.values()) {
    const p = count / value.length;
    entropy -= p * Math.log2(p);
  }
  return entropy;
}

function charClass(code: number): number {
  if (code >= 48 && code <= 57) return 0;
  if (code >= 65 && code <= 90) return 1;
  return 2;
}

/**
 * How often adjacent alphanumerics change class (digit, upper, lower), symbols skipped, as a
 * fraction of pairs. Random base62 sits near 0.62 and base36 near 0.4; identifiers such as
 * `getUserSettings` or `k8s-prod-eu-west-1` stay below 0.25, which entropy alone does not show.
 */
export function classTransitionRate(value: string): number {
  const alnum = value.replace(/[^A-Za-z0-9]/g, '');
  if (alnum.length < 2) return 0;
  let transitions = 0;
  for (let i = 1; i < alnum.length; i += 1) {
    if (charClass(alnum.charCodeAt(i)) !== charClass(alnum.charCodeAt(i - 1))) transitions += 1;
  }
  return transitions / (alnum.length - 1);
}
