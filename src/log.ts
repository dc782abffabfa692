/** The pino root logger and its children (one per actor, with session ids where known). */
import { pino, type Logger, type DestinationStream } from 'pino';
import type { Config } from '../config/schema.ts';

export type { Logger };

export function createLogger(config: Pick<Config, 'log_level'>, destination?: DestinationStream): Logger {
  // stderr by default: stdout belongs to command output (`run --json` prints events there).
  return pino({ level: config.log_level, base: { service: 'semibot-runtime' } }, destination ?? pino.destination(2));
}
