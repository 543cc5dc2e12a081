/**
 * Live updates over SSE through the real server: startWebServer on an ephemeral loopback port,
 * `/live` opened with fetch, bus events published as the runtime does, rendered htmx fragments
 * read back from the stream.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { logEvent } from "../src/db/eventLog.ts";
import { startWebServer } from "../src/web/server.ts";
import { makeFixture, type WebFixture } from "./web-fixture.ts";

let f: WebFixture;
let web: ReturnType<typeof startWebServer>;

beforeAll(async () => {
  f = await makeFixture({ sseHeartbeatMs: 150 });
  web = startWebServer(f.deps);
});
afterAll(async () => {
  await web?.stop();
  f?.cleanup();
});

interface SseMessage {
  event?: string;
  data: string;
  comment?: string;
}

/** Reads an SSE stream and hands out parsed messages (comments included) one at a time. */
class SseReader {
  private buf = "";
  private decoder = new TextDecoder();
  private pending: SseMessage[] = [];
  constructor(private reader: ReadableStreamDefaultReader<Uint8Array>) {}

  /** Next message matching `pred`; fails after `limitMs` (a safety net, not a timing assertion). */
  async next(pred: (m: SseMessage) => boolean, limitMs = 10_000): Promise<SseMessage> {
    const deadline = Date.now() + limitMs;
    for (;;) {
      const i = this.pending.findIndex(pred);
      if (i >= 0) return this.pending.splice(i, 1)[0];
      if (Date.now() > deadline) throw new Error(`no matching SSE message; pending: ${JSON.stringify(this.pending.slice(-5))}`);
      const { value, done } = await this.reader.read();
      if (done) throw new Error("SSE stream ended");
      this.buf += this.decoder.decode(value, { stream: true });
      let end: number;
      while ((end = this.buf.indexOf("\n\n")) >= 0) {
        const block = this.buf.slice(0, end);
        this.buf = this.buf.slice(end + 2);
        const msg: SseMessage = { data: "" };
        const data: string[] = [];
        for (const line of block.split("\n")) {
          if (line.startsWith(":")) msg.comment = line.slice(1).trim();
          else if (line.startsWith("event: ")) msg.event = line.slice(7);
          else if (line.startsWith("data: ")) data.push(line.slice(6));
        }
        msg.data = data.join("\n");
        this.pending.push(msg);
      }
    }
  }

  /** Every message received so far that is still unread. */
  unread(): SseMessage[] {
    return [...this.pending];
  }
}

async function open(): Promise<{ res: Response; sse: SseReader; abort: AbortController }> {
  const abort = new AbortController();
  const res = await f.fetch(`${web.url}/live`, { signal: abort.signal }, "viewer");
  return { res, sse: new SseReader(res.body!.getReader()), abort };
}

describe("startWebServer", () => {
  test("listens on an ephemeral loopback port and reports the real URL", async () => {
    expect(web.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(Number(new URL(web.url).port)).toBeGreaterThan(0);
    expect(web.server.port).toBe(Number(new URL(web.url).port));
    const res = await fetch(`${web.url}/healthz`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { cameras: unknown[] }).cameras).toHaveLength(2);
  });
});

describe("dashboard", () => {
  test("without [gpio] there is no save-button card", async () => {
    const html = await (await f.fetch(`${web.url}/`, undefined, "viewer")).text();
    expect(html).toContain('id="camera-front"');
    expect(html).not.toContain('id="gpio"');
  });
});

describe("/live", () => {
  test("headers, connect comment and heartbeats", async () => {
    const { res, sse, abort } = await open();
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    expect(res.headers.get("cache-control")).toContain("no-cache");
    expect((await sse.next((m) => m.comment === "connected")).comment).toBe("connected");
    expect((await sse.next((m) => m.comment === "heartbeat")).comment).toBe("heartbeat");
    expect((await sse.next((m) => m.comment === "heartbeat")).comment).toBe("heartbeat");
    abort.abort();
  });

  test("camera, segment, trip and event-log changes arrive as rendered fragments", async () => {
    const { sse, abort } = await open();
    await sse.next((m) => m.comment === "connected");
    expect(f.bus.size).toBeGreaterThanOrEqual(1);

    // camera goes to stalled with an error: the card body re-rendered from the status row
    f.db
      .query("UPDATE camera_status SET state = 'stalled', last_error = 'no segment for 14 s' WHERE camera_id = ?")
      .run(f.front.id);
    f.bus.publish({ type: "camera", key: "front", state: "stalled" });
    const cam = await sse.next((m) => m.event === "camera-front");
    expect(cam.data).toContain('class="badge warn" data-state="stalled">Reconnecting…<');
    expect(cam.data).toContain("no segment for 14 s");
    expect(cam.data).not.toContain("<html");

    // a new segment: card (new count), the segment row for the camera page, the disk card
    const last = f.front.segments.at(-1)!;
    f.db
      .query(
        `INSERT INTO segments (camera_id, segment_index, segment_gen, absolute_index, start_utc, end_utc, rel_path, bytes)
         VALUES (?, 7, 1, 17, ?, ?, 'recordings/front/000000017.ts', 4096)`,
      )
      .run(f.front.id, last.end, last.end + 2000);
    f.db.query("UPDATE camera_status SET state = 'recording', last_error = NULL, last_segment_at = ? WHERE camera_id = ?").run(
      last.end + 2000,
      f.front.id,
    );
    f.bus.publish({ type: "segment", key: "front", absoluteIndex: 17, endUtc: last.end + 2000, bytes: 4096 });
    const card = await sse.next((m) => m.event === "camera-front");
    expect(card.data).toContain("8 / 10 segments");
    expect(card.data).toContain(`data-t="${last.end + 2000}"`);
    const seg = await sse.next((m) => m.event === "segment-front");
    expect(seg.data).toMatch(/^<tr>/);
    expect(seg.data).toContain('href="/media/front/17.mp4"'); // a phone plays MP4, not MPEG-TS
    expect(seg.data).toContain("4.0 KiB");
    const disk = await sse.next((m) => m.event === "disk");
    expect(disk.data).toMatch(/free of [\d.]+ [KMGT]iB/);

    // a trip closes
    f.db.query("UPDATE trips SET status = 'closed', end_time_utc = ? WHERE id = 3").run(last.end + 2000);
    f.bus.publish({ type: "trip", id: 3, cameraKey: "front", state: "closed" });
    const trip = await sse.next((m) => m.event === "trip-3");
    expect(trip.data).toBe('<span class="badge off" data-status="closed">Ended</span>');
    // the save confirmation / keep state of that trip is repainted too (this one was never kept)
    const keep = await sse.next((m) => m.event === "keep-3");
    expect(keep.data).toContain("Not kept: it will be overwritten");

    // an event is logged
    const closed = logEvent(f.db, { kind: "trip.close", message: "trip 3 closed at segment 16", cameraId: f.front.id });
    f.bus.publish({ type: "event_log", id: closed, kind: "trip.close", message: "trip 3 closed" });
    const sentence = await sse.next((m) => m.event === "event-log");
    expect(sentence.data).toContain("Front camera: the drive ended"); // a sentence, not the kind or the recorder's words
    expect(sentence.data).not.toContain("segment");
    // a kind without a sentence shows its message, escaped
    const id = logEvent(f.db, { kind: "test.note", message: "note <orderly>", cameraId: f.front.id });
    f.bus.publish({ type: "event_log", id, kind: "test.note", message: "note" });
    const ev = await sse.next((m) => m.event === "event-log");
    expect(ev.data).toContain(`id="event-${id}"`);
    expect(ev.data).toContain("note &lt;orderly&gt;"); // escaped

    // a watchlist alert (ALPR) becomes a banner; its text is escaped
    f.bus.publish({
      type: "alert", kind: "alpr.watchlist", plate: "ABC123", watched: "ABC123", cameraKey: "front",
      ts: last.end, vehicleId: 1, message: "watchlist plate ABC123 <seen>",
    });
    const alert = await sse.next((m) => m.event === "alert");
    expect(alert.data).toContain('role="alert"');
    expect(alert.data).toContain(`href="/cameras/front?at=${last.end}"`); // the footage at that moment
    expect(alert.data).toContain('href="/plates?q=ABC123"');
    expect(alert.data).toContain('<strong class="plate-text">ABC123</strong>');
    expect(alert.data).toContain("front");
    expect(alert.data).toContain("watchlist plate ABC123 &lt;seen&gt;");
    expect(alert.data).toContain("data-dismiss");
    expect(alert.data).not.toContain("<img"); // vehicle 1 has no row here, so no snapshot to show

    // the GPIO button's status (the supervisor publishes each change): the dashboard card's body
    f.bus.publish({ type: "gpio", status: "unavailable", reason: 'GPIO chip "gpiochip0" not found <x>', at: last.end });
    const gpio = await sse.next((m) => m.event === "gpio");
    expect(gpio.data).toContain('class="badge bad">unavailable<');
    expect(gpio.data).toContain("GPIO chip &quot;gpiochip0&quot; not found &lt;x&gt;");
    expect(gpio.data).not.toContain("<article");
    f.bus.publish({ type: "gpio", status: "ready", reason: null, at: last.end + 1 });
    const ready = await sse.next((m) => m.event === "gpio");
    expect(ready.data).toContain('class="badge ok">ready<');
    expect(ready.data).toContain("Press to save the current trip");

    // an event about a camera that does not exist sends nothing; the next real one still arrives
    f.bus.publish({ type: "camera", key: "ghost", state: "recording" });
    f.bus.publish({ type: "trip", id: 424242, cameraKey: "front", state: "open" });
    f.bus.publish({ type: "camera", key: "rear", state: "backoff" });
    await sse.next((m) => m.event === "camera-rear");
    expect(sse.unread().filter((m) => m.event === "camera-ghost" || m.event === "trip-424242")).toEqual([]);
    abort.abort();
  });

  test("every connected client gets the update; a closed client is unsubscribed", async () => {
    const a = await open();
    const b = await open();
    await a.sse.next((m) => m.comment === "connected");
    await b.sse.next((m) => m.comment === "connected");
    const base = f.bus.size;
    expect(base).toBeGreaterThanOrEqual(2);
    f.bus.publish({ type: "camera", key: "rear", state: "backoff" });
    expect((await a.sse.next((m) => m.event === "camera-rear")).data).toContain("backoff");
    expect((await b.sse.next((m) => m.event === "camera-rear")).data).toContain("backoff");
    a.abort.abort();
    // the server notices the disconnect (next heartbeat write at the latest)
    const deadline = Date.now() + 10_000;
    while (f.bus.size >= base && Date.now() < deadline) await Bun.sleep(50);
    expect(f.bus.size).toBe(base - 1);
    b.abort.abort();
  });

  test("stop() closes open streams and the port", async () => {
    const local = startWebServer(f.deps);
    const abort = new AbortController();
    const res = await f.fetch(`${local.url}/live`, { signal: abort.signal }, "viewer");
    const sse = new SseReader(res.body!.getReader());
    await sse.next((m) => m.comment === "connected");
    await local.stop();
    await expect(sse.next(() => false, 10_000)).rejects.toThrow();
    await expect(fetch(`${local.url}/healthz`)).rejects.toThrow();
    abort.abort();
  });
});
