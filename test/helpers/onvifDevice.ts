/**
 * A loopback ONVIF camera (Profile S, Device + Media ver10 + Imaging ver20) for tests: an HTTP
 * server that answers SOAP 1.2 requests with the messages the ONVIF Device, Media and Imaging
 * WSDLs define (element names, namespaces and fault codes as in the ONVIF Core Specification
 * and the Media Service Specification). It is the outermost boundary only: dashcam talks to it
 * through the real `onvif` npm client over real HTTP.
 *
 * Security as ONVIF Core 5.12: every request except the PRE_AUTH ones (GetSystemDateAndTime,
 * GetServices, GetCapabilities) must carry a WS-Security UsernameToken whose PasswordDigest is
 * Base64(SHA-1(nonce + created + password)) (OASIS UsernameToken Profile 1.0); otherwise the
 * device answers HTTP 400 with env:Sender / ter:NotAuthorized "Sender not Authorized".
 *
 * SetVideoEncoderConfiguration checks the requested values against the options it advertises
 * and refuses with env:Sender / ter:InvalidArgVal / ter:ConfigModify "The configuration
 * parameters are not possible to set" (the fault the Media WSDL lists for that operation).
 * With `frameRateCap` it clamps the frame rate instead of refusing, as cameras do in some modes.
 */
import { createHash } from "node:crypto";

export interface FakeEncoderConfig {
  encoding: "H264" | "JPEG";
  width: number;
  height: number;
  quality: number;
  fps: number;
  encodingInterval: number;
  bitrateKbps: number;
  gop: number;
  h264Profile: string;
}

export interface FakeOnvifOptions {
  user?: string;
  password?: string;
  manufacturer?: string;
  model?: string;
  firmware?: string;
  serial?: string;
  /** Resolutions offered by H264 and JPEG, largest first. */
  resolutions?: [number, number][];
  maxFps?: number;
  bitrateRange?: [number, number];
  gopRange?: [number, number];
  /** No Imaging service advertised when false. */
  imaging?: boolean;
  /**
   * A Profile T device without Media ver10: GetServices lists only Media2 (ver20), whose requests
   * this fake answers with ter:ActionNotSupported.
   */
  media2Only?: boolean;
  /**
   * The most frames/s the sensor runs at in its present mode, below the advertised maximum (as
   * a camera with WDR on or 50 Hz anti-flicker): SetVideoEncoderConfiguration accepts any
   * FrameRateLimit within the advertised range and the device keeps (and reports back) at most
   * this many.
   */
  frameRateCap?: number;
  /**
   * Called (and awaited before the reply) after SetVideoEncoderConfiguration changed the main
   * stream, with its new configuration: a device's encoder restarting with it, e.g. an RTSP
   * stream (./rtsp.ts) that follows it.
   */
  onMainConfigured?: (main: FakeEncoderConfig) => Promise<void> | void;
}

export interface FakeOnvifDevice {
  /** Device service URL, e.g. http://127.0.0.1:41234/onvif/device_service */
  url: string;
  port: number;
  /** The main stream's encoder configuration as the device holds it now. */
  main: FakeEncoderConfig;
  /** Operation names received, in order (e.g. "GetProfiles"). */
  requests: string[];
  /** Operations that were refused because of missing or wrong credentials. */
  unauthorized: string[];
  stop(): void;
}

const NS =
  'xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:tt="http://www.onvif.org/ver10/schema" ' +
  'xmlns:tds="http://www.onvif.org/ver10/device/wsdl" xmlns:trt="http://www.onvif.org/ver10/media/wsdl" ' +
  'xmlns:timg="http://www.onvif.org/ver20/imaging/wsdl" xmlns:ter="http://www.onvif.org/ver10/error"';

const envelope = (body: string) => `<?xml version="1.0" encoding="UTF-8"?>\n<env:Envelope ${NS}><env:Body>${body}</env:Body></env:Envelope>`;

function fault(code: "env:Sender" | "env:Receiver", subcodes: string[], reason: string): string {
  const nested = subcodes.reduceRight((inner, sc) => `<env:Subcode><env:Value>${sc}</env:Value>${inner}</env:Subcode>`, "");
  return envelope(
    `<env:Fault><env:Code><env:Value>${code}</env:Value>${nested}</env:Code>` +
      `<env:Reason><env:Text xml:lang="en">${reason}</env:Text></env:Reason></env:Fault>`,
  );
}

/** The first text of element `local` (any prefix) inside `xml`. */
function tag(xml: string, local: string): string | undefined {
  return new RegExp(`<(?:\\w+:)?${local}(?:\\s[^>]*)?>([^<]*)</(?:\\w+:)?${local}>`).exec(xml)?.[1];
}
/** The inner XML of element `local` (any prefix). */
function inner(xml: string, local: string): string | undefined {
  return new RegExp(`<(?:\\w+:)?${local}(?:\\s[^>]*)?>([\\s\\S]*?)</(?:\\w+:)?${local}>`).exec(xml)?.[1];
}

const range = (min: number, max: number) => `<tt:Min>${min}</tt:Min><tt:Max>${max}</tt:Max>`;

/** Starts the device on 127.0.0.1 with an OS-assigned port. */
export function startFakeOnvifDevice(opts: FakeOnvifOptions = {}): FakeOnvifDevice {
  const user = opts.user ?? "admin";
  const password = opts.password ?? "secret-pass";
  const resolutions = opts.resolutions ?? [
    [2560, 1440],
    [1920, 1080],
    [1280, 720],
    [640, 360],
  ];
  const maxFps = opts.maxFps ?? 30;
  const [minKbps, maxKbps] = opts.bitrateRange ?? [64, 16384];
  const [minGop, maxGop] = opts.gopRange ?? [1, 300];
  const main: FakeEncoderConfig = {
    encoding: "H264",
    width: 1920,
    height: 1080,
    quality: 4,
    fps: 25,
    encodingInterval: 1,
    bitrateKbps: 4096,
    gop: 50,
    h264Profile: "Main",
  };
  const sub: FakeEncoderConfig = { ...main, width: 640, height: 360, fps: 15, bitrateKbps: 512, gop: 30 };
  const requests: string[] = [];
  const unauthorized: string[] = [];
  let base = "";

  const encoderXml = (token: string, c: FakeEncoderConfig) =>
    `<tt:Name>${token === "VideoEncoder_1" ? "MainStream" : "SubStream"}</tt:Name><tt:UseCount>1</tt:UseCount>` +
    `<tt:Encoding>${c.encoding}</tt:Encoding>` +
    `<tt:Resolution><tt:Width>${c.width}</tt:Width><tt:Height>${c.height}</tt:Height></tt:Resolution>` +
    `<tt:Quality>${c.quality}</tt:Quality>` +
    `<tt:RateControl><tt:FrameRateLimit>${c.fps}</tt:FrameRateLimit><tt:EncodingInterval>${c.encodingInterval}</tt:EncodingInterval>` +
    `<tt:BitrateLimit>${c.bitrateKbps}</tt:BitrateLimit></tt:RateControl>` +
    (c.encoding === "H264" ? `<tt:H264><tt:GovLength>${c.gop}</tt:GovLength><tt:H264Profile>${c.h264Profile}</tt:H264Profile></tt:H264>` : "") +
    `<tt:Multicast><tt:Address><tt:Type>IPv4</tt:Type><tt:IPv4Address>0.0.0.0</tt:IPv4Address></tt:Address>` +
    `<tt:Port>0</tt:Port><tt:TTL>0</tt:TTL><tt:AutoStart>false</tt:AutoStart></tt:Multicast>` +
    `<tt:SessionTimeout>PT60S</tt:SessionTimeout>`;

  const profileXml = (token: string, name: string, encToken: string, c: FakeEncoderConfig) =>
    `<trt:Profiles token="${token}" fixed="true"><tt:Name>${name}</tt:Name>` +
    `<tt:VideoSourceConfiguration token="VideoSourceConfig_1"><tt:Name>VideoSourceConfig</tt:Name><tt:UseCount>2</tt:UseCount>` +
    `<tt:SourceToken>VideoSource_1</tt:SourceToken><tt:Bounds x="0" y="0" width="${resolutions[0]![0]}" height="${resolutions[0]![1]}"/></tt:VideoSourceConfiguration>` +
    `<tt:VideoEncoderConfiguration token="${encToken}">${encoderXml(encToken, c)}</tt:VideoEncoderConfiguration></trt:Profiles>`;

  const resolutionsXml = resolutions.map(([w, h]) => `<tt:ResolutionsAvailable><tt:Width>${w}</tt:Width><tt:Height>${h}</tt:Height></tt:ResolutionsAvailable>`).join("");
  const h264Options =
    resolutionsXml +
    `<tt:GovLengthRange>${range(minGop, maxGop)}</tt:GovLengthRange><tt:FrameRateRange>${range(1, maxFps)}</tt:FrameRateRange>` +
    `<tt:EncodingIntervalRange>${range(1, 1)}</tt:EncodingIntervalRange>` +
    `<tt:H264ProfilesSupported>Baseline</tt:H264ProfilesSupported><tt:H264ProfilesSupported>Main</tt:H264ProfilesSupported>` +
    `<tt:H264ProfilesSupported>High</tt:H264ProfilesSupported>`;
  const jpegOptions = resolutionsXml + `<tt:FrameRateRange>${range(1, Math.min(maxFps, 15))}</tt:FrameRateRange><tt:EncodingIntervalRange>${range(1, 1)}</tt:EncodingIntervalRange>`;

  const service = (ns: string, path: string, major: number, minor: number) =>
    `<tds:Service><tds:Namespace>${ns}</tds:Namespace><tds:XAddr>${base}${path}</tds:XAddr>` +
    `<tds:Version><tt:Major>${major}</tt:Major><tt:Minor>${minor}</tt:Minor></tds:Version></tds:Service>`;

  /** Checks a SetVideoEncoderConfiguration request; returns the new config or null when refused. */
  function parseSet(body: string, current: FakeEncoderConfig): FakeEncoderConfig | null {
    const conf = inner(body, "Configuration") ?? "";
    const next = { ...current };
    const encoding = tag(conf, "Encoding");
    if (encoding !== undefined) {
      if (encoding !== "H264" && encoding !== "JPEG") return null;
      next.encoding = encoding;
    }
    const res = inner(conf, "Resolution");
    if (res !== undefined) {
      next.width = Number(tag(res, "Width"));
      next.height = Number(tag(res, "Height"));
    }
    const rc = inner(conf, "RateControl");
    if (rc !== undefined) {
      if (tag(rc, "FrameRateLimit") !== undefined) next.fps = Number(tag(rc, "FrameRateLimit"));
      if (tag(rc, "BitrateLimit") !== undefined) next.bitrateKbps = Number(tag(rc, "BitrateLimit"));
      if (tag(rc, "EncodingInterval") !== undefined) next.encodingInterval = Number(tag(rc, "EncodingInterval"));
    }
    const h264 = inner(conf, "H264");
    if (h264 !== undefined && tag(h264, "GovLength") !== undefined) next.gop = Number(tag(h264, "GovLength"));
    if (h264 !== undefined && tag(h264, "H264Profile") !== undefined) next.h264Profile = tag(h264, "H264Profile")!;
    const fpsMax = next.encoding === "JPEG" ? Math.min(maxFps, 15) : maxFps;
    const ok =
      resolutions.some(([w, h]) => w === next.width && h === next.height) &&
      Number.isInteger(next.fps) && next.fps >= 1 && next.fps <= fpsMax &&
      next.bitrateKbps >= minKbps && next.bitrateKbps <= maxKbps &&
      next.gop >= minGop && next.gop <= maxGop &&
      next.encodingInterval === 1;
    if (ok && opts.frameRateCap !== undefined) next.fps = Math.min(next.fps, opts.frameRateCap);
    return ok ? next : null;
  }

  const usedNonces = new Set<string>();
  /**
   * WS-Security UsernameToken digest check (OASIS UsernameToken Profile 1.0, section 3.1), with
   * its replay protection: `Created` within 5 minutes of the device's clock, each nonce once.
   */
  function authorised(body: string): boolean {
    const token = inner(body, "UsernameToken");
    if (!token) return false;
    const name = tag(token, "Username");
    const digest = tag(token, "Password");
    const nonce = tag(token, "Nonce");
    const created = tag(token, "Created");
    if (name !== user || !digest || !nonce || !created) return false;
    if (!(Math.abs(Date.parse(created) - Date.now()) <= 5 * 60_000) || usedNonces.has(nonce)) return false;
    usedNonces.add(nonce);
    const expected = createHash("sha1")
      .update(Buffer.concat([Buffer.from(nonce, "base64"), Buffer.from(created, "utf8"), Buffer.from(password, "utf8")]))
      .digest("base64");
    return expected === digest;
  }

  const PRE_AUTH = new Set(["GetSystemDateAndTime", "GetServices", "GetCapabilities"]);

  async function answer(op: string, body: string): Promise<{ status: number; xml: string }> {
    const ok = (xml: string) => ({ status: 200, xml: envelope(xml) });
    switch (op) {
      case "GetSystemDateAndTime": {
        const d = new Date();
        return ok(
          `<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:DateTimeType>NTP</tt:DateTimeType>` +
            `<tt:DaylightSavings>false</tt:DaylightSavings><tt:TimeZone><tt:TZ>UTC0</tt:TZ></tt:TimeZone>` +
            `<tt:UTCDateTime><tt:Time><tt:Hour>${d.getUTCHours()}</tt:Hour><tt:Minute>${d.getUTCMinutes()}</tt:Minute>` +
            `<tt:Second>${d.getUTCSeconds()}</tt:Second></tt:Time><tt:Date><tt:Year>${d.getUTCFullYear()}</tt:Year>` +
            `<tt:Month>${d.getUTCMonth() + 1}</tt:Month><tt:Day>${d.getUTCDate()}</tt:Day></tt:Date></tt:UTCDateTime>` +
            `</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>`,
        );
      }
      case "GetServices":
        return ok(
          `<tds:GetServicesResponse>` +
            service("http://www.onvif.org/ver10/device/wsdl", "/onvif/device_service", 2, 60) +
            (opts.media2Only
              ? service("http://www.onvif.org/ver20/media/wsdl", "/onvif/media2_service", 2, 60)
              : service("http://www.onvif.org/ver10/media/wsdl", "/onvif/media_service", 2, 60)) +
            (opts.imaging === false ? "" : service("http://www.onvif.org/ver20/imaging/wsdl", "/onvif/imaging_service", 2, 60)) +
            `</tds:GetServicesResponse>`,
        );
      case "GetCapabilities":
        return ok(
          `<tds:GetCapabilitiesResponse><tds:Capabilities>` +
            `<tt:Device><tt:XAddr>${base}/onvif/device_service</tt:XAddr></tt:Device>` +
            `<tt:Media><tt:XAddr>${base}/onvif/media_service</tt:XAddr><tt:StreamingCapabilities><tt:RTPMulticast>false</tt:RTPMulticast>` +
            `<tt:RTP_TCP>true</tt:RTP_TCP><tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP></tt:StreamingCapabilities></tt:Media>` +
            `</tds:Capabilities></tds:GetCapabilitiesResponse>`,
        );
      case "GetDeviceInformation":
        return ok(
          `<tds:GetDeviceInformationResponse><tds:Manufacturer>${opts.manufacturer ?? "Acme Vision"}</tds:Manufacturer>` +
            `<tds:Model>${opts.model ?? "AV-IPC4000"}</tds:Model><tds:FirmwareVersion>${opts.firmware ?? "V5.7.3 build 230512"}</tds:FirmwareVersion>` +
            `<tds:SerialNumber>${opts.serial ?? "AV4000-20230512-0042"}</tds:SerialNumber><tds:HardwareId>88</tds:HardwareId>` +
            `</tds:GetDeviceInformationResponse>`,
        );
      case "GetProfiles":
        return ok(
          `<trt:GetProfilesResponse>${profileXml("Profile_1", "mainStream", "VideoEncoder_1", main)}` +
            `${profileXml("Profile_2", "subStream", "VideoEncoder_2", sub)}</trt:GetProfilesResponse>`,
        );
      case "GetVideoSources":
        return ok(
          `<trt:GetVideoSourcesResponse><trt:VideoSources token="VideoSource_1"><tt:Framerate>${maxFps}</tt:Framerate>` +
            `<tt:Resolution><tt:Width>${resolutions[0]![0]}</tt:Width><tt:Height>${resolutions[0]![1]}</tt:Height></tt:Resolution>` +
            `</trt:VideoSources></trt:GetVideoSourcesResponse>`,
        );
      case "GetVideoEncoderConfiguration": {
        const token = tag(body, "ConfigurationToken");
        const c = token === "VideoEncoder_1" ? main : token === "VideoEncoder_2" ? sub : null;
        if (!c) return { status: 400, xml: fault("env:Sender", ["ter:InvalidArgVal", "ter:NoConfig"], "The requested configuration does not exist") };
        return ok(
          `<trt:GetVideoEncoderConfigurationResponse><trt:Configuration token="${token}">${encoderXml(token!, c)}</trt:Configuration>` +
            `</trt:GetVideoEncoderConfigurationResponse>`,
        );
      }
      case "GetVideoEncoderConfigurationOptions":
        return ok(
          `<trt:GetVideoEncoderConfigurationOptionsResponse><trt:Options>` +
            `<tt:QualityRange>${range(1, 6)}</tt:QualityRange><tt:JPEG>${jpegOptions}</tt:JPEG><tt:H264>${h264Options}</tt:H264>` +
            `<tt:Extension><tt:JPEG>${jpegOptions}<tt:BitrateRange>${range(minKbps, maxKbps)}</tt:BitrateRange></tt:JPEG>` +
            `<tt:H264>${h264Options}<tt:BitrateRange>${range(minKbps, maxKbps)}</tt:BitrateRange></tt:H264></tt:Extension>` +
            `</trt:Options></trt:GetVideoEncoderConfigurationOptionsResponse>`,
        );
      case "SetVideoEncoderConfiguration": {
        const token = /<(?:\w+:)?Configuration\s[^>]*token="([^"]+)"/.exec(body)?.[1];
        const target = token === "VideoEncoder_1" ? main : token === "VideoEncoder_2" ? sub : null;
        if (!target) return { status: 400, xml: fault("env:Sender", ["ter:InvalidArgVal", "ter:NoConfig"], "The requested configuration does not exist") };
        const next = parseSet(body, target);
        if (!next) {
          return { status: 400, xml: fault("env:Sender", ["ter:InvalidArgVal", "ter:ConfigModify"], "The configuration parameters are not possible to set") };
        }
        Object.assign(target, next);
        if (target === main) await opts.onMainConfigured?.({ ...main });
        return ok(`<trt:SetVideoEncoderConfigurationResponse/>`);
      }
      case "GetOptions":
        return ok(
          `<timg:GetOptionsResponse><timg:ImagingOptions><tt:WideDynamicRange><tt:Mode>OFF</tt:Mode><tt:Mode>ON</tt:Mode>` +
            `<tt:Level>${range(0, 100)}</tt:Level></tt:WideDynamicRange></timg:ImagingOptions></timg:GetOptionsResponse>`,
        );
      default:
        return { status: 400, xml: fault("env:Receiver", ["ter:ActionNotSupported"], "Optional Action Not Implemented") };
    }
  }

  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const body = await req.text();
      // the operation is the first element of the SOAP Body
      const op = /<(?:\w+:)?Body[^>]*>\s*<(?:\w+:)?(\w+)/.exec(body)?.[1] ?? "";
      requests.push(op);
      let res: { status: number; xml: string };
      if (new URL(req.url).pathname === "/onvif/media2_service") {
        res = { status: 400, xml: fault("env:Receiver", ["ter:ActionNotSupported"], "Optional Action Not Implemented") };
      } else if (!PRE_AUTH.has(op) && !authorised(body)) {
        unauthorized.push(op);
        res = { status: 400, xml: fault("env:Sender", ["ter:NotAuthorized"], "Sender not Authorized") };
      } else {
        res = await answer(op, body);
      }
      return new Response(res.xml, { status: res.status, headers: { "content-type": "application/soap+xml; charset=utf-8" } });
    },
  });
  base = `http://127.0.0.1:${server.port}`;
  return {
    url: `${base}/onvif/device_service`,
    port: server.port as number,
    main,
    requests,
    unauthorized,
    stop: () => server.stop(true),
  };
}
