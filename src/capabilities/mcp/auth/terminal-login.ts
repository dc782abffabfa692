/**
 * The login prompt of the CLI (`mcp login`, `run FILE`): prints the authorization URL and opens
 * it with the command in $BROWSER when that is set, the way other command-line tools do
 * (`$BROWSER <url>`; a `%s` in it stands for the URL; of a colon-separated list, the first).
 */
import { spawn } from 'node:child_process';
import type { InteractiveLogin } from './authorization-code.ts';

export const DEFAULT_LOGIN_TIMEOUT_MS = 300_000;

export function terminalLogin(
  out: NodeJS.WritableStream,
  env: Readonly<Record<string, string | undefined>>,
  timeoutMs = DEFAULT_LOGIN_TIMEOUT_MS,
): InteractiveLogin {
  return {
    timeoutMs,
    show(authorizationUrl, serverId, orgId) {
      out.write(
        `\nMCP server ${serverId} needs a login for org ${orgId}. Open this URL to authorize semibot-runtime` +
          ` (waiting ${Math.round(timeoutMs / 1000)} s):\n\n  ${authorizationUrl.href}\n\n`,
      );
      const browser = env.BROWSER?.split(':')[0]?.trim();
      if (browser) openWith(browser, authorizationUrl.href, out);
    },
  };
}

function openWith(browser: string, url: string, out: NodeJS.WritableStream): void {
  const words = browser.split(/\s+/).filter(Boolean);
  const args = words.slice(1).map((word) => word.replace('%s', url));
  if (!browser.includes('%s')) args.push(url);
  try {
    const child = spawn(words[0]!, args, { stdio: 'ignore', detached: true });
    child.on('error', (err) => out.write(`could not start $BROWSER (${words[0]}): ${err.message}\n`));
    child.unref();
  } catch (err) {
    out.write(`could not start $BROWSER (${words[0]}): ${(err as Error).message}\n`);
  }
}
