/**
 * Process log: one line per message on stderr, `ISO-time level message`. Camera URLs must
 * never reach it: callers pass camera keys, and `redact()` strips credentials and rtsp URLs
 * from any text that may contain one (ffmpeg's stderr does).
 */
type Level = "debug" | "info" | "warn" | "error";
const ORDER: Record<Level, number> = { debug: 0, info: 1, warn: 2, error: 3 };
let threshold: Level = (process.env.DASHCAM_LOG as Level) in ORDER ? (process.env.DASHCAM_LOG as Level) : "info";

/** Replaces every rtsp(s)/http(s) URL in `text` with `<url>`. */
export function redact(text: string): string {
  return text.replace(/\b(rtsps?|https?):\/\/[^\s'"]+/gi, "<$1-url>");
}

export function setLogLevel(level: Level): void {
  threshold = level;
}

function write(level: Level, message: string): void {
  if (ORDER[level] < ORDER[threshold]) return;
  process.stderr.write(`${new Date().toISOString()} ${level} ${redact(message)}\n`);
}

export const log = {
  debug: (m: string) => write("debug", m),
  info: (m: string) => write("info", m),
  warn: (m: string) => write("warn", m),
  error: (m: string) => write("error", m),
};
