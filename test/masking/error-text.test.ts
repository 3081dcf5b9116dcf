import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileMaskingProfile, maskResult } from '../../src/masking/columns.js';
import { WITHHELD_ERROR_TEXT, errorMessageUnderMasking } from '../../src/masking/error-text.js';

describe('error messages under masking', () => {
  it('hides quoted values of data exceptions and constraint violations, all of a RAISE, nothing else', () => {
    assert.equal(errorMessageUnderMasking('22P02', 'invalid input syntax for type integer: "ada@example.com"'), 'invalid input syntax for type integer: "[withheld]"');
    assert.equal(errorMessageUnderMasking('23505', 'duplicate key value violates unique constraint "people_email_key"'), 'duplicate key value violates unique constraint "[withheld]"');
    assert.equal(errorMessageUnderMasking('22007', 'invalid input syntax for type date: "a"b" and "c"'), 'invalid input syntax for type date: "[withheld]"');
    assert.equal(errorMessageUnderMasking('P0001', 'secret is hunter2'), WITHHELD_ERROR_TEXT);
    assert.equal(errorMessageUnderMasking('42P01', 'relation "nope" does not exist'), 'relation "nope" does not exist');
  });

  it('the gate masker applies it with a column-only profile', () => {
    const profile = compileMaskingProfile('pii', { columns: ['email'], replacement: 'redact' });
    const { result } = maskResult({ ok: false, error: { code: '22P02', message: 'invalid input syntax for type integer: "ada@example.com"' } }, profile);
    assert.doesNotMatch(result.error!.message, /ada/);
  });
});
