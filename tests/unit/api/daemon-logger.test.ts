/** The daemon's log files: every line in the application log, errors also in the error log; reopen() follows a rename. */
import { mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createDaemonLogger } from '../../../src/log.ts';

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const lines = async (file: string) =>
  (await readFile(file, 'utf8'))
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { level: number; msg: string });

describe('daemon logger', () => {
  it('writes JSON lines at LOG_LEVEL and above; error and fatal also go to the error log', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'semibot-log-'));
    const logFile = path.join(dir, 'logs', 'app.log');
    const errorFile = path.join(dir, 'logs', 'error.log');
    const { logger, flush } = createDaemonLogger({
      log_level: 'info',
      server: { log_file: logFile, error_log_file: errorFile } as never,
    });
    logger.debug('too quiet');
    logger.info('hello');
    logger.error('boom');
    flush();
    expect((await lines(logFile)).map((l) => l.msg)).toEqual(['hello', 'boom']);
    expect((await lines(errorFile)).map((l) => [l.level, l.msg])).toEqual([[50, 'boom']]);
  });

  it('reopen() starts a new file after logrotate renamed the old one', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'semibot-log-'));
    const logFile = path.join(dir, 'app.log');
    const { logger, reopen, flush } = createDaemonLogger({
      log_level: 'info',
      server: { log_file: logFile } as never,
    });
    logger.info('before rotation');
    await rename(logFile, `${logFile}.1`);
    logger.info('still the old file');
    reopen();
    logger.info('after rotation');
    flush();
    expect((await lines(`${logFile}.1`)).map((l) => l.msg)).toEqual([
      'before rotation',
      'still the old file',
    ]);
    expect((await lines(logFile)).map((l) => l.msg)).toEqual(['after rotation']);
  });
});
