import { nextPage, paginate, readPageRequest } from './pagination';

const items = ['a', 'b', 'c', 'd', 'e'];
const all = () => true;

describe('pagination', () => {
  it('walks a list page by page with opaque offsets and ends with a null next offset', () => {
    const seen: string[] = [];
    let offset: string | undefined;
    for (let pages = 0; pages < 10; pages += 1) {
      const page = paginate(items, all, { limit: 2, offset }, 'list');
      seen.push(...page.items);
      if (page.nextOffset === null) break;
      expect(page.nextOffset).toMatch(/^[A-Za-z0-9_-]+$/);
      offset = page.nextOffset;
    }
    expect(seen).toEqual(items);
  });

  it('gives a null next offset when the last page ends exactly at the end', () => {
    expect(paginate(['a', 'b'], all, { limit: 2, offset: undefined }, 'list').nextOffset).toBeNull();
  });

  it('returns the whole list and no next page without limit or offset', () => {
    expect(paginate(items, all, { limit: undefined, offset: undefined }, 'list')).toEqual({
      items,
      nextOffset: undefined,
    });
  });

  it('skips hidden items without losing its place when an item is hidden between pages', () => {
    const hidden = new Set<string>();
    const visible = (item: string) => !hidden.has(item);
    const first = paginate(items, visible, { limit: 2, offset: undefined }, 'list');
    hidden.add('a');
    hidden.add('c');
    const second = paginate(items, visible, { limit: 2, offset: first.nextOffset as string }, 'list');
    expect(second.items).toEqual(['d', 'e']);
  });

  it('rejects an offset from another list or one it never issued', () => {
    const { nextOffset } = paginate(items, all, { limit: 1, offset: undefined }, 'list-a');
    expect(() => paginate(items, all, { limit: 1, offset: nextOffset as string }, 'list-b')).toThrow(/offset/);
    expect(() => paginate(items, all, { limit: 1, offset: 'garbage' }, 'list-a')).toThrow(/offset/);
  });

  it('accepts limits from 1 to 100 only', () => {
    expect(readPageRequest({ limit: '1' }).limit).toBe(1);
    expect(readPageRequest({ limit: '100' }).limit).toBe(100);
    for (const limit of ['0', '101', 'ten', '1.5']) {
      expect(() => readPageRequest({ limit })).toThrow(/limit/);
    }
  });

  it('builds next_page with the request path relative to /api/1.0 and a full uri', () => {
    expect(nextPage('/api/1.0/projects/7/tasks?limit=2&opt_fields=name', 'http://sim:1', 'TOKEN')).toEqual({
      offset: 'TOKEN',
      path: '/projects/7/tasks?limit=2&opt_fields=name&offset=TOKEN',
      uri: 'http://sim:1/api/1.0/projects/7/tasks?limit=2&opt_fields=name&offset=TOKEN',
    });
  });
});
