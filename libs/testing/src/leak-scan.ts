/** Text to search, named for the report: an app's log, the spans a receiver got. */
export interface ScannedText {
  source: string;
  text: string;
}

/** One place a marker was found. */
export interface Leak {
  marker: string;
  source: string;
  /** 1-based line of `source` it is on. */
  line: number;
  /** The text around it, to see what carried it. */
  excerpt: string;
}

/**
 * The forms a marker can take on its way into a log line or a span: as written, URL-encoded (a
 * query string), JSON-escaped once or twice (a body quoted in a log field), and base64 at each of the three alignments
 * a surrounding text can give it (an `Authorization: Basic` header, a Kafka payload dumped as
 * bytes). Markers are best made of letters, digits and dashes, which the first three keep as is.
 */
export function markerForms(marker: string): string[] {
  const escaped = JSON.stringify(marker).slice(1, -1);
  const forms = new Set([marker, encodeURIComponent(marker), escaped, JSON.stringify(escaped).slice(1, -1)]);
  for (let pad = 0; pad < 3; pad++) {
    const encoded = Buffer.from(`${'\0'.repeat(pad)}${marker}`).toString('base64');
    // Drop the characters that depend on the bytes before and after the marker.
    const start = Math.ceil((pad * 4) / 3) + (pad === 0 ? 0 : 1);
    const stable = encoded.slice(start, encoded.length - 4);
    if (stable.length >= 8) forms.add(stable);
  }
  return [...forms];
}

/**
 * Every place any of `markers` (unique strings planted as a secret, a token or user content)
 * appears in `texts`, in any of its `markerForms`. Empty when none leaked.
 */
export function findLeaks(texts: ScannedText[], markers: Record<string, string>): Leak[] {
  const leaks: Leak[] = [];
  for (const [name, marker] of Object.entries(markers)) {
    const forms = markerForms(marker);
    for (const { source, text } of texts) {
      const lines = text.split('\n');
      lines.forEach((line, index) => {
        const form = forms.find((f) => line.includes(f));
        if (form === undefined) return;
        const at = line.indexOf(form);
        leaks.push({
          marker: name,
          source,
          line: index + 1,
          excerpt: line.slice(Math.max(0, at - 160), at + form.length + 80),
        });
      });
    }
  }
  return leaks;
}
