// How every message says a number of things, so that none says "1 permits".

/** `1 permit`, `2 permits`, `0 permits`: `n` and `noun`, plural unless `n` is 1. */
export function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
