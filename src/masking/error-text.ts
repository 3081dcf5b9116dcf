// Server error messages can quote the very values masking hides: PostgreSQL's "invalid input
// syntax for type integer: "ada@example.com"" (data exceptions, class 22), constraint
// violations (class 23), and anything a function RAISEs (class P0). When a masking profile
// applies, such messages lose their quoted parts (or, for RAISE, all of their text) before
// they reach the caller or the audit record. Identifiers quoted in the same messages go too:
// over-hiding an error is better than leaking a value.

const QUOTED = /"[^]*"/;

export const WITHHELD_ERROR_TEXT = '[withheld: the message may quote masked values]';

/** The message to show for an error of SQLSTATE `code` while a masking profile applies. */
export function errorMessageUnderMasking(code: string | undefined, message: string): string {
  const cls = (code ?? '').slice(0, 2).toUpperCase();
  if (cls === 'P0') return WITHHELD_ERROR_TEXT;
  if (cls === '22' || cls === '23') return message.replace(QUOTED, '"[withheld]"');
  return message;
}
