import { findLeaks, markerForms } from './leak-scan';

const TOKEN = 'tok-TOKENMARK-5f2c9a';
const CONTENT = 'CONTENTMARK-77ab01';

const logLine = (message: Record<string, unknown>) =>
  JSON.stringify({ level: 'log', pid: 1, timestamp: 0, context: 'enricher', message });

/** An OTLP/JSON export as the SDK sends it, with `attributes` placed where the caller says. */
const otlpExport = (where: 'resource' | 'span' | 'event', value: string) =>
  JSON.stringify({
    resourceSpans: [
      {
        resource: { attributes: where === 'resource' ? [{ key: 'host.name', value: { stringValue: value } }] : [] },
        scopeSpans: [
          {
            spans: [
              {
                name: 'GET',
                attributes: where === 'span' ? [{ key: 'url.full', value: { stringValue: value } }] : [],
                events:
                  where === 'event'
                    ? [{ name: 'exception', attributes: [{ key: 'exception.message', value: { stringValue: value } }] }]
                    : [],
              },
            ],
          },
        ],
      },
    ],
  });

describe('findLeaks: the check that no secret or user content reaches logs or spans', () => {
  it('finds nothing in clean logs and spans', () => {
    const texts = [
      { source: 'enricher.log', text: `${logLine({ msg: 'enricher started', port: 3000 })}\n` },
      { source: 'spans', text: otlpExport('span', 'http://127.0.0.1:4010/api/1.0/tasks/1208000000000001') },
    ];
    expect(findLeaks(texts, { token: TOKEN, content: CONTENT })).toEqual([]);
  });

  it('catches a planted token in a log line, naming the marker, the file and the line', () => {
    const texts = [
      {
        source: 'enricher.log',
        text: [logLine({ msg: 'ok' }), logLine({ msg: 'request failed', header: `Bearer ${TOKEN}` })].join('\n'),
      },
    ];
    expect(findLeaks(texts, { token: TOKEN, content: CONTENT })).toEqual([
      { marker: 'token', source: 'enricher.log', line: 2, excerpt: expect.stringContaining(`Bearer ${TOKEN}`) },
    ]);
  });

  it.each(['resource', 'span', 'event'] as const)(
    'catches user content planted in a %s attribute of an export',
    (where) => {
      const leaks = findLeaks([{ source: 'spans', text: otlpExport(where, `task "${CONTENT}" failed`) }], {
        content: CONTENT,
      });
      expect(leaks.map((l) => [l.marker, l.source])).toEqual([['content', 'spans']]);
    },
  );

  it('catches a marker URL-encoded in a query string, JSON-escaped twice, or base64-encoded at any alignment', () => {
    const secret = 'a secret/with=SECRETMARK "quotes"';
    const carriers = [
      `http://asana/api/1.0/events?sync=${encodeURIComponent(secret)}`,
      JSON.stringify({ body: JSON.stringify({ secret }) }),
      ...['', 'x', 'xy'].map(
        (prefix) => `authorization: Basic ${Buffer.from(`${prefix}${secret}`).toString('base64')}`,
      ),
    ];
    for (const text of carriers) {
      expect({ text, leaks: findLeaks([{ source: 's', text }], { secret }).length }).toEqual({ text, leaks: 1 });
    }
    expect(markerForms(CONTENT)[0]).toBe(CONTENT);
  });
});
