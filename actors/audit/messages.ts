/**
 * Messages the audit actor receives on its data ports (one port per session host).
 * Control calls (query, count, verify, flush, stats) go over comlink: see audit-actor.ts.
 */
import { z } from 'zod';
import { AuditEventSchema } from '../../src/audit/events.ts';

export const AuditMessageSchema = z.discriminatedUnion('type', [
  // urgent: a producer waits for these events to be stored (AUDIT_DURABILITY=strict)
  z.object({ type: z.literal('audit.append'), events: z.array(AuditEventSchema), urgent: z.boolean().optional() }),
]);
export type AuditMessage = z.infer<typeof AuditMessageSchema>;
