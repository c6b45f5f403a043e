// Origins: the stack of the call that started a wait, recorded only while origins are on, and
// the frames of it that are the user's (unwedge's own and Node's are left out).
import { dirname, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { flags, type Origin, shared } from './track.js';

/**
 * Records the stack of the current call (above the frame of `above`) as the origin of the wait
 * `key`, when origins are on.
 */
export function recordOrigin(key: object, above?: Function): void {
  if (flags.origins) shared.origins.set(key, captureOrigin(above));
}

/** The origin recorded for the wait `key`, if any. */
export function originOf(key: object): Origin | undefined {
  return shared.origins.get(key);
}

function captureOrigin(above?: Function): Origin {
  const holder: { stack?: string } = {};
  const limit = Error.stackTraceLimit;
  // unwedge's own frames and Node's are trimmed later: leave room for the user's behind them
  // (each frame costs: ~2.9 µs a capture with 20, ~4.4 µs with 40, on the bench machine).
  Error.stackTraceLimit = 20;
  Error.captureStackTrace(holder, above);
  Error.stackTraceLimit = limit;
  return holder;
}

/**
 * unwedge's own directory, in both the forms a stack frame names files in, from a frame of one of
 * its modules: the directory above core/ when run from source (src/), or the directory of the
 * bundle (dist/). Read from a stack frame, which works in ESM and CJS alike.
 */
export function libraryRoots(frame: string): string[] {
  const match = /\(?((?:file:\/\/)?[^()\s]+?):\d+:\d+\)?$/.exec(frame.trim());
  if (match === null) return [];
  let file = match[1]!;
  if (file.startsWith('file://')) file = fileURLToPath(file);
  let dir = dirname(file);
  if (/[\\/]core$/.test(dir)) dir = dirname(dir);
  const withSlash = `${dir}${sep}`;
  return [withSlash, pathToFileURL(withSlash).href];
}

for (const root of libraryRoots(new Error().stack?.split('\n')[1] ?? '')) shared.roots.add(root);

/**
 * The user's frames of an origin: its `at …` lines without Node's internals and unwedge's own
 * files. If that leaves nothing (unwedge bundled into the app's own file), every frame but Node's.
 */
export function originFrames(origin: Origin | undefined): string[] {
  const stack = origin?.stack;
  if (stack === undefined) return [];
  const frames: string[] = [];
  const all: string[] = [];
  for (const raw of stack.split('\n')) {
    const line = raw.trim();
    if (!line.startsWith('at ')) continue;
    // Node's own frames, and those with no file (`at new Promise (<anonymous>)`).
    if (line.includes('node:internal') || line.includes('(node:') || line.endsWith('(<anonymous>)')) continue;
    all.push(line);
    let own = false;
    for (const root of shared.roots) if (line.includes(root)) own = true;
    if (!own) frames.push(line);
  }
  return frames.length > 0 ? frames : all;
}
