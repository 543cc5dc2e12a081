/**
 * Raw HTTP/1.1 requests over a TCP socket, for paths `fetch` would normalise away
 * (`/trips/../../etc/passwd`, `%2e%2e`): the request line is sent byte for byte.
 */
import { connect } from "node:net";

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/**
 * Sends `GET <rawPath> HTTP/1.1` (or `method`) to 127.0.0.1:port with `headers` (e.g. a session
 * cookie) and reads the whole response.
 */
export function rawRequest(port: number, rawPath: string, headers: Record<string, string> = {}, method = "GET", timeoutMs = 10_000): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: "127.0.0.1", port });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no response to ${method} ${rawPath} within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.once("connect", () => {
      const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("");
      sock.write(`${method} ${rawPath} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\nAccept: */*\r\n${extra}\r\n`);
    });
    sock.on("data", (c: Buffer) => chunks.push(c));
    sock.once("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    sock.once("close", () => {
      clearTimeout(timer);
      const all = Buffer.concat(chunks);
      const headEnd = all.indexOf("\r\n\r\n");
      if (headEnd < 0) return reject(new Error(`malformed response to ${rawPath}: ${all.toString("latin1").slice(0, 200)}`));
      const head = all.subarray(0, headEnd).toString("latin1").split("\r\n");
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head[0])?.[1]);
      const headers: Record<string, string> = {};
      for (const h of head.slice(1)) {
        const i = h.indexOf(":");
        if (i > 0) headers[h.slice(0, i).trim().toLowerCase()] = h.slice(i + 1).trim();
      }
      let body: Buffer = all.subarray(headEnd + 4);
      if (/chunked/i.test(headers["transfer-encoding"] ?? "")) body = dechunk(body);
      resolve({ status, headers, body });
    });
  });
}

function dechunk(buf: Buffer): Buffer {
  const out: Buffer[] = [];
  let i = 0;
  while (i < buf.length) {
    const eol = buf.indexOf("\r\n", i);
    if (eol < 0) break;
    const size = parseInt(buf.subarray(i, eol).toString("latin1"), 16);
    if (!size) break;
    out.push(buf.subarray(eol + 2, eol + 2 + size));
    i = eol + 2 + size + 2;
  }
  return Buffer.concat(out);
}

export const E2E_USER = "e2e";
export const E2E_PASSWORD = "e2e-password-0123456789";

/**
 * Logs in to the runtime's web UI the way a browser does and returns the `Cookie` header value
 * of the session. With no user yet, the first-run `/setup` form creates `username` (an admin);
 * otherwise `/login` is used. Both forms are CSRF-protected (double-submit cookie + `_csrf`
 * field), so the pre-session cookie from the GET is sent back with the token from the page.
 * Throws with the status and a snippet of the page when it does not end in a 303.
 */
export async function webSession(base: string, username = E2E_USER, password = E2E_PASSWORD): Promise<string> {
  const jar = new Map<string, string>();
  const take = (r: Response) => {
    for (const sc of r.headers.getSetCookie()) {
      const kv = sc.split(";")[0];
      const i = kv.indexOf("=");
      if (i > 0) jar.set(kv.slice(0, i).trim(), kv.slice(i + 1).trim());
    }
  };
  const cookie = () => [...jar].map(([k, v]) => `${k}=${v}`).join("; ");
  let r = await fetch(`${base}/login`, { redirect: "manual" });
  take(r);
  const setup = r.status >= 300 && r.status < 400 && (r.headers.get("location") ?? "").endsWith("/setup");
  const page = setup ? `${base}/setup` : `${base}/login`;
  if (setup) {
    await r.arrayBuffer();
    r = await fetch(page, { headers: { cookie: cookie() }, redirect: "manual" });
    take(r);
  }
  const html = await r.text();
  const csrf = /name="_csrf" value="([^"]+)"/.exec(html)?.[1];
  if (!csrf) throw new Error(`no CSRF field on ${page} (${r.status}): ${html.slice(0, 300)}`);
  const form: Record<string, string> = setup ? { username, password, confirm: password, _csrf: csrf } : { username, password, next: "/", _csrf: csrf };
  r = await fetch(page, {
    method: "POST",
    body: new URLSearchParams(form),
    headers: { cookie: cookie(), "content-type": "application/x-www-form-urlencoded", origin: base },
    redirect: "manual",
  });
  take(r);
  if (r.status !== 303) throw new Error(`${setup ? "setup" : "login"} failed: ${r.status} ${(await r.text()).slice(0, 300)}`);
  return cookie();
}
