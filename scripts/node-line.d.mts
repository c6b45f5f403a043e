// Types for scripts/node-line.mjs, which bench/run.ts imports.
export declare function versionOf(bin: string): string | undefined;
export declare function cachedBinary(major: number | string): { prefix: string; node: string };
export declare function nodeLine(
  major: number | string,
  options?: { tag?: string; log?: (line: string) => void },
): { node: string; version: string };
