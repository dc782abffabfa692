/**
 * Small guards for tool params. The executor validates params against each tool's
 * inputSchema first; these checks keep a tool safe when it is called directly.
 */
import { RuntimeError } from '../../errors.ts';

/** Returns `params[key]` if it is a string, else throws invalid_params. */
export function requireString(tool: string, params: Record<string, unknown>, key: string): string {
  const value = params[key];
  if (typeof value !== 'string') {
    throw new RuntimeError('invalid_params', `${tool}: "${key}" must be a string`);
  }
  return value;
}

/** Returns `params[key]` if it is an integer within [min, max], undefined if absent, else throws. */
export function optionalInteger(
  tool: string,
  params: Record<string, unknown>,
  key: string,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number | undefined {
  const value = params[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new RuntimeError('invalid_params', `${tool}: "${key}" must be an integer from ${min} to ${max}`);
  }
  return value;
}
