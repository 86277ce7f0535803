// The secrets a config names, for redactText: every value a `${NAME}` expanded from the environment, header
// values of HTTP upstreams, passwords and credential-like query values in any URL, credential-named env values
// of stdio upstreams, and the auth secrets (inbound keys and client secrets, upstream client secrets).
// Computed once per config.
import { MIN_SECRET_LENGTH, redactText } from '../redact.js';
import { configExpandedEnv, type GatewayConfig } from './config.js';

const SECRET_NAME = /auth|token|secret|passw|pwd|key|cookie|credential|session|signature/i;
/**
 * Variables whose values are places and settings every process has, not secrets: redacting them would blank
 * every path under the home folder in every line.
 */
const PLAIN_ENV = new Set([
  'HOME',
  'USER',
  'LOGNAME',
  'PWD',
  'PATH',
  'SHELL',
  'TMPDIR',
  'TEMP',
  'TMP',
  'LANG',
]);
/** Query values this long are treated as secrets whatever their parameter is called. */
const LONG_QUERY_VALUE = 12;

const cache = new WeakMap<GatewayConfig, string[]>();

export function configSecrets(config: GatewayConfig): string[] {
  let secrets = cache.get(config);
  if (secrets) return secrets;
  const found = new Set<string>();
  // The config is where secrets are written as `${NAME}`: whatever it expanded, wherever it went (an argument,
  // an env entry of any name, a URL), may be one.
  for (const [name, value] of Object.entries(configExpandedEnv(config)))
    if (!PLAIN_ENV.has(name)) found.add(value);
  for (const upstream of Object.values(config.upstreams)) {
    const entry = upstream as Record<string, unknown>;
    for (const value of Object.values((entry.headers ?? {}) as Record<string, string>)) {
      found.add(value);
      // `Bearer abc`: the credential alone too, since an echo may drop the scheme.
      const credential = value.split(/\s+/).pop();
      if (credential) found.add(credential);
    }
    for (const [name, value] of Object.entries((entry.env ?? {}) as Record<string, string>)) {
      if (SECRET_NAME.test(name)) found.add(value);
    }
    collectUrlSecrets(entry, found, 0);
    // The gateway's own credentials for this upstream (client credentials, token exchange).
    const auth = entry.auth as Record<string, { clientSecret?: string } | undefined> | undefined;
    for (const grant of Object.values(auth ?? {})) if (grant?.clientSecret) found.add(grant.clientSecret);
  }
  // The Redis URL may carry a password (redis://:pass@host).
  if (config.redis) collectUrlSecrets(config.redis, found, 0);
  // Inbound auth: API keys given in clear (normally from the environment), the HS secret, the introspection
  // client's secret.
  const { auth } = config;
  for (const secret of [
    auth?.introspection?.clientSecret,
    auth?.jwt?.secret,
    ...(auth?.apiKeys ?? []).map((k) => k.key),
  ])
    if (secret) found.add(secret);
  secrets = [...found].filter((s) => s.length >= MIN_SECRET_LENGTH);
  cache.set(config, secrets);
  return secrets;
}

/** redactText with the config's own secrets. */
export function redactWithConfig(config: GatewayConfig, text: string): string {
  return redactText(text, configSecrets(config));
}

/** Every string in an upstream entry (built-in options included, e.g. a database URL) that is a URL. */
function collectUrlSecrets(value: unknown, found: Set<string>, depth: number): void {
  if (depth > 4) return;
  if (typeof value === 'string') {
    if (!value.includes('://')) return;
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      return;
    }
    if (url.password) found.add(decodeURIComponent(url.password));
    if (url.username && url.password) found.add(decodeURIComponent(url.username));
    for (const [name, item] of url.searchParams) {
      if (SECRET_NAME.test(name) || item.length >= LONG_QUERY_VALUE) found.add(item);
    }
    return;
  }
  if (value && typeof value === 'object') {
    for (const item of Object.values(value)) collectUrlSecrets(item, found, depth + 1);
  }
}
