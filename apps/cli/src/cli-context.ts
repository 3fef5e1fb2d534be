import type { CliConfig } from '@asana-stream/config';

/** What every command gets: validated config, progress output (stderr) and result output (stdout). */
export interface CliContext {
  config: CliConfig;
  say: (line: string) => void;
  print: (line: string) => void;
}
