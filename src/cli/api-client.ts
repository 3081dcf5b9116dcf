// How CLI commands call the REST API of a running Sluice: the caller's key comes from an
// environment variable (never the command line, where `ps` and shell history would show it),
// the API address from --api or the config, and API errors become CLI errors with the API's code.
import { CliError, resolveConfig } from './context.js';

/** Where to call and with which key. */
export interface ApiTarget {
  key: string;
  api: string;
}

/** The key in the environment variable named by --key-env; refuses a bad name or an empty value. */
export function keyFromEnv(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new CliError(`--key-env: "${name}" is not an environment variable name`);
  const key = process.env[name];
  if (!key) throw new CliError(`--key-env: the environment variable ${name} is not set or empty`);
  return key;
}

/** The API origin: --api when given, else http://<listeners.api.address> of the config. */
export function apiOrigin(explicit: string | undefined, configOption: () => string | undefined): string {
  const url = explicit ?? `http://${resolveConfig(configOption(), { optional: true }).config.listeners.api.address}`;
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('not http');
    return parsed.origin;
  } catch {
    throw new CliError(`--api: "${url}" is not an http:// or https:// URL`);
  }
}

/** One JSON call to the API; `timeoutMs` bounds the whole call, a review held on the way included. */
export async function callApi(
  target: ApiTarget,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  options: { timeoutMs?: number } = {},
): Promise<Record<string, unknown>> {
  let response: Response;
  try {
    response = await fetch(new URL(path, target.api), {
      method,
      headers: { authorization: `Bearer ${target.key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      ...(options.timeoutMs !== undefined ? { signal: AbortSignal.timeout(options.timeoutMs) } : {}),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new CliError(`cannot reach the Sluice API at ${target.api}: ${cause?.code ?? cause?.message ?? (error as Error).message}; is \`sluice up\` running? (--api URL)`, 1);
  }
  const text = await response.text();
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new CliError(`the Sluice API at ${target.api} answered ${response.status} with something that is not JSON`, 1);
  }
  if (!response.ok) {
    const error = json.error as { code?: string; message?: string } | undefined;
    throw new CliError(`${error?.code ?? `HTTP ${response.status}`}: ${error?.message ?? 'the API refused the request'}`, 1);
  }
  return json;
}
