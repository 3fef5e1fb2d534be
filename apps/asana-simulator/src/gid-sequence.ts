/**
 * Hands out Asana-looking gids: 16-digit numeric strings, increasing in creation order like
 * Asana's. Deterministic, so a seeded workspace has the same gids on every start.
 */
export class GidSequence {
  private last: number;

  constructor(first = 1_208_000_000_000_001) {
    this.last = first - 1;
  }

  next(): string {
    this.last += 1;
    return String(this.last);
  }
}
