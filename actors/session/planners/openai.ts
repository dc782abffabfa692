/**
 * The openai planner: any OpenAI-compatible chat-completions endpoint with tool calling.
 *
 *   nextStep() ──POST {base_url}/chat/completions {messages, tools}──► model
 *     tools    = the session's capability graph (name, description, input_schema)
 *     answer   = tool_calls → one step (actions run concurrently); no tool_calls → done (null)
 *   next nextStep(): each action's result goes back as a `tool` message, then ask again.
 *
 * Runs inside the session's worker thread. The API key was resolved in the main thread from
 * the boot-time environment (src/runtime.ts plannerSecrets) and arrives with the context; it
 * is only ever put in the Authorization header. max_iterations is enforced by the session
 * actor (each step is one iteration), so a model that never stops ends max_iterations_reached.
 */
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { ActionResult, CapabilitySummary, PlannerSpec } from '../../../src/contracts.ts';
import { RuntimeError } from '../../../src/errors.ts';
import type { Planner, PlannerInput } from './planner.ts';

/** One chat-completions call may take this long before it counts as failed. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;
/** 429, 5xx and network failures are retried this many times, with these pauses. */
const RETRY_DELAYS_MS = [250, 1000];
/** answers whose every tool call has unreadable arguments, in a row, before giving up */
const MAX_UNUSABLE_ANSWERS = 3;
/** tool results longer than this are cut before they go back to the model */
const MAX_TOOL_RESULT_CHARS = 16_000;

const ToolCallSchema = z.object({
  id: z.string().min(1),
  type: z.literal('function').optional(),
  function: z.object({ name: z.string().min(1), arguments: z.string().default('{}') }),
});

const ChatCompletionSchema = z.object({
  choices: z
    .array(
      z.object({
        message: z.object({
          role: z.literal('assistant'),
          content: z.string().nullable().optional(),
          tool_calls: z.array(ToolCallSchema).nullable().optional(),
        }),
      }),
    )
    .min(1),
  /** reported in the `chat` span (traces on) */
  model: z.string().optional(),
  usage: z
    .object({ prompt_tokens: z.number().optional(), completion_tokens: z.number().optional() })
    .nullable()
    .optional(),
});

type ChatMessage =
  | { role: 'system' | 'user'; content: string }
  | { role: 'assistant'; content: string | null; tool_calls?: z.infer<typeof ToolCallSchema>[] }
  | { role: 'tool'; tool_call_id: string; content: string };

export interface OpenAiPlannerOptions {
  apiKey?: string | undefined;
  requestTimeoutMs?: number;
  fetch?: typeof fetch;
}

export function openaiPlanner(
  spec: Extract<PlannerSpec, { type: 'openai' }>,
  options: OpenAiPlannerOptions = {},
): Planner {
  const url = `${spec.base_url.replace(/\/+$/, '')}/chat/completions`;
  const doFetch = options.fetch ?? fetch;
  const timeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const messages: ChatMessage[] = [];
  /** action id → the tool call it answers (ids are ours: a server may reuse its own ids across turns) */
  const awaiting = new Map<string, string>();
  let answered = 0;

  async function complete(input: PlannerInput): Promise<z.infer<typeof ChatCompletionSchema>> {
    const body = JSON.stringify({
      model: spec.model,
      messages,
      tools: input.capabilities.map(toolOf),
      tool_choice: 'auto',
      ...(input.ctx.agent.temperature !== undefined ? { temperature: input.ctx.agent.temperature } : {}),
      ...(input.ctx.agent.max_tokens !== undefined ? { max_tokens: input.ctx.agent.max_tokens } : {}),
    });
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (options.apiKey) headers.authorization = `Bearer ${options.apiKey}`;
    for (let attempt = 0; ; attempt++) {
      let failure: string;
      let retryable: boolean;
      try {
        const res = await doFetch(url, {
          method: 'POST',
          headers,
          body,
          signal: AbortSignal.any([input.signal, AbortSignal.timeout(timeoutMs)]),
        });
        const text = await res.text();
        if (res.ok) {
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            throw new RuntimeError(
              'planner_error',
              `${url} answered ${res.status} with a body that is not JSON`,
            );
          }
          const parsed = ChatCompletionSchema.safeParse(json);
          if (!parsed.success) {
            throw new RuntimeError(
              'planner_error',
              `${url} answered with no usable choice: ${parsed.error.issues[0]?.message}`,
            );
          }
          return parsed.data;
        }
        failure = `${url} answered ${res.status}: ${text.slice(0, 200)}`;
        retryable = res.status === 429 || res.status >= 500;
      } catch (err) {
        if (err instanceof RuntimeError) throw err;
        // The session ended (cancel, timeout): let its own reason stand.
        if (input.signal.aborted) throw input.signal.reason;
        failure = `${url} could not be reached: ${(err as Error).message}`;
        retryable = true;
      }
      const delay = RETRY_DELAYS_MS[attempt];
      if (!retryable || delay === undefined) throw new RuntimeError('planner_error', failure);
      await new Promise((resolve) => setTimeout(resolve, delay));
      if (input.signal.aborted) throw input.signal.reason;
    }
  }

  /** One completion; with traces on, inside a `chat {model}` span (GenAI conventions, token usage). */
  async function tracedCompletion(input: PlannerInput): Promise<z.infer<typeof ChatCompletionSchema>> {
    if (input.trace === undefined) return complete(input);
    const span = input.trace.tracer.startSpan(
      `chat ${spec.model}`,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          'gen_ai.operation.name': 'chat',
          'gen_ai.provider.name': 'openai',
          'gen_ai.request.model': spec.model,
          'server.address': new URL(url).hostname,
        },
      },
      input.trace.parent,
    );
    try {
      const answer = await complete(input);
      if (answer.model) span.setAttribute('gen_ai.response.model', answer.model);
      if (answer.usage?.prompt_tokens !== undefined)
        span.setAttribute('gen_ai.usage.input_tokens', answer.usage.prompt_tokens);
      if (answer.usage?.completion_tokens !== undefined)
        span.setAttribute('gen_ai.usage.output_tokens', answer.usage.completion_tokens);
      return answer;
    } catch (err) {
      span.setAttribute('error.type', err instanceof RuntimeError ? err.code : 'planner_error');
      span.setStatus({
        code: SpanStatusCode.ERROR,
        message: err instanceof Error ? err.message : String(err),
      });
      throw err;
    } finally {
      span.end();
    }
  }

  return {
    type: 'openai',
    autonomous: true,
    async nextStep(input) {
      if (messages.length === 0) {
        if (input.ctx.agent.system_prompt)
          messages.push({ role: 'system', content: input.ctx.agent.system_prompt });
        messages.push({
          role: 'user',
          content: input.ctx.task ?? 'Carry out the task with the tools you have.',
        });
      }
      // 1. Feed back the results of the step the model asked for last time.
      for (const step of input.history.slice(answered)) {
        for (const result of step) {
          const toolCallId = awaiting.get(result.action_id);
          if (toolCallId === undefined) continue;
          awaiting.delete(result.action_id);
          messages.push({ role: 'tool', tool_call_id: toolCallId, content: toolContent(result) });
        }
      }
      answered = input.history.length;

      // 2. Ask; tool calls become the next step, an answer without tool calls ends the plan.
      for (let unusable = 0; unusable < MAX_UNUSABLE_ANSWERS; unusable++) {
        const reply = (await tracedCompletion(input)).choices[0]!.message;
        const calls = reply.tool_calls ?? [];
        messages.push({
          role: 'assistant',
          content: reply.content ?? null,
          ...(calls.length > 0 ? { tool_calls: calls } : {}),
        });
        if (calls.length === 0) return null;
        const actions: Array<{ id: string; name: string; params: Record<string, unknown> }> = [];
        for (const call of calls) {
          const params = parseArguments(call.function.arguments);
          if (typeof params === 'string') {
            // Not an action at all: tell the model, as the protocol expects an answer per call.
            messages.push({
              role: 'tool',
              tool_call_id: call.id,
              content: JSON.stringify({ error: { code: 'invalid_params', message: params } }),
            });
            continue;
          }
          const id = randomUUID();
          awaiting.set(id, call.id);
          actions.push({ id, name: call.function.name, params });
        }
        if (actions.length > 0) return actions;
      }
      throw new RuntimeError(
        'planner_error',
        `the model gave ${MAX_UNUSABLE_ANSWERS} answers in a row whose tool-call arguments were not JSON objects`,
      );
    },
  };
}

function toolOf(c: CapabilitySummary) {
  return {
    type: 'function' as const,
    function: { name: c.name, description: c.description, parameters: c.input_schema },
  };
}

/** The params object, or a message saying why the arguments are unusable. */
function parseArguments(raw: string): Record<string, unknown> | string {
  let value: unknown;
  try {
    value = JSON.parse(raw || '{}');
  } catch (err) {
    return `the arguments are not valid JSON (${(err as Error).message})`;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return 'the arguments must be a JSON object';
  }
  return value as Record<string, unknown>;
}

function toolContent(result: ActionResult): string {
  const text = JSON.stringify(
    result.success
      ? { result: result.result ?? null }
      : { error: result.error ?? { code: 'internal_error' } },
  );
  return text.length <= MAX_TOOL_RESULT_CHARS ? text : `${text.slice(0, MAX_TOOL_RESULT_CHARS)}…(truncated)`;
}
