// redactText: credentials out of free text (upstream errors and stderr, log lines, /readyz) before anyone
// sees it. Pure (it imports only the secrets stage's rule table), so upstreams/ may use it too. Patterns catch
// the usual shapes and every credential format the secrets stage knows; the secrets the config names (header
// values, URL passwords, env tokens) are removed wherever they appear.
import { replaceSecrets } from './policy/secrets/detect.js';

export const REDACTED = '[redacted]';

/** Names that mark a value as a credential, in a header, a query string, JSON or `NAME=value`. */
const SECRET_NAME =
  '[\\w.-]*?(?:authorization|cookie|token|secret|passw(?:or)?d|pwd|api[_-]?key|apikey|access[_-]?key|private[_-]?key|client[_-]?secret|credentials?|session[_-]?id|signature|auth(?![a-z]))[\\w.-]*';

const PATTERNS: [RegExp, string][] = [
  // scheme://user:password@host -> the whole userinfo goes (a username alone can be a token too).
  [/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@"'<>\\]+@/gi, `$1${REDACTED}@`],
  // Authorization: Bearer x, "x-api-key":"y", cookie=z, \"token\": \"...\" inside serialised JSON.
  // A colon counts only before a space or a quote, so `file.ts:12:3` in a stack trace is left alone.
  [
    new RegExp(
      `(${SECRET_NAME})(\\\\?["']?\\s*(?:=|:(?=\\s|\\\\?["']))\\s*\\\\?["']?)(?!\\[redacted\\])((?:(?:Bearer|Basic|Digest|Token)\\s+)?[^\\s"'\\\\&,;<>]+)`,
      'gi',
    ),
    `$1$2${REDACTED}`,
  ],
  // A scheme and credential on their own (`Bearer abc...`) wherever they appear.
  [/\b(Bearer|Basic|Digest|Token)\s+(?!\[redacted\])[A-Za-z0-9._~+/=-]{6,}/g, `$1 ${REDACTED}`],
  // Well-known token formats: GitHub, OpenAI-style, Slack, AWS access key ids, JWTs.
  [
    /\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|sk-[A-Za-z0-9_-]{20,}|xox[abprs]-[A-Za-z0-9-]{10,}|AKIA[0-9A-Z]{16}|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,})/g,
    REDACTED,
  ],
];

/** Known secrets shorter than this are not searched for: too likely to match ordinary words. */
export const MIN_SECRET_LENGTH = 6;

/**
 * `text` with credentials replaced by `[redacted]`: URL userinfo, values of credential-named headers, query
 * parameters and fields, bearer tokens, well-known token formats, and every string in `secrets` (with its
 * URL-encoded form). Runs where text is logged or shown, never per call on the hot path.
 */
export function redactText(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length < MIN_SECRET_LENGTH) continue;
    if (out.includes(secret)) out = out.split(secret).join(REDACTED);
    const encoded = encodeURIComponent(secret);
    if (encoded !== secret && out.includes(encoded)) out = out.split(encoded).join(REDACTED);
  }
  // The secrets stage's formats first (private keys, cloud keys, GitLab, npm, JWTs...), before a pattern below
  // eats the start of one: whatever it redacts in arguments and results must not reach a log line another way.
  out = replaceSecrets(out, () => REDACTED).text;
  for (const [pattern, replacement] of PATTERNS) out = out.replace(pattern, replacement);
  return out;
}
