/**
 * Decides when a delivery's contact time is worth writing. Every delivery updating its
 * subscription row would put one write per request on a single hot row; "last delivery" only
 * needs to be right to within `intervalMs`. Heartbeats are rare (every 8 h) and always written:
 * they are how a dead webhook is told from a quiet one.
 */
export class ContactThrottle {
  private readonly lastWritten = new Map<string, number>();

  constructor(private readonly intervalMs: number) {}

  shouldRecord(subscriptionId: string, heartbeat: boolean, nowMs: number): boolean {
    const last = this.lastWritten.get(subscriptionId);
    if (!heartbeat && last !== undefined && nowMs - last < this.intervalMs) return false;
    this.lastWritten.set(subscriptionId, nowMs);
    return true;
  }
}
