// Types for env.mjs, which stays plain JavaScript because it runs before npm packages exist.
export const root: string;
export const TORCH_VERSION: string;
export const cacheDir: string;
export const basePython: string;
export function pythonEnvDir(): string;
export function requirementsHash(): string;
export const venvPython: string;
export function libtorchDir(): string;
export function cargoTargetDir(): string;
export function nativeBuildEnv(): NodeJS.ProcessEnv;
export const bundledModelName: string;
export function bundledModelDir(): string;
export const chromiumPath: string;
export function foldJobBinary(): string;
export function rayStamp(): string;
