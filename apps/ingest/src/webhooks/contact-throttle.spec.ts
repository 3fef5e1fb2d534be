import { ContactThrottle } from './contact-throttle';

describe('ContactThrottle', () => {
  it("records a subscription's first delivery", () => {
    expect(new ContactThrottle(10_000).shouldRecord('s1', false, 0)).toBe(true);
  });

  it('skips deliveries within the interval of the last write, and records the first one after it', () => {
    const throttle = new ContactThrottle(10_000);
    expect(throttle.shouldRecord('s1', false, 1_000)).toBe(true);
    expect(throttle.shouldRecord('s1', false, 5_000)).toBe(false);
    expect(throttle.shouldRecord('s1', false, 10_999)).toBe(false);
    expect(throttle.shouldRecord('s1', false, 11_000)).toBe(true);
    expect(throttle.shouldRecord('s1', false, 12_000)).toBe(false);
  });

  it('always records a heartbeat, even right after a delivery', () => {
    const throttle = new ContactThrottle(10_000);
    expect(throttle.shouldRecord('s1', false, 0)).toBe(true);
    expect(throttle.shouldRecord('s1', true, 1)).toBe(true);
    expect(throttle.shouldRecord('s1', true, 2)).toBe(true);
  });

  it('keeps each subscription to its own interval', () => {
    const throttle = new ContactThrottle(10_000);
    expect(throttle.shouldRecord('s1', false, 0)).toBe(true);
    expect(throttle.shouldRecord('s2', false, 1)).toBe(true);
    expect(throttle.shouldRecord('s1', false, 2)).toBe(false);
  });
});
