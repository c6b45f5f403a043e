// A generated page written by more than one script (docs/reliability.md: `npm run load` and
// `npm run faults`): each owns the part between its two markers and leaves the rest as it is.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';

/**
 * Puts `body` between `<!-- name:begin -->` and `<!-- name:end -->` in `file`, replacing what was
 * there; appends the marked part if the page has none yet, and makes the page (headed `title`) if
 * there is none.
 */
export function writeSection(file: URL, title: string, name: string, body: string): string {
  const begin = `<!-- ${name}:begin -->`;
  const end = `<!-- ${name}:end -->`;
  const part = `${begin}\n${body.trim()}\n${end}`;
  const page = existsSync(file) ? readFileSync(file, 'utf8') : `# ${title}\n`;
  const from = page.indexOf(begin);
  const to = page.indexOf(end);
  const next =
    from === -1 || to < from
      ? `${page.trimEnd()}\n\n${part}\n`
      : `${page.slice(0, from)}${part}${page.slice(to + end.length)}`;
  writeFileSync(file, next);
  return next;
}

/** The page's machine line: cores × model, the Node version, today's date. */
export function machineLine(): string {
  const cpus = os.cpus();
  return `${cpus.length} × ${cpus[0]?.model ?? 'cpu'}, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`;
}
