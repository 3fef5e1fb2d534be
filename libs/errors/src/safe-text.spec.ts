import { MAX_TEXT, safeText } from './safe-text';

describe('safeText', () => {
  it.each([
    ['connect to postgres://app:hunter2@db:5432/asana failed', 'connect to postgres://***@db:5432/asana failed'],
    ['authorization: Bearer 0/abc123def', 'authorization: Bearer ***'],
    ['password=hunter2 host=db', 'password=*** host=db'],
    ['X-Hook-Secret: abcdef0123', 'X-Hook-Secret: ***'],
    ['"token": "abc"', '"token": "***"'],
    ['ASANA_TOKEN=0/abc; next', 'ASANA_TOKEN=***; next'],
  ])('masks credentials in %p', (input, want) => {
    expect(safeText(input)).toBe(want);
  });

  it('drops everything from the first brace: a message or body printed as JSON', () => {
    expect(safeText('Invalid message without value for topic "t": {"key":"1","secret":"x"}')).toBe(
      'Invalid message without value for topic "t":',
    );
    expect(safeText('{"whole":"body"}')).toBe('');
  });

  it('makes one line of at most MAX_TEXT characters', () => {
    expect(safeText('a\n  b\tc ')).toBe('a b c');
    const long = safeText('x'.repeat(1_000));
    expect(long).toHaveLength(MAX_TEXT);
    expect(long.endsWith('…')).toBe(true);
  });
});
