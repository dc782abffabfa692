/** The spool-size and free-disk gauges on a real temporary audit directory. */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { registerDiskMetrics } from '../../../src/metrics/disk-metrics.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'semibot-disk-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const value = (text: string, name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);

describe('disk metrics', () => {
  it('reports the spool segments’ bytes (other files ignored) and the free space', async () => {
    await mkdir(path.join(dir, 'spool'));
    await writeFile(path.join(dir, 'spool', 'spool-0000000000000001.seg'), Buffer.alloc(1000));
    await writeFile(path.join(dir, 'spool', 'spool-0000000000000002.seg'), Buffer.alloc(234));
    await writeFile(path.join(dir, 'spool', 'notes.txt'), Buffer.alloc(50));
    const registry = new Registry();
    registerDiskMetrics(registry, dir);
    const text = await registry.metrics();
    expect(value(text, 'runtime_audit_spool_bytes')).toBe(1234);
    expect(value(text, 'runtime_audit_dir_free_bytes')).toBeGreaterThan(0);
  });

  it('reports 0 spool bytes without a spool, and free space from the nearest existing parent', async () => {
    const registry = new Registry();
    registerDiskMetrics(registry, path.join(dir, 'not', 'created', 'yet'));
    const text = await registry.metrics();
    expect(value(text, 'runtime_audit_spool_bytes')).toBe(0);
    expect(value(text, 'runtime_audit_dir_free_bytes')).toBeGreaterThan(0);
  });
});
