/**
 * semibot-runtime's one public door: createRuntime() and the types it speaks.
 */
export { createRuntime, Runtime, Session, DEFAULT_DRAIN_TIMEOUT_MS } from './runtime.ts';
export type { RuntimeOptions, RuntimeHealth, ComponentStatus } from './runtime.ts';
export type {
  ActionInput,
  ActionResult,
  ApprovalDecision,
  CapabilitySummary,
  PendingApproval,
  PlannerSpec,
  RuntimePolicy,
  SessionRequest,
  SessionState,
  SessionStatus,
} from './contracts.ts';
export type { AuditEvent, AuditEventType, AuditQuery } from './audit/events.ts';
export type { VerifyResult } from './audit/hash-chain.ts';
export type { Config, ConfigInput } from '../config/schema.ts';
export { ConfigError } from '../config/load.ts';
export type { InteractiveLogin } from './capabilities/mcp/auth/authorization-code.ts';
export type { ElicitationHandler, ElicitationRequest } from './capabilities/mcp/elicitation.ts';
export { ERROR_CATALOGUE, RuntimeError, type ErrorCode, type WireError } from './errors.ts';
