import { ConfigError } from '@asana-stream/config';
import { helpText } from './help';
import { loadSimulatorConfig } from './simulator.config';

describe('simulator config', () => {
  it('starts with sane defaults from an empty environment', () => {
    const config = loadSimulatorConfig({});
    expect(config.http.PORT).toBe(4010);
    expect(config.sim).toMatchObject({
      SIM_TOKEN: 'sim-token',
      SIM_DELIVERY_DELAY_MS: 100,
      SIM_HEARTBEAT_INTERVAL_MS: 8 * 3600_000,
      SIM_RETRY_WINDOW_MS: 24 * 3600_000,
      SIM_RECEIVER_TIMEOUT_MS: 10_000,
    });
  });

  it('reads numbers from the environment', () => {
    const config = loadSimulatorConfig({ PORT: '5000', SIM_DELIVERY_DELAY_MS: '5', SIM_SEED_USERS: '7' });
    expect(config.http.PORT).toBe(5000);
    expect(config.sim.SIM_DELIVERY_DELAY_MS).toBe(5);
    expect(config.sim.SIM_SEED_USERS).toBe(7);
  });

  it('names every bad variable at once and hides the token', () => {
    let error: unknown;
    try {
      loadSimulatorConfig({ PORT: 'x', SIM_RETRY_BASE_MS: '-1', SIM_TOKEN: 'has space' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    expect(message).toMatch(/PORT/);
    expect(message).toMatch(/SIM_RETRY_BASE_MS/);
    expect(message).toMatch(/SIM_TOKEN=\(hidden\)/);
    expect(message).not.toMatch(/has space/);
  });

  it('lists every variable with its default in --help', () => {
    const text = helpText();
    for (const name of [
      'PORT',
      'SIM_TOKEN',
      'SIM_DELIVERY_DELAY_MS',
      'SIM_HEARTBEAT_INTERVAL_MS',
      'SIM_RETRY_WINDOW_MS',
    ]) {
      expect(text).toMatch(new RegExp(`^  ${name}\\s`, 'm'));
    }
    expect(text).toMatch(/4010/);
    expect(text).toMatch(/\/_sim\/traffic/);
    expect(text).toMatch(/GET {4}\/events\?resource=R\[&sync=S\]/);
    expect(text).toMatch(/\/_sim\/events\/expire-sync-tokens/);
  });
});
