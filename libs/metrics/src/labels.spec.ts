import { codeLabel, LabelChildren, safeCollect, statusClass } from './labels';

describe('metric label helpers', () => {
  it('turns an error code into a label value', () => {
    expect(codeLabel('BAD_SIGNATURE')).toBe('bad_signature');
    expect(codeLabel('KAFKA_UNAVAILABLE')).toBe('kafka_unavailable');
  });

  it.each([
    [200, '2xx'],
    [204, '2xx'],
    [401, '4xx'],
    [413, '4xx'],
    [503, '5xx'],
    [99, 'other'],
    [600, 'other'],
    [200.5, 'other'],
  ])('classes status %s as %s', (status, label) => {
    expect(statusClass(status)).toBe(label);
  });

  it('makes one child per key, and no more than maxKeys kept', () => {
    const made: string[] = [];
    const children = new LabelChildren((key: string) => {
      made.push(key);
      return { key };
    }, 2);

    const first = children.get('a');
    expect(children.get('a')).toBe(first);
    children.get('b');
    children.get('c');
    children.get('c');

    expect(made).toEqual(['a', 'b', 'c', 'c']);
  });

  it('keeps a failing collect from failing the scrape, sync or async, with its receiver', async () => {
    const seen: unknown[] = [];
    const target = { name: 'metric' };
    const throwing = safeCollect(function (this: typeof target) {
      seen.push(this.name);
      throw new Error('boom');
    });
    const rejecting = safeCollect(async function (this: typeof target) {
      seen.push(this.name);
      await Promise.reject(new Error('boom'));
    });

    await expect(throwing.call(target)).resolves.toBeUndefined();
    await expect(rejecting.call(target)).resolves.toBeUndefined();
    expect(seen).toEqual(['metric', 'metric']);
  });
});
