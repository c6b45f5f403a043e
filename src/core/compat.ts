// The disposal symbols, for `using` and `await using`. Node 20.20, 22, 24 and 26 all define both
// (checked with each binary); the fallback is the registered symbol that TypeScript's lowering of
// `using` and core-js polyfills use, for a runtime that predates them.

/** `Symbol.dispose`, or the registered `Symbol.for('Symbol.dispose')`. */
export const disposeSymbol: typeof Symbol.dispose = Symbol.dispose ?? Symbol.for('Symbol.dispose');

/** `Symbol.asyncDispose`, or the registered `Symbol.for('Symbol.asyncDispose')`. */
export const asyncDisposeSymbol: typeof Symbol.asyncDispose =
  Symbol.asyncDispose ?? Symbol.for('Symbol.asyncDispose');
