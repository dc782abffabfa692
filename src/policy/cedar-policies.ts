/**
 * A compiled Cedar policy set and its decisions (issue 20), with the Cedar engine's official
 * WebAssembly build. Compiled once per load in each thread that decides (a session worker, the
 * CLI): nothing is parsed per action.
 *
 * Entities (SPEC "Policy as code"): principal Agent::"<agent_id>" {org, user} in Org::"<org_id>";
 * action Action::"call"; resource Tool::"<action name>" {kind, server, risk}; context
 * {params, iteration, session_id}.
 *
 * Why the set is split: one Cedar call costs 100–200 µs here (the request crosses into
 * WebAssembly as JSON), more than the rest of an action. Most policies never read `context`, so
 * their verdict depends on the agent and the tool only, and is cached per (agent, tool). Only
 * the policies that read `context` AND whose scope can match the request are evaluated per
 * action; for a tool no such policy names, an action costs one map lookup.
 *
 *   context-free permits / forbids ─► evaluated once per (agent, tool), cached
 *   policies reading context ─► their scopes (conditions dropped) evaluated once per (agent, tool):
 *                               the ones that can apply ─► evaluated per action, as one small set
 *
 * Decision (Cedar's semantics): any satisfied forbid denies; else a satisfied permit allows; else
 * deny (default deny). One deviation, fail-closed: a forbid whose evaluation errors (a param of
 * an unexpected type, say) counts as satisfied, so a crafted param cannot switch a forbid off.
 * An allow asks for a person when any satisfied permit is annotated @approval("required").
 */
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import type { PolicySource } from './policy-source.ts';
import { PolicyError, locate } from './policy-source.ts';

export type ToolRisk = 'high' | 'normal' | 'read_only';

export interface PolicyRequest {
  agent_id: string;
  org_id: string;
  user_id: string;
  session_id: string;
  iteration: number;
  /** the action's name (a capability of the session) */
  tool: string;
  kind: 'tool' | 'skill' | 'mcp';
  /** the MCP server's id, '' for built-in tools and skills */
  server: string;
  risk: ToolRisk;
  params: Record<string, unknown>;
}

export interface PolicyDecision {
  decision: 'allow' | 'deny';
  /** a satisfied permit asks for a person */
  approval: boolean;
  /** the policies that decided: the satisfied forbids of a deny, the satisfied permits of an allow */
  policy_ids: string[];
}

interface CompiledPolicy {
  id: string;
  effect: 'permit' | 'forbid';
  json: cedar.PolicyJson;
  readsContext: boolean;
  /** the context attribute paths its conditions read (context.params.path → [params, path]); null: the context as a whole */
  contextPaths: string[][] | null;
  /** reads principal or resource attributes, or their hierarchy (needs the entities) */
  readsEntities: boolean;
  approval: boolean;
}

/** The context-reading policies that can apply to one (agent, tool), preparsed, with their verdicts by what they read. */
interface RelevantSet {
  id: string;
  /** the context paths the set reads, or null when a policy reads the whole context (no caching) */
  paths: string[][] | null;
  /**
   * whether its policies read the agent's or tool's attributes or hierarchy: entities cost about
   * half of an evaluation, so a set that reads only context is evaluated without them
   */
  needsEntities: boolean;
  verdicts: Map<string, { permits: string[]; forbids: string[] }>;
}

interface PerTool {
  entities: cedar.EntityJson[];
  permits: string[];
  forbids: string[];
  /** the context-reading policies that can apply; undefined: none */
  relevant: RelevantSet | undefined;
}

/** Entries of the per-(agent, tool) cache before it is cleared (bounded memory per worker). */
const MAX_CACHED_TOOLS = 20_000;
/** Verdicts kept per relevant set, by the context values its policies read. */
const MAX_CACHED_VERDICTS = 10_000;
let setCounter = 0;

export class CedarPolicies {
  readonly source: PolicySource;
  readonly ids: readonly string[];
  readonly #byId: ReadonlyMap<string, CompiledPolicy>;
  readonly #prefix: string;
  readonly #contextFreePermits: string | undefined;
  readonly #contextFreeForbids: string | undefined;
  readonly #scopes: string | undefined;
  readonly #perTool = new Map<string, PerTool>();
  readonly #relevantSets = new Map<string, RelevantSet>();

  /** Parses, checks (file and line in every error) and preparses; throws PolicyError. */
  constructor(source: PolicySource) {
    this.source = source;
    const policies = compileFiles(source);
    this.#byId = new Map(policies.map((p) => [p.id, p]));
    this.ids = policies.map((p) => p.id);
    if (source.schema) validateAgainstSchema(source, policies);
    // Preparsed sets live in the engine's thread-local store under these names.
    this.#prefix = `semibot-${process.pid}-${++setCounter}`;
    const free = policies.filter((p) => !p.readsContext);
    this.#contextFreePermits = this.#preparse(
      'cf-permit',
      free.filter((p) => p.effect === 'permit'),
    );
    this.#contextFreeForbids = this.#preparse(
      'cf-forbid',
      free.filter((p) => p.effect === 'forbid'),
    );
    this.#scopes = this.#preparse(
      'scopes',
      policies
        .filter((p) => p.readsContext)
        .map((p) => ({ ...p, json: { ...p.json, effect: 'permit', conditions: [] } as cedar.PolicyJson })),
    );
  }

  decide(request: PolicyRequest): PolicyDecision {
    const tool = this.#tool(request);
    if (tool.forbids.length > 0) return { decision: 'deny', approval: false, policy_ids: tool.forbids };
    let permits = tool.permits;
    const relevant = tool.relevant;
    if (relevant !== undefined) {
      const full = {
        params: toCedarRecord(request.params),
        iteration: request.iteration,
        session_id: request.session_id,
      };
      // Only what the policies read is sent (less to cross into the engine), and the verdict
      // depends on the agent, the tool (fixed for this set) and exactly that: it is the cache key.
      const context = relevant.paths === null ? full : pick(full, relevant.paths);
      const key = relevant.paths === null ? undefined : JSON.stringify(context);
      let verdict = key === undefined ? undefined : relevant.verdicts.get(key);
      if (verdict === undefined) {
        const entities = relevant.needsEntities ? tool.entities : NO_ENTITIES;
        verdict = this.#read(evaluate(relevant.id, request, entities, context));
        if (key !== undefined) {
          if (relevant.verdicts.size >= MAX_CACHED_VERDICTS) relevant.verdicts.clear();
          relevant.verdicts.set(key, verdict);
        }
      }
      if (verdict.forbids.length > 0)
        return { decision: 'deny', approval: false, policy_ids: verdict.forbids };
      if (verdict.permits.length > 0) permits = [...permits, ...verdict.permits];
    }
    if (permits.length === 0) return { decision: 'deny', approval: false, policy_ids: [] };
    return {
      decision: 'allow',
      approval: permits.some((id) => this.#byId.get(id)?.approval),
      policy_ids: permits,
    };
  }

  /** The context-free verdict and the applicable context-reading policies of an (agent, tool). */
  #tool(request: PolicyRequest): PerTool {
    const key = JSON.stringify([
      request.agent_id,
      request.org_id,
      request.user_id,
      request.tool,
      request.kind,
      request.server,
      request.risk,
    ]);
    const cached = this.#perTool.get(key);
    if (cached) return cached;
    const entities: cedar.EntityJson[] = [
      {
        uid: { type: 'Agent', id: request.agent_id },
        attrs: { org: request.org_id, user: request.user_id },
        parents: [{ type: 'Org', id: request.org_id }],
      },
      { uid: { type: 'Org', id: request.org_id }, attrs: {}, parents: [] },
      {
        uid: { type: 'Tool', id: request.tool },
        attrs: { kind: request.kind, server: request.server, risk: request.risk },
        parents: [],
      },
    ];
    const ask = (set: string | undefined) =>
      set === undefined ? { permits: [], forbids: [] } : this.#read(evaluate(set, request, entities, {}));
    // The scope set holds every policy as a permit: its reasons are the applicable ids.
    const scopes =
      this.#scopes === undefined ? [] : allowReasons(evaluate(this.#scopes, request, entities, {}));
    const entry: PerTool = {
      entities,
      permits: ask(this.#contextFreePermits).permits,
      forbids: ask(this.#contextFreeForbids).forbids,
      relevant: scopes.length === 0 ? undefined : this.#relevantSet(scopes),
    };
    if (this.#perTool.size >= MAX_CACHED_TOOLS) this.#perTool.clear();
    this.#perTool.set(key, entry);
    return entry;
  }

  /** One preparsed set per distinct group of applicable policies (few: one per kind of tool). */
  #relevantSet(ids: string[]): RelevantSet {
    const signature = [...ids].sort().join('\n');
    let set = this.#relevantSets.get(signature);
    if (set === undefined) {
      const policies = ids.map((id) => this.#byId.get(id)!);
      const paths: string[][] = [];
      let whole = false;
      for (const p of policies) {
        if (p.contextPaths === null) whole = true;
        else
          for (const path of p.contextPaths)
            if (!paths.some((q) => q.join('.') === path.join('.'))) paths.push(path);
      }
      set = {
        id: this.#preparse(`rel-${this.#relevantSets.size}`, policies)!,
        paths: whole ? null : paths,
        needsEntities: policies.some((p) => p.readsEntities),
        verdicts: new Map(),
      };
      this.#relevantSets.set(signature, set);
    }
    return set;
  }

  /** Satisfied permits and forbids of an answer; a forbid that errored counts as satisfied. */
  #read(response: cedar.Response): { permits: string[]; forbids: string[] } {
    const { decision, diagnostics } = response;
    const permits: string[] = [];
    const forbids: string[] = [];
    for (const id of diagnostics.reason) {
      if (this.#byId.get(id)?.effect === 'forbid') forbids.push(id);
      else if (decision === 'allow') permits.push(id);
    }
    for (const { policyId } of diagnostics.errors) {
      if (this.#byId.get(policyId)?.effect === 'forbid' && !forbids.includes(policyId))
        forbids.push(policyId);
    }
    return { permits, forbids };
  }

  #preparse(name: string, policies: CompiledPolicy[]): string | undefined {
    if (policies.length === 0) return undefined;
    const id = `${this.#prefix}-${name}`;
    const staticPolicies: Record<string, cedar.PolicyJson> = {};
    for (const p of policies) staticPolicies[p.id] = p.json;
    const answer = cedar.preparsePolicySet(id, { staticPolicies });
    if (answer.type === 'failure') throw new PolicyError(answer.errors.map((e) => e.message).join('; '));
    return id;
  }
}

const ACTION = { type: 'Action', id: 'call' } as const;
const NO_ENTITIES: cedar.EntityJson[] = [];

/** One Cedar evaluation of a preparsed set for the request's agent and tool. */
function evaluate(
  set: string,
  request: PolicyRequest,
  entities: cedar.EntityJson[],
  context: Record<string, cedar.CedarValueJson>,
): cedar.Response {
  const answer = cedar.statefulIsAuthorized({
    principal: { type: 'Agent', id: request.agent_id },
    action: ACTION,
    resource: { type: 'Tool', id: request.tool },
    context,
    preparsedPolicySetId: set,
    entities,
  });
  // The request itself could not be built (not expected: entities and context are ours).
  if (answer.type === 'failure') {
    throw new PolicyError(`policy evaluation failed: ${answer.errors.map((e) => e.message).join('; ')}`);
  }
  return answer.response;
}

/** The satisfied policies of an allow (a set of permits only). */
function allowReasons(response: cedar.Response): string[] {
  return response.decision === 'allow' ? response.diagnostics.reason : [];
}

/**
 * Every policy of every file, with its id: the @id("...") annotation where given, else Cedar's
 * own id for the set the files make in name order (policy0, policy1, …).
 */
function compileFiles(source: PolicySource): CompiledPolicy[] {
  const compiled: CompiledPolicy[] = [];
  const where = new Map<string, string>();
  let index = 0;
  for (const file of source.files) {
    const checked = cedar.checkParsePolicySet({ staticPolicies: file.text });
    if (checked.type === 'failure') throw new PolicyError(describe(file, checked.errors));
    const parts = cedar.policySetTextToParts(file.text);
    if (parts.type === 'failure') throw new PolicyError(describe(file, parts.errors));
    if (parts.policy_templates.length > 0) {
      throw new PolicyError(
        `${file.name}: templates (?principal, ?resource) are not supported; write static policies`,
      );
    }
    // The engine hands the parts back in no particular order: keep the file's.
    const inFileOrder = [...parts.policies].sort((x, y) => position(file.text, x) - position(file.text, y));
    for (const text of inFileOrder) {
      const json = cedar.policyToJson(text);
      if (json.type === 'failure') throw new PolicyError(describe(file, json.errors));
      const annotations = json.json.annotations ?? {};
      const id = annotations.id ?? `policy${index}`;
      index++;
      const first = where.get(id);
      if (first !== undefined)
        throw new PolicyError(`${file.name}: policy id ${JSON.stringify(id)} is also used in ${first}`);
      where.set(id, file.name);
      const reads = contextReads(json.json.conditions);
      compiled.push({
        id,
        effect: json.json.effect,
        json: json.json,
        readsContext: reads.whole || reads.paths.length > 0,
        contextPaths: reads.whole ? null : reads.paths,
        readsEntities: readsEntities(json.json),
        approval: annotations.approval === 'required',
      });
    }
  }
  return compiled;
}

function position(text: string, part: string): number {
  const at = text.indexOf(part);
  return at === -1 ? Number.MAX_SAFE_INTEGER : at;
}

function validateAgainstSchema(source: PolicySource, policies: CompiledPolicy[]): void {
  const schemaFile = source.schema!;
  const parsed = cedar.checkParseSchema(schemaFile.text);
  if (parsed.type === 'failure') throw new PolicyError(describe(schemaFile, parsed.errors));
  const staticPolicies: Record<string, cedar.PolicyJson> = {};
  for (const p of policies) staticPolicies[p.id] = p.json;
  const answer = cedar.validate({ schema: schemaFile.text, policies: { staticPolicies } });
  if (answer.type === 'failure')
    throw new PolicyError(`${schemaFile.name}: ${answer.errors.map((e) => e.message).join('; ')}`);
  if (answer.validationErrors.length > 0) {
    const lines = answer.validationErrors.map((e) => `policy ${e.policyId}: ${e.error.message}`);
    throw new PolicyError(`the policies do not match ${schemaFile.name}: ${lines.join('; ')}`);
  }
}

function describe(file: { name: string; text: string }, errors: cedar.DetailedError[]): string {
  return errors
    .map((e) => {
      const at = e.sourceLocations?.[0];
      const place = at ? locate(file, at.start) : file.name;
      const label = at?.label ? ` (${at.label})` : '';
      return `${place}: ${e.message}${label}`;
    })
    .join('; ');
}

/**
 * What a policy's conditions read of `context`: attribute paths (context.params.path, and
 * `context.params has path`), or the context as a whole (`whole`: compared, passed around). Its
 * verdict for an (agent, tool) is a function of the values at those paths.
 */
function contextReads(conditions: unknown): { paths: string[][]; whole: boolean } {
  const paths: string[][] = [];
  let whole = false;
  /** the path of context an expression names (context.a.b → [a, b]), or undefined */
  const chain = (node: unknown): string[] | undefined => {
    if (node === null || typeof node !== 'object') return undefined;
    const n = node as Record<string, unknown>;
    if (n.Var === 'context') return [];
    const dot = n['.'] as { left: unknown; attr: string } | undefined;
    if (dot) {
      const base = chain(dot.left);
      return base === undefined ? undefined : [...base, dot.attr];
    }
    return undefined;
  };
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const item of node) visit(item);
      return;
    }
    if (node === null || typeof node !== 'object') return;
    const n = node as Record<string, unknown>;
    const dot = n['.'] as { left: unknown; attr: string } | undefined;
    const has = n.has as { left: unknown; attr: string | string[] } | undefined;
    const access = dot ?? has;
    if (access) {
      const base = chain(access.left);
      if (base !== undefined) {
        paths.push([...base, ...(Array.isArray(access.attr) ? access.attr : [access.attr])]);
        return;
      }
    }
    if (n.Var === 'context') {
      whole = true;
      return;
    }
    for (const value of Object.values(n)) visit(value);
  };
  visit(conditions);
  return { paths, whole };
}

/**
 * Does a policy need the entities? Its conditions read principal or resource (attributes,
 * `in`), or its scope uses `in` (the hierarchy). `principal == Agent::"x"` compares ids only.
 */
function readsEntities(policy: cedar.PolicyJson): boolean {
  const scopeIn = (c: { op: string; in?: unknown }) => c.op === 'in' || (c.op === 'is' && c.in !== undefined);
  if (scopeIn(policy.principal) || scopeIn(policy.resource)) return true;
  const visit = (node: unknown): boolean => {
    if (Array.isArray(node)) return node.some(visit);
    if (node === null || typeof node !== 'object') return false;
    const n = node as Record<string, unknown>;
    if (n.Var === 'principal' || n.Var === 'resource') return true;
    return Object.values(n).some(visit);
  };
  return visit(policy.conditions);
}

/** The parts of the context at `paths` (absent ones left out), in path order. */
function pick(
  context: Record<string, cedar.CedarValueJson>,
  paths: string[][],
): Record<string, cedar.CedarValueJson> {
  const out: Record<string, unknown> = {};
  for (const path of paths) {
    let from: unknown = context;
    let to = out;
    for (let i = 0; i < path.length; i++) {
      const step = path[i]!;
      if (from === null || typeof from !== 'object' || Array.isArray(from) || !Object.hasOwn(from, step))
        break;
      from = (from as Record<string, unknown>)[step];
      if (i === path.length - 1) to[step] = from;
      else {
        if (to[step] === null || typeof to[step] !== 'object') to[step] = {};
        to = to[step] as Record<string, unknown>;
      }
    }
  }
  return out as Record<string, cedar.CedarValueJson>;
}

/**
 * Params as Cedar values. Cedar has no null and no fractions, and reads a record whose only key
 * is __entity or __extn as an entity or extension value: a param could smuggle an entity in.
 * So nulls are left out, non-integers become strings, and those keys are renamed (a trailing _).
 */
function toCedarValue(value: unknown): cedar.CedarValueJson | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isSafeInteger(value) ? value : String(value);
  if (Array.isArray(value)) {
    const out: cedar.CedarValueJson[] = [];
    for (const item of value) {
      const v = toCedarValue(item);
      if (v !== undefined) out.push(v);
    }
    return out;
  }
  if (typeof value === 'object') return toCedarRecord(value as Record<string, unknown>);
  return String(value);
}

function toCedarRecord(record: Record<string, unknown>): Record<string, cedar.CedarValueJson> {
  const out: Record<string, cedar.CedarValueJson> = {};
  for (const [key, value] of Object.entries(record)) {
    const v = toCedarValue(value);
    if (v === undefined) continue;
    out[key.startsWith('__') ? `${key}_` : key] = v;
  }
  return out;
}
