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

/** Sends `GET <rawPath> HTTP/1.1` (or `method`) to 127.0.0.1:port and reads the whole response. */
export function rawRequest(port: number, rawPath: string, method = "GET", timeoutMs = 10_000): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: "127.0.0.1", port });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no response to ${method} ${rawPath} within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.once("connect", () => {
      sock.write(`${method} ${rawPath} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\nAccept: */*\r\n\r\n`);
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
