// GatewayError and the one table that maps each error kind to a JSON-RPC code (inside a session)
// and an HTTP status (before one). Tests assert on `kind`, never on prose.

export const ERROR_KINDS = {
  parse_error: { code: -32700, status: 400 },
  invalid_request: { code: -32600, status: 400 },
  method_not_found: { code: -32601, status: 404 },
  invalid_params: { code: -32602, status: 400 },
  internal: { code: -32603, status: 500 },
  /** An unknown tool, prompt or resource: the spec's code for these is invalid params. */
  not_found: { code: -32602, status: 404 },
  upstream_unavailable: { code: -32603, status: 502 },
  timeout: { code: -32001, status: 504 },
  cancelled: { code: -32800, status: 499 },
  session_required: { code: -32000, status: 400 },
  session_not_found: { code: -32001, status: 404 },
  payload_too_large: { code: -32600, status: 413 },
  forbidden: { code: -32000, status: 403 },
  unauthorized: { code: -32000, status: 401 },
  rate_limited: { code: -32000, status: 429 },
  not_acceptable: { code: -32000, status: 406 },
  unsupported_media_type: { code: -32000, status: 415 },
  conflict: { code: -32000, status: 409 },
  overloaded: { code: -32000, status: 503 },
  method_not_allowed: { code: -32000, status: 405 },
  capability_missing: { code: -32601, status: 400 },
  config: { code: -32603, status: 500 },
  /** The identity provider (discovery, JWKS, introspection) could not be reached: not the client's fault. */
  auth_unavailable: { code: -32603, status: 503 },
  /** The audit log cannot be written (`audit.onFailure: fail`): audited calls fail closed. */
  audit_unavailable: { code: -32603, status: 503 },
} as const;

export type ErrorKind = keyof typeof ERROR_KINDS;

export class GatewayError extends Error {
  readonly kind: ErrorKind;
  readonly data?: unknown;
  /** An upstream's own JSON-RPC code, kept so upstream protocol errors pass through unwrapped. */
  readonly upstreamCode?: number;

  constructor(
    kind: ErrorKind,
    message: string,
    options?: { data?: unknown; upstreamCode?: number; cause?: unknown },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GatewayError';
    this.kind = kind;
    this.data = options?.data;
    this.upstreamCode = options?.upstreamCode;
  }

  get code(): number {
    return this.upstreamCode ?? ERROR_KINDS[this.kind].code;
  }

  get status(): number {
    return ERROR_KINDS[this.kind].status;
  }

  toJsonRpcError(): { code: number; message: string; data?: unknown } {
    return this.data === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, data: this.data };
  }
}

/** Any thrown value as a GatewayError; unknown failures are internal (-32603), never a client fault. */
export function toGatewayError(error: unknown): GatewayError {
  if (error instanceof GatewayError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new GatewayError('internal', message, { cause: error });
}
