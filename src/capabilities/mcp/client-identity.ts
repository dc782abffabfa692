/**
 * How the runtime's MCP client presents itself to upstream servers (the gateway's connections,
 * `mcp login`), and how text that mentions a server's secrets is cleaned before it leaves
 * (logs, tool errors, disconnect reasons, login errors).
 */
import { VERSION } from '../../api/version.ts';

export const MCP_CLIENT_INFO = { name: 'semibot-runtime', version: VERSION };

/** Values of keys that look like credentials, in `key=value` / `key: value` / Bearer form. */
const SECRET_IN_TEXT =
  /\b(pass(?:word|wd|phrase)?|secret|token|api[-_]?key|authorization|credential|private[-_]?key|cookie)(\s*[=:]\s*)((?:Bearer|Basic)\s+\S+|"[^"]*"|\S+)/gi;

/** Redacts a line of text: credential-looking pairs, bearer tokens and the given secret values. */
export function redactLine(line: string, secrets: readonly string[]): string {
  let out = line.replace(SECRET_IN_TEXT, '$1$2[REDACTED]').replace(/\bBearer\s+\S+/gi, 'Bearer [REDACTED]');
  for (const secret of secrets) if (secret.length >= 4) out = out.split(secret).join('[REDACTED]');
  return out;
}
