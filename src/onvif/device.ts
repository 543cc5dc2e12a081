/**
 * An ONVIF camera as dashcam sees it: who it is and what it can do (inventory), and its main
 * stream's encoder settings (read and set). All protocol work is done by the `onvif` npm
 * package (agsh/onvif); this module only maps between its objects and dashcam's units.
 *
 * Services used (ONVIF Core and Media Service specifications, Profile S, Media ver10):
 * Device `GetSystemDateAndTime` + `GetServices` (the library's connect), `GetDeviceInformation`;
 * Media `GetProfiles`, `GetVideoSources`, `GetVideoEncoderConfigurationOptions`,
 * `GetVideoEncoderConfiguration`, `SetVideoEncoderConfiguration`; Imaging `GetOptions` for the
 * wide-dynamic-range modes when the device has an Imaging service. Requests carry a WS-Security
 * UsernameToken with a password digest when a user and password are given.
 *
 * Units: pixels, frames per second, kbit/s (ONVIF's `BitrateLimit` is in kbit/s), GOP length in
 * frames (ONVIF's `GovLength`), timeouts in ms.
 *
 * Media ver10 knows the encodings JPEG, MPEG4 and H264 only; H.265 needs the Media2 service,
 * which this module does not drive (the library is told to use Media ver10 whenever the device
 * offers it), so asking for H265 is refused with an OnvifError before anything is sent.
 */
import { Cam } from "onvif";

// The library resolves service addresses with Node's legacy `url.parse`, which prints a
// DEP0169 deprecation warning to stderr at first use (it is the library's code, on addresses
// the device reports; dashcam itself uses WHATWG URL). That one warning is dropped so the
// service log stays meaningful; every other warning passes through.
const emitWarning = process.emitWarning.bind(process) as (...args: unknown[]) => void;
process.emitWarning = ((warning: unknown, ...rest: unknown[]) => {
  const opts = rest[0];
  const code = typeof opts === "object" && opts !== null ? (opts as { code?: string }).code : rest[1];
  if (code === "DEP0169") return;
  emitWarning(warning, ...rest);
}) as typeof process.emitWarning;

/** Where and how to reach a device: its device-service URL (`http://host[:port]/onvif/device_service`). */
export interface OnvifTarget {
  url: string;
  user?: string;
  password?: string;
  /** Per-request reply timeout in ms (default 10 000). */
  timeoutMs?: number;
}

/** Stream settings in the optimizer's units: pixels, fps, kbit/s, GOP length in frames. */
export interface OnvifStreamSettings {
  width?: number;
  height?: number;
  codec?: "H264" | "H265" | "JPEG";
  fps?: number;
  bitrateKbps?: number;
  gopFrames?: number;
}

/** What a device can do, as stored in `cameras.capabilities` (seed 003). */
export interface OnvifCapabilities {
  /** The largest resolution (by pixel count) any encoding offers. */
  maxResolution: { width: number; height: number };
  /** Encodings the main profile's encoder offers: "H264", "JPEG", "MPEG4". */
  codecs: string[];
  /** The highest frame-rate limit any encoding offers, fps. */
  maxFps: number;
  /** Every resolution offered, largest first. */
  resolutions?: { width: number; height: number }[];
  /** Bitrate limits of the H.264 encoder, kbit/s, when the device reports them. */
  bitrateRangeKbps?: { min: number; max: number };
  /** GOP length limits of the H.264 encoder, frames, when the device reports them. */
  gopRangeFrames?: { min: number; max: number };
  /** Wide dynamic range as the Imaging service reports it: modes (OFF/ON) and the level range. */
  wdr?: { modes: string[]; levelRange?: { min: number; max: number } };
}

/** The inventory fields discovery fills. */
export interface OnvifInventory {
  vendor: string;
  model: string;
  firmware?: string;
  serial?: string;
  capabilities: OnvifCapabilities;
  /** The main profile's encoder settings right now. */
  current: OnvifStreamSettings;
}

/**
 * A device refused a request or could not be reached. `message` is the device's SOAP fault
 * reason (e.g. "The configuration parameters are not possible to set") or the transport
 * problem; `faultCodes` the fault's code and subcodes as sent (e.g.
 * ["env:Sender", "ter:InvalidArgVal", "ter:ConfigModify"]), empty for transport problems.
 */
export class OnvifError extends Error {
  readonly faultCodes: string[];
  constructor(message: string, faultCodes: string[] = []) {
    super(message);
    this.name = "OnvifError";
    this.faultCodes = faultCodes;
  }
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_DEVICE_PATH = "/onvif/device_service";

/** The library collapses one-element lists to the element; this undoes that. */
function list<T>(v: T | T[] | undefined | null): T[] {
  if (v === undefined || v === null || v === "") return [];
  return Array.isArray(v) ? v : [v];
}

function num(v: unknown): number | undefined {
  const n = typeof v === "number" ? v : typeof v === "string" && v.trim() !== "" ? Number(v) : NaN;
  return Number.isFinite(n) ? n : undefined;
}

/** The text of an xml2js node (a string, or `{ _: text }` when it has attributes). */
function text(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (Array.isArray(v)) return text(v[0]);
  if (v && typeof v === "object" && "_" in v) return text((v as { _: unknown })._);
  return undefined;
}

/**
 * The fault's `Code/Value` and nested `Subcode/Value`s from the library's parsed SOAP body, or
 * from the raw reply when a library method passes on no body.
 */
function faultCodesOf(body: unknown, xml?: string): { codes: string[]; reason?: string } {
  const fault = (body as any)?.[0]?.fault?.[0];
  if (!fault) {
    const code = xml ? /<(?:\w+:)?Code>([\s\S]*?)<\/(?:\w+:)?Code>/.exec(xml)?.[1] : undefined;
    const codes = [...(code ?? "").matchAll(/<(?:\w+:)?Value>([^<]*)</g)].map((m) => m[1]!.trim());
    return { codes };
  }
  const codes: string[] = [];
  let node = fault.code?.[0];
  while (node) {
    const value = text(node.value);
    if (value) codes.push(value.trim());
    node = node.subcode?.[0];
  }
  return { codes, reason: text(fault.reason?.[0]?.text)?.trim() };
}

/** Turns the library's error (SOAP fault or transport) into an OnvifError. */
function toOnvifError(err: Error, body: unknown, what: string, xml?: string): OnvifError {
  if (err instanceof OnvifError) return err;
  const { codes, reason } = faultCodesOf(body, xml);
  const message = reason || err.message.replace(/^ONVIF SOAP Fault:\s*/, "") || `${what} failed`;
  if (codes.some((c) => /NotAuthorized/i.test(c)) || /not ?authori[sz]ed|authentication failed/i.test(message)) {
    return new OnvifError(`the device refused the user name or password (${message})`, codes);
  }
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "ECONNREFUSED") return new OnvifError(`nothing answers at the ONVIF address (${what}: connection refused)`);
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return new OnvifError(`the ONVIF host name does not resolve (${what})`);
  if (/timeout/i.test(err.message)) return new OnvifError(`the device did not answer in time (${what})`);
  return new OnvifError(message, codes);
}

/** Calls a callback-style library method as a promise, mapping failures to OnvifError. */
function call<T>(what: string, run: (cb: (err: Error | null, value: T, xml?: string) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    try {
      run((err, value, xml) => (err ? reject(toOnvifError(err, value, what, xml)) : resolve(value)));
    } catch (err) {
      reject(toOnvifError(err as Error, null, what));
    }
  });
}

/** Parses the target's URL into the library's options. Throws OnvifError on a malformed URL. */
function camOptions(target: OnvifTarget) {
  let u: URL;
  try {
    u = new URL(target.url);
  } catch {
    throw new OnvifError("the ONVIF address is not a URL (expected http://host[:port]/onvif/device_service)");
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    throw new OnvifError(`the ONVIF address must start with http:// or https://, not ${u.protocol}//`);
  }
  const secure = u.protocol === "https:";
  return {
    hostname: u.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: u.port ? Number(u.port) : secure ? 443 : 80,
    path: u.pathname && u.pathname !== "/" ? u.pathname : DEFAULT_DEVICE_PATH,
    useSecure: secure,
    username: target.user || (u.username ? decodeURIComponent(u.username) : undefined),
    password: target.password ?? (u.password ? decodeURIComponent(u.password) : undefined),
    timeout: target.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    autoconnect: false,
    // devices behind NAT or a port forward report service addresses that only work inside their
    // network: always talk to the host and port the user configured
    preserveAddress: true,
  };
}

/** A connected camera and its main (first) media profile. */
interface Session {
  cam: Cam;
  profile: any;
  encoderToken: string;
}

/**
 * Connects (GetSystemDateAndTime, GetServices, GetProfiles, GetVideoSources), then checks the
 * credentials with GetDeviceInformation, which every device guards (the connect calls may be
 * answered without them).
 */
async function open(target: OnvifTarget): Promise<{ session: Session; info: any }> {
  const cam = new Cam(camOptions(target));
  const warnings: string[] = [];
  cam.on("warning", (w: unknown) => warnings.push(String(w)));
  // the library throws from inside a socket callback when no profile matches a video source;
  // turn that into a warning so an odd device cannot take the process down
  const pickSources = cam.getActiveSources;
  cam.getActiveSources = function (this: Cam) {
    try {
      pickSources.call(this);
    } catch (err) {
      this.emit("warning", (err as Error).message);
    }
  };
  await call<void>("connect", (cb) => cam.connect((err) => cb(err, undefined)));
  if (!cam.uri || !(cam.uri as Record<string, unknown>).media) {
    throw new OnvifError("the device offers no ONVIF Media service (ver10, Profile S); a Media2-only (Profile T) device is not supported");
  }
  // Media ver10 when the device has it: its messages are the ones mapped below
  let profilesFromConnect = list(cam.profiles);
  if (cam.media2Support && cam.uri && (cam.uri as Record<string, unknown>).media) {
    cam.media2Support = false;
    profilesFromConnect = [];
  }
  const info = await call<any>("GetDeviceInformation", (cb) => cam.getDeviceInformation(cb));
  let profiles = profilesFromConnect;
  if (profiles.length === 0) profiles = list(await call<any[]>("GetProfiles", (cb) => cam.getProfiles(cb)));
  const profile = profiles.find((p) => p?.videoEncoderConfiguration);
  if (!profile) {
    throw new OnvifError(`the device has no media profile with a video encoder${warnings.length ? ` (${warnings[0]})` : ""}`);
  }
  const encoderToken = profile.videoEncoderConfiguration?.$?.token;
  if (!encoderToken) throw new OnvifError("the main profile's video encoder has no token");
  return { session: { cam, profile, encoderToken: String(encoderToken) }, info };
}

/** Media ver10 `VideoEncoderConfiguration` (as the library parses it) -> dashcam units. */
export function settingsOfEncoderConfiguration(config: any): OnvifStreamSettings {
  const out: OnvifStreamSettings = {};
  const width = num(config?.resolution?.width);
  const height = num(config?.resolution?.height);
  if (width !== undefined) out.width = width;
  if (height !== undefined) out.height = height;
  const encoding = String(config?.encoding ?? "").toUpperCase();
  if (encoding === "H264" || encoding === "JPEG" || encoding === "H265") out.codec = encoding;
  const fps = num(config?.rateControl?.frameRateLimit);
  if (fps !== undefined) out.fps = fps;
  const bitrate = num(config?.rateControl?.bitrateLimit);
  if (bitrate !== undefined) out.bitrateKbps = bitrate;
  const gop = num(config?.H264?.govLength ?? config?.MPEG4?.govLength);
  if (gop !== undefined) out.gopFrames = gop;
  return out;
}

function range(r: any): { min: number; max: number } | undefined {
  const min = num(r?.min);
  const max = num(r?.max);
  return min !== undefined && max !== undefined ? { min, max } : undefined;
}

/** Media ver10 `VideoEncoderConfigurationOptions` (+ Imaging options) -> capabilities. */
export function capabilitiesOfOptions(options: any, imaging?: any): OnvifCapabilities {
  const codecs: string[] = [];
  const resolutions = new Map<string, { width: number; height: number }>();
  let maxFps = 0;
  for (const codec of ["H264", "JPEG", "MPEG4"]) {
    const o = options?.[codec] ?? options?.extension?.[codec];
    if (!o) continue;
    codecs.push(codec);
    for (const r of list(o.resolutionsAvailable)) {
      const width = num((r as any)?.width);
      const height = num((r as any)?.height);
      if (width && height) resolutions.set(`${width}x${height}`, { width, height });
    }
    maxFps = Math.max(maxFps, range(o.frameRateRange)?.max ?? 0);
  }
  const sorted = [...resolutions.values()].sort((a, b) => b.width * b.height - a.width * a.height);
  const caps: OnvifCapabilities = {
    maxResolution: sorted[0] ?? { width: 0, height: 0 },
    codecs,
    maxFps,
    resolutions: sorted,
  };
  const bitrate = range(options?.extension?.H264?.bitrateRange);
  if (bitrate) caps.bitrateRangeKbps = bitrate;
  const gop = range(options?.H264?.govLengthRange ?? options?.extension?.H264?.govLengthRange);
  if (gop) caps.gopRangeFrames = gop;
  const wdr = imaging?.wideDynamicRange;
  if (wdr) {
    const modes = list(wdr.mode).map(String);
    const levelRange = range(wdr.level);
    caps.wdr = levelRange ? { modes, levelRange } : { modes };
  }
  return caps;
}

/**
 * Reads the device's identity, the main profile's encoder options and its current settings.
 * Throws OnvifError with the device's fault reason, a wrong-credentials message, or the
 * transport problem (refused, timed out).
 */
export async function discoverOnvifInventory(target: OnvifTarget): Promise<OnvifInventory> {
  const { session, info } = await open(target);
  const { cam, profile, encoderToken } = session;
  const options = await call<any>("GetVideoEncoderConfigurationOptions", (cb) =>
    cam.getVideoEncoderConfigurationOptions({ configurationToken: encoderToken, profileToken: profile.$?.token }, cb),
  );
  const config = await call<any>("GetVideoEncoderConfiguration", (cb) => cam.getVideoEncoderConfiguration(encoderToken, cb));
  let imaging: any;
  const sourceToken = profile.videoSourceConfiguration?.sourceToken;
  if (cam.uri && (cam.uri as Record<string, unknown>).imaging && sourceToken) {
    // optional: a device without Imaging options still has an inventory
    imaging = await call<any>("GetOptions", (cb) => cam.getVideoSourceOptions({ token: String(sourceToken) }, cb)).catch(
      () => undefined,
    );
  }
  const out: OnvifInventory = {
    vendor: String(text(info?.manufacturer) ?? info?.manufacturer ?? "").trim(),
    model: String(text(info?.model) ?? info?.model ?? "").trim(),
    capabilities: capabilitiesOfOptions(options, imaging),
    current: settingsOfEncoderConfiguration(config),
  };
  if (info?.firmwareVersion !== undefined) out.firmware = String(info.firmwareVersion);
  if (info?.serialNumber !== undefined) out.serial = String(info.serialNumber);
  return out;
}

/**
 * Sets the main profile's video encoder (SetVideoEncoderConfiguration, ForcePersistence) to the
 * given settings, keeping what `settings` leaves out, then reads the configuration back
 * (GetVideoEncoderConfiguration). Numbers are rounded to whole ones (Media ver10's xs:int);
 * one below 1 or not finite is refused before anything is sent. Throws OnvifError when the device refuses (its fault reason,
 * e.g. ter:InvalidArgVal/ter:ConfigModify "The configuration parameters are not possible to
 * set"), on wrong credentials, on H265 (not in Media ver10), or on a transport problem.
 */
export async function applyOnvifStreamSettings(
  target: OnvifTarget,
  settings: OnvifStreamSettings,
): Promise<{ readBack: OnvifStreamSettings }> {
  if (settings.codec === "H265") {
    throw new OnvifError("H.265 cannot be set through the ONVIF Media (ver10) service; choose H264 or JPEG");
  }
  // Media ver10 carries whole numbers (xs:int); anything else is refused before a request is sent
  const whole: Partial<Record<"width" | "height" | "fps" | "bitrateKbps" | "gopFrames", number>> = {};
  for (const k of ["width", "height", "fps", "bitrateKbps", "gopFrames"] as const) {
    const n = settings[k];
    if (n === undefined) continue;
    if (!Number.isFinite(n) || Math.round(n) < 1) throw new OnvifError(`${k} must be a positive number, not ${n}`);
    whole[k] = Math.round(n);
  }
  const { session } = await open(target);
  const { cam, encoderToken } = session;
  const current = await call<any>("GetVideoEncoderConfiguration", (cb) => cam.getVideoEncoderConfiguration(encoderToken, cb));
  const next: any = { ...current, $: { ...(current.$ ?? {}), token: encoderToken }, token: encoderToken };
  if (whole.width !== undefined || whole.height !== undefined) {
    next.resolution = {
      width: whole.width ?? current.resolution?.width,
      height: whole.height ?? current.resolution?.height,
    };
  }
  if (settings.codec) next.encoding = settings.codec;
  if (whole.fps !== undefined || whole.bitrateKbps !== undefined) {
    next.rateControl = {
      ...(current.rateControl ?? {}),
      ...(whole.fps !== undefined ? { frameRateLimit: whole.fps } : {}),
      ...(whole.bitrateKbps !== undefined ? { bitrateLimit: whole.bitrateKbps } : {}),
    };
  }
  if (next.encoding === "H264") {
    next.H264 = {
      govLength: whole.gopFrames ?? current.H264?.govLength,
      profile: current.H264?.H264Profile ?? current.H264?.profile ?? "Main",
    };
    delete next.MPEG4;
  } else {
    if (settings.gopFrames !== undefined) {
      throw new OnvifError(`a GOP length applies to H264 only, not to ${next.encoding}`);
    }
    delete next.H264;
  }
  const readBack = await call<any>("SetVideoEncoderConfiguration", (cb) => cam.setVideoEncoderConfiguration(next, cb));
  return { readBack: settingsOfEncoderConfiguration(readBack) };
}
