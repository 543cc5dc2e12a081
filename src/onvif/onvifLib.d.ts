/**
 * The parts of the `onvif` npm package (agsh/onvif, CommonJS, no bundled types) that
 * src/onvif uses. Callbacks follow the library: `(err, value, xml)` with `this` the camera.
 */
declare module "onvif" {
  import { EventEmitter } from "node:events";

  type Callback<T> = (err: Error | null, value: T, xml?: string) => void;

  export interface CamOptions {
    hostname: string;
    port?: number;
    path?: string;
    username?: string;
    password?: string;
    timeout?: number;
    useSecure?: boolean;
    autoconnect?: boolean;
    preserveAddress?: boolean;
  }

  export class Cam extends EventEmitter {
    constructor(options: CamOptions, callback?: (err: Error | null) => void);
    uri?: Record<string, unknown>;
    media2Support?: boolean;
    profiles?: any[];
    defaultProfile?: any;
    getActiveSources(): void;
    connect(callback: (err: Error | null) => void): void;
    getDeviceInformation(callback: Callback<any>): void;
    getProfiles(callback: Callback<any[]>): void;
    getVideoEncoderConfiguration(token: string, callback: Callback<any>): void;
    getVideoEncoderConfigurationOptions(options: { configurationToken?: string; profileToken?: string }, callback: Callback<any>): void;
    setVideoEncoderConfiguration(options: any, callback: Callback<any>): void;
    getVideoSourceOptions(options: { token?: string }, callback: Callback<any>): void;
  }
}
