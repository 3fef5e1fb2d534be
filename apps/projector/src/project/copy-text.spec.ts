import { copyTextField, copyTextLine } from './copy-text';

describe('copyTextField', () => {
  it.each<[string, string | null, string]>([
    ['null as \\N', null, '\\N'],
    ['the empty string as itself (not null)', '', ''],
    ['plain text unchanged', '1200000000000001', '1200000000000001'],
    ['a backslash doubled', 'a\\b', 'a\\\\b'],
    ['a newline escaped', 'a\nb', 'a\\nb'],
    ['a carriage return escaped', 'a\rb', 'a\\rb'],
    ['a tab escaped', 'a\tb', 'a\\tb'],
    ['every special at once, in place', '\\\n\r\t', '\\\\\\n\\r\\t'],
    ['the two characters \\N as text, not null', '\\N', '\\\\N'],
    ['other control characters and non-ASCII unchanged', 'a\u0001é🚀', 'a\u0001é🚀'],
  ])('%s', (_name, value, expected) => {
    expect(copyTextField(value)).toBe(expected);
  });
});

describe('copyTextLine', () => {
  it('joins the escaped fields with tabs and ends the line, null as \\N', () => {
    expect(copyTextLine(['a', null, 'b\tc', '']).toString('utf8')).toBe('a\t\\N\tb\\tc\t\n');
  });

  it('is UTF-8', () => {
    expect([...copyTextLine(['é'])]).toEqual([0xc3, 0xa9, 0x0a]);
  });
});
