import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { freePort } from '@asana-stream/testing';

const SCRIPT = join(resolve(__dirname, '../..'), 'scripts/postgres.sh');

function postgresScript(databaseUrl?: string): Promise<{ code: number; output: string }> {
  const env = { ...process.env };
  if (databaseUrl === undefined) delete env.DATABASE_URL;
  else env.DATABASE_URL = databaseUrl;
  return new Promise((done) => {
    execFile('bash', [SCRIPT, 'ensure'], { env, timeout: 60_000 }, (error, stdout, stderr) => {
      done({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, output: `${stdout}${stderr}` });
    });
  });
}

describe('scripts/postgres.sh', () => {
  it('reports the server that answers at DATABASE_URL', async () => {
    const result = await postgresScript();
    expect(result).toEqual({ code: 0, output: expect.stringContaining('answering at 127.0.0.1:5432') });
  });

  it("says what to do when nothing answers on a port the machine's cluster does not serve", async () => {
    const port = await freePort();
    const result = await postgresScript(`postgres://postgres@127.0.0.1:${port}/asana_stream`);
    expect(result.code).toBe(1);
    expect(result.output).toContain(`no server answers at 127.0.0.1:${port}`);
    expect(result.output).toMatch(/pg_ctlcluster .* start/);
    expect(result.output).toMatch(/point DATABASE_URL at a reachable server/);
    expect(result.output).not.toMatch(/starting the machine's cluster/);
  });
});
