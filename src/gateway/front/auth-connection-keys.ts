// The API key each keep-alive connection proved last: a later request on that connection presenting the very same
// Authorization header is that key's principal again, without parsing the header or hashing the token. The
// header is compared in constant time (behind a proxy one connection carries many clients' requests), and what
// is remembered holds only while the key set it was proved against is the current one.
import type { Principal } from '../../policy/types.js';

interface Proved {
  readonly header: string;
  readonly principal: Principal;
  /** The key set's generation when the header proved this principal. */
  readonly generation: number;
}

export class ConnectionKeys {
  /** By connection (its socket): one entry per connection, gone with it; replaced when the header changes. */
  private readonly proved = new WeakMap<object, Proved>();

  /** The principal `header` proved last on `connection`, if it is that header and the key set is the same. */
  recall(connection: object, header: string, generation: number): Principal | undefined {
    const last = this.proved.get(connection);
    if (last === undefined || last.generation !== generation || !sameText(last.header, header))
      return undefined;
    return last.principal;
  }

  remember(connection: object, header: string, principal: Principal, generation: number): void {
    this.proved.set(connection, { header, principal, generation });
  }
}

/**
 * Whether `presented` is `known`, in a time that depends only on the presented text's length: no early exit at
 * the first difference, and the known text's length folded into the result rather than compared first, so a
 * caller learns neither how much of another client's header matched nor how long it is.
 */
export function sameText(known: string, presented: string): boolean {
  let difference = known.length ^ presented.length;
  // Past the known text's end charCodeAt gives NaN, which `| 0` makes 0: the loop still runs to the end.
  for (let i = 0; i < presented.length; i++)
    difference |= (known.charCodeAt(i) | 0) ^ presented.charCodeAt(i);
  return difference === 0;
}
