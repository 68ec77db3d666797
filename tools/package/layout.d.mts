// Types of layout.mjs for the TypeScript tests (test/packaging/package.test.ts).
export type DebianArch = 'amd64' | 'arm64';
export const NODE_ARCH: Readonly<Record<DebianArch, string>>;
export const ELF_MACHINE: Readonly<Record<DebianArch, number>>;
export const INSTALL: Readonly<{ lib: string; command: string; units: string; udev: string; etc: string }>;
export const CONFFILES: readonly string[];
export const UNITS: readonly string[];
export const MAINTAINER_SCRIPTS: readonly string[];
export const NATIVE_DEPENDS: string;
export function debianVersion(semver: string): string;
export function controlText(template: string, o: { version: string; arch: string; installedSizeKiB: number }): string;
export function parseControl(text: string): Record<string, string>;
export function keepBuildFile(rel: string): boolean;
export function dropModuleFile(rel: string, arch: DebianArch): boolean;
export function treeSizeKiB(dir: string): number;
export function stageTree(o: { repoRoot: string; modulesDir: string | undefined; out: string; version: string; arch: DebianArch; buildDir?: string }): { out: string; control: string };
export function elfMachine(file: string): number | undefined;
export function nativeModules(dir: string, arch: DebianArch): { file: string; machine: number | undefined; ok: boolean }[];
