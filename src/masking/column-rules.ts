// Column-name rules: a column called email, phone_number, ssn, card_number, iban,
// password_hash, github_token, api_key, date_of_birth, last_name, billing_address ... holds
// values of that type whatever they look like, so the whole value is replaced.
//
// Names are normalised first: camelCase and separators become "_", case is ignored.

const RULES: [type: string, pattern: RegExp][] = [
  ['email', /(?:^|_)e_?mail(?:_?addr(?:ess)?)?$/],
  ['phone', /(?:^|_)(?:phone|telephone|tel|mobile|cell|cellphone|fax|msisdn)(?:_?(?:no|num|number))?$/],
  ['ssn', /(?:^|_)(?:ssn|social_security(?:_no|_num|_number)?)$/],
  ['card', /(?:^|_)(?:card_?(?:no|num|number)|cc|cc_?(?:no|num|number)|credit_?card(?:_?(?:no|num|number))?|pan)$/],
  ['iban', /(?:^|_)(?:iban|bank_?account(?:_?(?:no|num|number))?)$/],
  [
    'secret',
    /(?:^|_)(?:password|passwd|pwd|passphrase|secret|token|api_?key|access_?key|secret_?key|private_?key|client_?secret|credentials?|auth_?key|session_?key|signing_?key|master_?key|encryption_?key|otp_?secret|totp_?secret|recovery_?codes?)(?:_?(?:hash|digest|enc|encrypted|ciphertext|b64|value|\d+))?$/,
  ],
  ['dob', /(?:^|_)(?:dob|date_?of_?birth|birth_?date|birthday|born_?on)$/],
  ['name', /(?:^|_)(?:first|last|full|given|family|middle|maiden|customer|patient|contact|card_?holder|holder|display|legal)_?name$|(?:^|_)(?:surname|forename)$/],
  ['address', /^(?:(?:home|mailing|billing|shipping|postal|street|delivery|residential|customer)_)?(?:address|addr|street)(?:_?(?:line)?_?\d)?$|^address_line/],
];

/** lower_snake_case of a column name (camelCase split, separators unified). */
export function normaliseColumn(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
}

/** The type a column's name says its values have, among the enabled types; undefined if none. */
export function columnType(name: string, enabled: ReadonlySet<string>): string | undefined {
  const normal = normaliseColumn(name);
  for (const [type, pattern] of RULES) {
    if (enabled.has(type) && pattern.test(normal)) return type;
  }
  return undefined;
}

/** A case-insensitive glob (`*` matches any run of characters) as a predicate. */
export function globMatcher(globs: readonly string[]): (name: string) => boolean {
  if (globs.length === 0) return () => false;
  const patterns = globs.map((glob) => new RegExp(`^${glob.split('*').map(escape).join('.*')}$`, 'i'));
  return (name) => patterns.some((pattern) => pattern.test(name));
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
