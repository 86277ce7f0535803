// The haproxy configuration of the multi-replica tests, and its stats page read back: round robin over the
// replicas with no stickiness (any replica must serve any request), /readyz health checks fast enough that a
// draining replica leaves the rotation within a few hundred ms, and retries of requests that got no answer.

/** haproxy.cfg for a front on `frontPort`, a stats page on `statsPort`, and one server per replica base URL. */
export function haproxyConfig(
  frontPort: number,
  statsPort: number,
  replicas: readonly string[],
  // Only requests that never reached a replica: one it may have run is never sent twice (deploy/haproxy.cfg too).
  retryOn = 'conn-failure',
): string {
  const servers = replicas.map((base, i) => `  server r${i} ${new URL(base).host}`);
  return `global
  log stderr format raw local0 info
  maxconn 2000

defaults
  mode http
  log global
  option httplog
  # On loopback a connect either succeeds at once or is refused; a short timeout keeps retries quick.
  timeout connect 500ms
  # GET /mcp streams and SSE answers stay open while silent.
  timeout client 5m
  timeout server 5m
  timeout tunnel 5m
  timeout http-keep-alive 10s
  # An SSE answer that carries a question (sampling, elicitation) waits for the client's answer: without this,
  # haproxy holds the unfinished chunk back to fill a packet, ~200 ms per question.
  option http-no-delay

frontend mcp
  bind 127.0.0.1:${frontPort}
  default_backend gateways

backend gateways
  balance roundrobin
  # One server connection per request: a replica that closes (drain) or dies never holds a reused connection
  # that a request is then sent on.
  option http-server-close
  # A request that got no answer goes to another replica: refused (the replica is gone, or closed as it drained)
  # or closed before any answer. The latter (empty-response) covers a drained replica closing a connection it
  # had not read yet, but also replays a call a killed replica may already have run.
  option redispatch
  retries 3
  retry-on ${retryOn}
  option httpchk
  http-check send meth GET uri /readyz ver HTTP/1.1 hdr Host localhost
  http-check expect status 200
  default-server check inter 200ms fall 1 rise 2
${servers.join('\n')}

listen stats
  bind 127.0.0.1:${statsPort}
  stats enable
  stats uri /stats
`;
}

/** Each replica's state as haproxy sees it (UP, DOWN, ...), in server order. */
export async function haproxyServers(statsPort: number): Promise<string[]> {
  const csv = await (await fetch(`http://127.0.0.1:${statsPort}/stats;csv`)).text();
  const rows = csv.split('\n').map((line) => line.split(','));
  const header = rows[0].map((name) => name.replace(/^# /, ''));
  const [px, sv, status] = ['pxname', 'svname', 'status'].map((name) => header.indexOf(name));
  return rows
    .filter((row) => row[px] === 'gateways' && /^r\d+$/.test(row[sv] ?? ''))
    .map((row) => row[status].split(' ')[0]);
}
