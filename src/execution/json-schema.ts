/**
 * JSON Schema validation of action params (ajv: compiled validators, draft-07 and 2019+).
 * Schemas come from tools, skills and MCP servers; each is compiled once per thread.
 */
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsPlugin from 'ajv-formats';
import { RuntimeError } from '../errors.ts';

const ajv = new Ajv({ allErrors: false, strict: false, validateSchema: true, allowUnionTypes: true });
// MCP servers declare formats (uri, email, date-time, …): checked, not ignored with a console warning.
const addFormats = addFormatsPlugin as unknown as (a: Ajv) => Ajv;
addFormats(ajv);
const compiled = new WeakMap<object, ValidateFunction>();

export type ParamsValidator = (params: Record<string, unknown>) => string | undefined;

/** Compiles a schema into a function that returns undefined when valid, or a readable problem. */
export function compileParamsValidator(schema: Record<string, unknown>, owner: string): ParamsValidator {
  let validate = compiled.get(schema);
  if (!validate) {
    try {
      validate = ajv.compile(schema);
    } catch (err) {
      throw new RuntimeError('invalid_context', `${owner} has an invalid input schema: ${(err as Error).message}`);
    }
    compiled.set(schema, validate);
  }
  const fn = validate;
  return (params) => {
    if (fn(params)) return undefined;
    const e = fn.errors?.[0];
    if (!e) return 'params are invalid';
    const where = e.instancePath ? `params${e.instancePath.replaceAll('/', '.')}` : 'params';
    const extra =
      e.keyword === 'additionalProperties'
        ? ` (${String((e.params as { additionalProperty?: string }).additionalProperty)})`
        : e.keyword === 'enum'
          ? ` (${JSON.stringify((e.params as { allowedValues?: unknown }).allowedValues)})`
          : '';
    return `${where} ${e.message ?? 'is invalid'}${extra}`;
  };
}
