/**
 * Issue 20: the compiled Cedar policy set on its own: decisions and the policy ids behind them,
 * @approval("required"), errors that name file and line, and the attacks a param can try
 * (smuggling an entity, a value of the wrong type to switch a forbid off).
 */
import { describe, expect, it } from 'vitest';
import { CedarPolicies, type PolicyRequest } from '../../../src/policy/cedar-policies.ts';
import type { PolicySource } from '../../../src/policy/policy-source.ts';

const RULES = `@id("acme-no-http")
forbid(principal in Org::"acme", action, resource == Tool::"http_request");

@id("secrets-need-a-person")
@approval("required")
permit(principal, action == Action::"call", resource)
  when { context.params has path && context.params.path like "secrets/*" };

@id("no-keys-in-files")
forbid(principal, action, resource == Tool::"write_file")
  when { context.params.content like "*PRIVATE KEY*" };
`;
const BASE = `@id("viewer-read-only-mcp")
forbid(principal == Agent::"viewer", action, resource)
  when { resource.kind == "mcp" && resource.risk != "read_only" };

permit(principal, action, resource) unless { resource.risk == "high" && principal.org == "globex" };
`;

const source = (files: Record<string, string>, schema?: string): PolicySource => ({
  dir: 'policies',
  files: Object.entries(files).map(([name, text]) => ({ name, text })),
  ...(schema ? { schema: { name: 'schema.cedarschema', text: schema } } : {}),
});

const request = (over: Partial<PolicyRequest>): PolicyRequest => ({
  agent_id: 'helper',
  org_id: 'acme',
  user_id: 'u',
  session_id: 's',
  iteration: 1,
  tool: 'echo',
  kind: 'tool',
  server: '',
  risk: 'read_only',
  params: {},
  ...over,
});

describe('issue-20: Cedar policies', () => {
  const policies = new CedarPolicies(source({ 'a-rules.cedar': RULES, 'b-base.cedar': BASE }));

  it('names policies by @id, else by the Cedar id of the set the files make in name order', () => {
    expect(policies.ids).toEqual([
      'acme-no-http',
      'secrets-need-a-person',
      'no-keys-in-files',
      'viewer-read-only-mcp',
      'policy4',
    ]);
  });

  it('numbers unannotated policies in the order of their files and of the text', () => {
    const ordered = new CedarPolicies(
      source({
        '1.cedar':
          'permit(principal, action, resource == Tool::"a");\nforbid(principal, action, resource == Tool::"b");\n',
        '2.cedar':
          'permit(principal, action, resource == Tool::"c");\npermit(principal, action, resource == Tool::"b");\n',
      }),
    );
    expect(ordered.decide(request({ tool: 'a' })).policy_ids).toEqual(['policy0']);
    expect(ordered.decide(request({ tool: 'b' })).policy_ids).toEqual(['policy1']);
    expect(ordered.decide(request({ tool: 'c' })).policy_ids).toEqual(['policy2']);
  });

  it('forbids, permits and asks for a person, naming the deciding policies', () => {
    expect(policies.decide(request({ tool: 'http_request', risk: 'normal' }))).toEqual({
      decision: 'deny',
      approval: false,
      policy_ids: ['acme-no-http'],
    });
    expect(
      policies.decide(request({ tool: 'http_request', org_id: 'globex', risk: 'normal' })).decision,
    ).toBe('allow');
    expect(
      policies.decide(
        request({ tool: 'write_file', risk: 'normal', params: { path: 'secrets/db.txt', content: 'x' } }),
      ),
    ).toEqual({
      decision: 'allow',
      approval: true,
      policy_ids: ['policy4', 'secrets-need-a-person'],
    });
    expect(
      policies.decide(
        request({ tool: 'write_file', risk: 'normal', params: { path: 'notes.txt', content: 'x' } }),
      ),
    ).toEqual({
      decision: 'allow',
      approval: false,
      policy_ids: ['policy4'],
    });
    // Nothing permits a high-risk tool for globex: Cedar's default deny, with no policy to name.
    expect(policies.decide(request({ org_id: 'globex', tool: 'delete_file', risk: 'high' }))).toEqual({
      decision: 'deny',
      approval: false,
      policy_ids: [],
    });
    expect(
      policies.decide(
        request({
          agent_id: 'viewer',
          tool: 'mcp__files__write',
          kind: 'mcp',
          server: 'files',
          risk: 'normal',
        }),
      ).policy_ids,
    ).toEqual(['viewer-read-only-mcp']);
    expect(
      policies.decide(
        request({
          agent_id: 'viewer',
          tool: 'mcp__files__read',
          kind: 'mcp',
          server: 'files',
          risk: 'read_only',
        }),
      ).decision,
    ).toBe('allow');
  });

  it('decides every action by its own params, though verdicts are cached per tool and per what the policies read', () => {
    const write = (content: unknown, path = 'a.txt') =>
      policies.decide(request({ tool: 'write_file', risk: 'normal', params: { path, content } })).decision;
    for (let i = 0; i < 50; i++) {
      expect(write(`line ${i}`)).toBe('allow');
      expect(write(`-----BEGIN PRIVATE KEY----- ${i}`)).toBe('deny');
    }
    expect(write('fine', 'secrets/x')).toBe('allow');
    expect(
      policies.decide(
        request({ tool: 'write_file', risk: 'normal', params: { path: 'secrets/x', content: 'fine' } }),
      ).approval,
    ).toBe(true);
  });

  it('fails closed: a param of another type, or a smuggled entity, cannot switch a forbid off', () => {
    const write = (content: unknown) =>
      policies.decide(request({ tool: 'write_file', risk: 'normal', params: { path: 'a.txt', content } }));
    expect(write(42)).toMatchObject({ decision: 'deny', policy_ids: ['no-keys-in-files'] });
    expect(write({ __entity: { type: 'Tool', id: 'echo' } })).toMatchObject({ decision: 'deny' });
    expect(write(['PRIVATE KEY'])).toMatchObject({ decision: 'deny' });
    // Cedar has no fractions: 1.5 reaches the policies as the string "1.5".
    expect(write(1.5)).toMatchObject({ decision: 'allow' });
    expect(write(null)).toMatchObject({ decision: 'deny' });
    // Odd Unicode and a huge value are just strings to Cedar.
    expect(write('\u202e\u0000 PRIVATE KEY 🔑').decision).toBe('deny');
    expect(write('x'.repeat(1_000_000)).decision).toBe('allow');
  });

  it('names file, line and column of a syntax error', () => {
    const bad =
      'permit(principal, action, resource);\n\npermit(principal, action, resource)\n  when { principal.org == };\n';
    expect(() => new CedarPolicies(source({ 'ok.cedar': BASE, 'bad.cedar': bad }))).toThrow(
      /^bad\.cedar:4:27: .*unexpected token/,
    );
  });

  it('refuses duplicate ids and templates', () => {
    const twice = '@id("x")\npermit(principal, action, resource);\n';
    expect(() => new CedarPolicies(source({ 'a.cedar': twice, 'b.cedar': twice }))).toThrow(
      /b\.cedar: policy id "x" is also used in a\.cedar/,
    );
    expect(
      () => new CedarPolicies(source({ 't.cedar': 'permit(principal == ?principal, action, resource);' })),
    ).toThrow(/template/);
  });

  it('validates the policies against schema.cedarschema when there is one', () => {
    const schema = `entity Org;
entity Agent in [Org] { org: String, user: String };
entity Tool { kind: String, server: String, risk: String };
action call appliesTo { principal: [Agent], resource: [Tool], context: { params: {}, iteration: Long, session_id: String } };
`;
    expect(new CedarPolicies(source({ 'a.cedar': BASE }, schema)).ids).toHaveLength(2);
    const typo = 'permit(principal, action, resource) when { resource.riks == "high" };';
    expect(() => new CedarPolicies(source({ 'a.cedar': typo }, schema))).toThrow(
      /do not match schema\.cedarschema: policy policy0: .*riks/,
    );
    expect(() => new CedarPolicies(source({ 'a.cedar': BASE }, 'entity Agent in [Nope];'))).toThrow(
      /schema\.cedarschema/,
    );
  });
});
