// Shared by the auth tests: raw requests with exact statuses and headers, and the check that a refusal says
// nothing of the token it refused (neither the token, any of its parts, nor the claim values inside it).
import { expect } from 'vitest';
import { INIT, rawPost } from '../helpers/gateway.js';

export const RESOURCE = 'https://gw.example.test/mcp';
export const METADATA_URL = 'https://gw.example.test/.well-known/oauth-protected-resource/mcp';

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
}

/** An initialize POST with these headers (the first request any client sends). */
export async function initialize(
  url: string,
  headers: Record<string, string> = {},
  body: string = INIT,
): Promise<Answer> {
  const { status, headers: answered, text } = await rawPost(url, body, headers);
  return { status, headers: answered, text };
}

export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

/** Fails when a response carries any part of `token` or any of `secrets` (claim values) in body or headers. */
export function expectNoLeak(answer: Answer, token: string | undefined, secrets: string[] = []): void {
  const pieces = [...secrets];
  if (token) pieces.push(token, ...token.split('.').filter((part) => part.length >= 8));
  const everything = [answer.text, ...[...answer.headers].map(([name, value]) => `${name}: ${value}`)].join(
    '\n',
  );
  for (const piece of pieces) expect(everything, 'a refusal repeats part of the token').not.toContain(piece);
}

/** The WWW-Authenticate parameters as a map (quoted values only, which is all the gateway sends). */
export function challengeOf(answer: Answer): Record<string, string> {
  const header = answer.headers.get('www-authenticate') ?? '';
  expect(header.startsWith('Bearer ')).toBe(true);
  return Object.fromEntries([...header.matchAll(/([a-z_]+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
}

export function unsignedJwt(claims: Record<string, unknown>): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part(claims)}.`;
}

export const now = () => Math.floor(Date.now() / 1000);
