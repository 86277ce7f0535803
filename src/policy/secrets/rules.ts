// The credential formats the secrets stage looks for, one rule per kind. Formats follow secretlint's recommended
// preset (v11: AWS, GitHub, npm, Slack, private keys, connection strings, OpenAI, Anthropic, SendGrid) and, for
// the kinds it lacks, gitleaks' default rules (GitLab, JWT, Azure storage, GCP API keys, Stripe).
// No imports: the log redaction (src/redact.ts) uses this table too.

export interface SecretRule {
  /** The name a redaction shows: `[REDACTED:<kind>]`. */
  readonly kind: string;
  /** Global; matched on decoded text (a JSON string's value, a log line). */
  readonly pattern: RegExp;
  /** The capture group that is the secret itself (a label or a URL around it stays); 0 = the whole match. */
  readonly group?: number;
  /** False for a match that only looks like a secret (a placeholder). */
  readonly real?: (secret: string) => boolean;
  /**
   * A regex source that matches wherever `pattern` could, in decoded text and in the upstream's raw JSON bytes
   * alike (so it avoids `/`, which some serialisers escape as `\/`): the prefilter is the union of these.
   */
  readonly anchor: string;
  /** Where the secret ends when the match is only its start (a private key block: its END line or its body). */
  readonly extend?: (text: string, matchEnd: number) => number;
}

/** `${PASSWORD}`, `<password>`, `{{pw}}`, `****`, `%s`, `[REDACTED:...]`, `password`: documentation, not secrets. */
const PLACEHOLDER = /^(?:[$<{[%*]|x+$|\.+$|(?:password|passwd|pass|pwd|secret|changeme)$)/i;

/** The END line of a PEM or OpenSSH private key block, at most this far after its BEGIN line. */
const KEY_END = /-----END [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----/g;
const MAX_KEY_CHARS = 64 * 1024;
/** A key body without its END line (a truncated block): base64, whitespace and `Name: value` header lines. */
const KEY_BODY = /(?:[A-Za-z0-9+/=\s]|[A-Za-z-]+: [^\n]*\n)*/y;

function keyBlockEnd(text: string, from: number): number {
  KEY_END.lastIndex = from;
  const end = KEY_END.exec(text);
  if (end && end.index - from <= MAX_KEY_CHARS) return end.index + end[0].length;
  KEY_BODY.lastIndex = from;
  KEY_BODY.exec(text);
  return Math.min(KEY_BODY.lastIndex, from + MAX_KEY_CHARS);
}

export const SECRET_RULES: readonly SecretRule[] = [
  {
    kind: 'private-key',
    // PEM (RSA, EC, DSA, PKCS#8, encrypted), OpenSSH and PGP blocks; GCP service-account keys are PKCS#8 PEM.
    pattern: /-----BEGIN (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----/g,
    anchor: 'PRIVATE KEY',
    extend: keyBlockEnd,
  },
  {
    kind: 'aws-access-key-id',
    pattern: /\b(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b/g,
    anchor: 'A(?:KIA|SIA|BIA|CCA|3T)',
  },
  {
    // Only beside its label, as secretlint does: 40 base64 characters alone are any hash or id.
    kind: 'aws-secret-access-key',
    pattern:
      /(?:aws)?_?secret_?access_?key["']?\s*(?::|=>|=)\s*["']?([A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])/gi,
    group: 1,
    anchor: '[Ss][Ee][Cc][Rr][Ee][Tt]_?[Aa][Cc][Cc][Ee][Ss][Ss]_?[Kk][Ee][Yy]',
  },
  { kind: 'gcp-api-key', pattern: /\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])/g, anchor: 'AIza' },
  {
    // Storage account keys (88 characters) and Service Bus / Event Hubs shared access keys (44) in connection strings.
    kind: 'azure-storage-key',
    pattern: /(?:AccountKey|SharedAccessKey)=([A-Za-z0-9+/]{40,86}={0,2})/g,
    group: 1,
    anchor: 'AccountKey=|SharedAccessKey=',
  },
  {
    kind: 'github-token',
    pattern:
      /(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9_]{36,251}|github_pat_[A-Za-z0-9_]{82,240})(?![A-Za-z0-9_])/g,
    anchor: 'gh[pousr]_|github_pat_',
  },
  {
    kind: 'gitlab-token',
    pattern:
      /\b(?:gl(?:pat|dt|ptt|rt|cbt|ft|soat|oas|imt|agent)-|GR1348941)[0-9A-Za-z_-]{20,}(?:\.[0-9A-Za-z_-]+)*/g,
    anchor: 'gl(?:pat|dt|ptt|rt|cbt|ft|soat|oas|imt|agent)-|GR1348941',
  },
  {
    kind: 'slack-token',
    pattern: /\b(?:xox[abposre]|xapp)-(?:\d-)?(?:[A-Za-z0-9]{1,40}-)+[A-Za-z0-9]{1,40}\b/g,
    anchor: 'xox[abposre]-|xapp-',
  },
  {
    kind: 'slack-webhook',
    pattern:
      /https:\/\/hooks\.slack\.com\/services\/T[A-Za-z0-9]{1,40}\/B[A-Za-z0-9]{1,40}\/[A-Za-z0-9]{1,40}/g,
    anchor: 'hooks\\.slack\\.com',
  },
  { kind: 'npm-token', pattern: /(?<![A-Za-z0-9_])npm_[A-Za-z0-9]{36}(?![A-Za-z0-9_])/g, anchor: 'npm_' },
  {
    // `.npmrc`: `//registry.npmjs.org/:_authToken=...`; `${NPM_TOKEN}` is a reference, not the token.
    kind: 'npm-token',
    pattern: /_authToken\s*=\s*([^\s$"'][^\s"']*)/g,
    group: 1,
    real: (token) => !PLACEHOLDER.test(token),
    anchor: '_authToken',
  },
  {
    kind: 'jwt',
    pattern: /\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]*/g,
    anchor: 'eyJ',
  },
  {
    // scheme://user:password@host: postgres, mysql, mongodb(+srv), redis (`redis://:pw@h`), amqp, https...
    // Only the password goes; the URL stays readable.
    kind: 'password-in-url',
    pattern: /\b[a-z][a-z0-9+.-]{1,30}:\/\/[^\s:/?#@"'<>]{0,256}:([^\s/?#@"'<>]{1,256})(?=@)/gi,
    group: 1,
    real: (password) => !PLACEHOLDER.test(password),
    anchor: ':\\\\?/\\\\?/[^\\s/@"]{0,256}:',
  },
  {
    kind: 'openai-api-key',
    pattern:
      /\bsk-(?:(?:proj|svcacct|admin)-(?:[A-Za-z0-9_-]{74}|[A-Za-z0-9_-]{58})T3BlbkFJ(?:[A-Za-z0-9_-]{74}|[A-Za-z0-9_-]{58})|[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20})\b/g,
    anchor: 'T3BlbkFJ',
  },
  {
    kind: 'anthropic-api-key',
    pattern: /(?<![A-Za-z0-9_-])sk-ant-(?:api|admin)0\d-[A-Za-z0-9_-]{80,128}(?![A-Za-z0-9_-])/g,
    anchor: 'sk-ant-',
  },
  {
    kind: 'stripe-key',
    pattern: /\b[rs]k_(?:live|test|prod)_[A-Za-z0-9]{10,99}\b/g,
    anchor: '[rs]k_(?:live|test|prod)_',
  },
  {
    kind: 'sendgrid-api-key',
    pattern: /\bSG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])/g,
    anchor: 'SG\\.',
  },
];
