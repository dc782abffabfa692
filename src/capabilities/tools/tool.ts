/**
 * A built-in tool: a name, a JSON Schema for its params, and an async run function.
 * Tools run inside the session's worker thread. They throw RuntimeError with a catalogue
 * code (src/errors.ts) on failure, and must honour `ctx.signal` (the action timeout or
 * the session's cancellation) by stopping their work and rejecting.
 */
import type { JailLimits } from './jail.ts';

export interface ToolContext {
  /** absolute path of this session's sandbox directory (created before the first call) */
  sandboxDir: string;
  /** aborted when the action times out or the session is cancelled */
  signal: AbortSignal;
  /** hosts http_request may reach (exact host names, or host:port) */
  httpAllowedHosts: readonly string[];
  executeCodeTimeoutMs: number;
  executeCodeMaxMemoryMb: number;
  /** the OS-level confinement of execute_code (src/capabilities/tools/jail.ts) */
  executeCodeJail: JailLimits;
  /** the session policy's execute_code_network: the code may use the network */
  executeCodeNetwork: boolean;
  /** SANDBOX_MAX_BYTES: what the session's sandbox may hold (0: no limit) */
  sandboxMaxBytes: number;
}

export interface BuiltinTool {
  name: string;
  description: string;
  version: string;
  inputSchema: Record<string, unknown>;
  /** changes nothing outside the runtime (see Capability.readOnly) */
  readOnly?: boolean;
  run(params: Record<string, unknown>, ctx: ToolContext): Promise<unknown>;
}
