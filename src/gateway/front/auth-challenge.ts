// The refusals of inbound auth as GatewayErrors carrying their WWW-Authenticate challenge (RFC 6750, RFC 9728):
// 401 with the protected-resource metadata URL, 403 insufficient_scope naming the scopes. Every description is
// fixed text: nothing of the presented token or its claims ever appears in a status, header or body.
import { GatewayError } from '../../errors.js';

/** The data a refusal carries; server.ts sends `wwwAuthenticate` as the WWW-Authenticate header. */
export interface ChallengeData {
  wwwAuthenticate: string;
}

export class Challenges {
  private readonly metadata: string;
  private readonly base: string;
  private readonly scope: string;

  /** `metadataUrl`: where the RFC 9728 document is; `requiredScopes`: what every token must carry. */
  constructor(metadataUrl: string, requiredScopes: readonly string[]) {
    this.metadata = `resource_metadata="${metadataUrl}"`;
    this.base = `Bearer ${this.metadata}`;
    this.scope = requiredScopes.join(' ');
  }

  /** No credentials at all: the challenge alone, without an error code (RFC 6750 section 3.1). */
  missing(): GatewayError {
    const challenge = this.scope ? `${this.base}, scope="${this.scope}"` : this.base;
    return this.refuse('unauthorized', 'Unauthorized: a bearer token is required', challenge);
  }

  /** A token (or header) that was sent and is not acceptable; `description` is fixed text. */
  invalid(code: 'invalid_token' | 'invalid_request', description: string): GatewayError {
    return this.refuse(
      'unauthorized',
      `Unauthorized: ${description}`,
      `${this.base}, error="${code}", error_description="${description}"`,
    );
  }

  /** A valid token without every required scope. */
  insufficientScope(): GatewayError {
    return this.refuse(
      'forbidden',
      `Forbidden: the token lacks a required scope (needs: ${this.scope})`,
      `Bearer error="insufficient_scope", scope="${this.scope}", ${this.metadata}`,
    );
  }

  /** RFC 9700 and the MCP spec forbid tokens in URLs (they end up in logs and Referer headers). */
  queryToken(): GatewayError {
    const description = 'send the access token in the Authorization header, never in the query string';
    return this.refuse(
      'invalid_request',
      `Bad Request: ${description}`,
      `${this.base}, error="invalid_request", error_description="${description}"`,
    );
  }

  private refuse(kind: 'unauthorized' | 'forbidden' | 'invalid_request', message: string, header: string) {
    const data: ChallengeData = { wwwAuthenticate: header };
    return new GatewayError(kind, message, { data });
  }
}

/** Whether a request target's query carries an `access_token` parameter (in any case, encoded or not). */
export function hasQueryToken(target: string, queryStart: number): boolean {
  const query = target.slice(queryStart + 1).toLowerCase();
  for (const pair of query.split('&')) {
    const name = pair.split('=', 1)[0];
    if (name === 'access_token' || safeDecode(name) === 'access_token') return true;
  }
  return false;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return text;
  }
}
